// SPDX-License-Identifier: GPL-2.0-or-later
#include "intent_writer.hpp"

#include <dlfcn.h>

#include "autoresume/slurm_compat.hpp"


namespace autoresume::plugin {
namespace {

namespace compat = slurm_compat;

// The functions' types come from this Slurm's own header (slurm_load_job takes a slurm_step_id_t since 26.05):
// the plugin is built for the Slurm that loads it.
struct SlurmApi {
  decltype(&slurm_load_job) load_job;
  decltype(&slurm_free_job_info_msg) free_job_info_msg;
  decltype(&slurm_init_job_desc_msg) init_job_desc_msg;
  decltype(&slurm_update_job) update_job;
  decltype(&slurm_strerror) strerror;
};

template <typename F>
bool resolve(F& f, const char* name) {
  f = reinterpret_cast<F>(dlsym(RTLD_DEFAULT, name));
  return f != nullptr;
}

const SlurmApi* slurm_api() {
  static const SlurmApi* api = [] {
    static SlurmApi a;
    bool ok = resolve(a.load_job, "slurm_load_job") && resolve(a.free_job_info_msg, "slurm_free_job_info_msg") &&
              resolve(a.init_job_desc_msg, "slurm_init_job_desc_msg") &&
              resolve(a.update_job, "slurm_update_job") &&
              resolve(a.strerror, "slurm_strerror");
    return ok ? &a : nullptr;
  }();
  return api;
}

Error slurm_failure(const SlurmApi& api, const char* call) {
  int code = compat::last_errno();
  return Error{code, std::string(call) + ": " + api.strerror(code)};
}

}  // namespace

Status record_intent(uint32_t job_id, const Intent& intent) {
  const SlurmApi* api = slurm_api();
  if (!api) return Error{0, "Slurm's API is not in this process (dlsym found no slurm_update_job)"};

  auto job = read_job(job_id);
  if (!job) return job.error();
  const std::string& current = job->admin_comment;
  bool needs_requeue_flag = job->batch && !job->requeue;

  std::string merged = merge_intent(current, intent_token(intent));
  if (merged == current && !needs_requeue_flag) return ok_status();

  job_desc_msg_t update;
  api->init_job_desc_msg(&update);
  compat::set_job_id(update, job_id);
  update.admin_comment = merged.data();
  // Only a requeue-able batch job can be resumed (ESLURM_BATCH_ONLY / --no-requeue); asking for auto-resume
  // means asking for that.
  if (needs_requeue_flag) update.requeue = 1;
  // Between the load and this update an operator may have changed AdminComment; the window is a few ms.
  if (api->update_job(&update) != SLURM_SUCCESS) return slurm_failure(*api, "slurm_update_job");
  return ok_status();
}

Result<JobView> read_job(uint32_t job_id) {
  const SlurmApi* api = slurm_api();
  if (!api) return Error{0, "Slurm's API is not in this process (dlsym found no slurm_load_job)"};
  job_info_msg_t* msg = nullptr;
  if (compat::load_job(api->load_job, &msg, job_id, SHOW_ALL) != SLURM_SUCCESS) return slurm_failure(*api, "slurm_load_job");
  if (msg->record_count == 0) {
    api->free_job_info_msg(msg);
    return Error{0, "slurm_load_job: job not found"};
  }
  const slurm_job_info_t& job = msg->job_array[0];
  JobView v;
  v.admin_comment = job.admin_comment ? job.admin_comment : "";
  v.nodes = job.nodes ? job.nodes : "";
  v.num_nodes = job.num_nodes;
  v.running = (job.job_state & JOB_STATE_BASE) == JOB_RUNNING;
  v.batch = job.batch_flag != 0;
  v.requeue = job.requeue != 0;
  api->free_job_info_msg(msg);
  return v;
}

}  // namespace autoresume::plugin
