// SPDX-License-Identifier: GPL-2.0-or-later
// S_CTX_REMOTE: slurmstepd, once per step per node.
#include <slurm/slurm.h>
#include <strings.h>

#include <charconv>
#include <chrono>
#include <cstring>
#include <string>

#include "autoresume/progress.hpp"
#include "intent_writer.hpp"
#include "progress_dir.hpp"
#include "plugin.hpp"

namespace autoresume::plugin {
namespace {

std::string job_env(spank_t sp, const char* name) {
  char buf[256];
  if (spank_getenv(sp, name, buf, sizeof buf) != ESPANK_SUCCESS) return "";
  return buf;
}

// The allocation's intent as published by sbatch/salloc/srun (job-control environment), if any. This runs as root
// and the job's environment is the user's: `SLURM_SPANK_AUTO_RESUME='1:max=4000000000' sbatch ...` puts the same
// variable there. So the claim is held to this site's configuration, as an option value would be.
std::optional<Intent> allocation_intent(spank_t sp) {
  std::string value = job_env(sp, "SLURM_SPANK_AUTO_RESUME");
  if (value.empty()) return std::nullopt;
  auto intent = revalidate_claimed_intent(state().site, value);
  if (!intent) {
    slurm_error("%s", intent.error().message.c_str());
    return std::nullopt;
  }
  return *intent;
}

// Whole-job restarts plus in-place retries of this step (kStepRetriesVar, set by the srun that ran it again).
// Both come from the job's environment: only what the job's own tasks are told, never what the budget counts.
unsigned attempt(spank_t sp) {
  auto number = [](const std::string& v) {
    unsigned n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    return ec == std::errc() && end == v.data() + v.size() && n < 100000 ? n : 0u;
  };
  return number(job_env(sp, "SLURM_RESTART_COUNT")) + number(job_env(sp, kStepRetriesVar));
}

template <typename T>
bool item(spank_t sp, spank_item_t what, T& out) {
  return spank_get_item(sp, what, &out) == ESPANK_SUCCESS;
}

bool step_asked(const PluginState& s) {
  return s.request.enabled.has_value() || s.request.max_attempts.has_value() || s.request.hang_timeout.has_value();
}

// The step's own flags, else what the allocation was submitted with, else the site default. What the tasks see.
std::optional<Intent> step_intent(spank_t sp) {
  const PluginState& s = state();
  if (step_asked(s)) return resolve_intent(s.site, s.request);
  if (auto from_allocation = allocation_intent(sp)) return from_allocation;
  return resolve_intent(s.site, s.request);
}

// What is written into AdminComment, the record the controller acts on. The batch step's options reach this
// slurmstepd from sbatch (Slurm forwards them with the job) and were parsed here, against this site's
// configuration: the batch step records only them, or the site default, never the bare environment claim, which
// is how a forged SLURM_SPANK_AUTO_RESUME is told apart from sbatch's (sbatch sets both). A step of an srun or
// salloc allocation without flags of its own has only the environment to go by, held to the site's limits.
std::optional<Intent> recorded_intent(spank_t sp, uint32_t step_id) {
  const PluginState& s = state();
  if (step_id != SLURM_BATCH_SCRIPT) {
    // A step that asked itself, in an allocation that did not: HyperPod's `srun --auto-resume=1` in a plain
    // batch script, retried in place (srun.cpp). Only the step's own option counts, never the environment.
    auto intent = step_intent(sp);
    if (intent && step_asked(s) && !allocation_intent(sp)) intent->in_place = true;
    return intent;
  }
  auto intent = resolve_intent(s.site, s.request);
  if (!intent && !step_asked(s) && !job_env(sp, "SLURM_SPANK_AUTO_RESUME").empty())
    slurm_error("auto_resume: the batch job's environment claims an auto-resume intent that sbatch did not give "
                "(no --auto-resume option reached the batch step): not recorded");
  return intent;
}

// Which step writes the intent into AdminComment, once per job and from node 0 only (a 1,000-node step must not
// send 1,000 updates): the batch step of a batch job; in a batch job without the flag, each step that asks
// (`srun --auto-resume=1`, HyperPod's form); in an srun or salloc allocation, its steps. Done here rather than in
// a job prolog: a plugin with slurm_spank_job_prolog makes slurmd fork and exec a `slurmstepd spank prolog` for
// every job on every node, which cost ~25 ms per srun (bench/plugin_overhead) whether or not the job asked.
bool writes_intent(spank_t sp, uint32_t step_id) {
  if (step_id == SLURM_BATCH_SCRIPT) return true;
  bool in_batch_job = job_env(sp, "ENVIRONMENT") == "BATCH";
  if (!in_batch_job) return true;
  return !allocation_intent(sp);  // else the batch step has written it already
}

// Whether an --export value sends the submitter's whole environment: ALL, alone or first in a list.
bool exports_all(const std::string& exported) {
  std::string first = exported.substr(0, exported.find(','));
  return strcasecmp(first.c_str(), "ALL") == 0;
}

// Slurm 22.05 `sbatch --export=NONE --auto-resume=1`: the batch step gets no option (take_forwarded_options says
// why) and would run without auto-resume. Taken from the job-control copy only when the environment was not
// exported whole: with ALL, a variable of that name may be the submitter's own environment (a job submitted from
// inside an auto-resume job carries its parent's), not what this job's sbatch forwarded. On releases whose
// slurmstepd receives the options itself, the request is already there and nothing is read.
void options_dropped_by_export(spank_t sp) {
  if (step_asked(state())) return;
  std::string exported = job_env(sp, "SLURM_EXPORT_ENV");
  if (exported.empty() || exports_all(exported)) return;
  if (take_forwarded_options([&](const std::string& var) { return job_env(sp, var.c_str()); }))
    slurm_info("auto_resume: batch step of a job submitted with --export=%s: options taken from sbatch's job-control "
               "environment", exported.c_str());
}

// On every node of a step whose tasks see an intent: the job's progress directory, owned by the job's user (made
// here because only root can; the tasks write their reports into it, the agent reads them).
void make_job_progress_dir(spank_t sp, uint32_t job_id) {
  uid_t uid = 0;
  gid_t gid = 0;
  if (!step_intent(sp) || !item(sp, S_JOB_UID, uid) || !item(sp, S_JOB_GID, gid)) return;
  auto dir = make_progress_dir(state().site.progress_dir, job_id, uid, gid);
  if (!dir)
    slurm_error("auto_resume: job %u: no progress directory (%s): its hangs are not detected on this node", job_id,
                dir.error().message.c_str());
}

}  // namespace

// Still root here (init_post_opt runs before slurmstepd drops privileges), which AdminComment requires.
int stepd_init_post_opt(spank_t sp) {
  uint32_t job_id = 0, step_id = 0, node_id = 0;
  if (!item(sp, S_JOB_ID, job_id) || !item(sp, S_JOB_STEPID, step_id) || !item(sp, S_JOB_NODEID, node_id)) return 0;
  if (step_id == SLURM_BATCH_SCRIPT) options_dropped_by_export(sp);
  if (step_id != SLURM_EXTERN_CONT) make_job_progress_dir(sp, job_id);
  if (step_id == SLURM_EXTERN_CONT || node_id != 0 || !writes_intent(sp, step_id)) return 0;
  auto intent = recorded_intent(sp, step_id);
  if (!intent) return 0;

  auto start = std::chrono::steady_clock::now();
  auto rc = record_intent(job_id, *intent);
  auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  // Never fail the step for this: the job runs, without auto-resume, and the slurmd log says why.
  if (!rc)
    slurm_error("auto_resume: job %u step %u: could not record auto-resume intent (%s, %.1f ms); the job runs "
                "without auto-resume",
                job_id, step_id, rc.error().message.c_str(), ms);
  return 0;
}

// What tasks see: AUTO_RESUME=1, AUTO_RESUME_ATTEMPT (0 on the first run, then Slurm's restart count: the batch
// environment has SLURM_RESTART_COUNT once it is > 0; S_SLURM_RESTART_COUNT is never set by Slurm),
// AUTO_RESUME_MAX_ATTEMPTS and AUTO_RESUME_PROGRESS_DIR (where autoresume-progress writes).
// A job without auto-resume submitted from inside one (`sbatch --auto-resume=0` in its script, the environment
// exported) carries that job's variables: its tasks must not be told they have auto-resume. The job-control
// variable beside them says they came from another job; a user's own AUTO_RESUME without it is left alone.
int stepd_task_init(spank_t sp) {
  auto intent = step_intent(sp);
  if (!intent) {
    if (!job_env(sp, "SLURM_SPANK_AUTO_RESUME").empty())
      for (const char* var : {"AUTO_RESUME", "AUTO_RESUME_ATTEMPT", "AUTO_RESUME_MAX_ATTEMPTS", kProgressDirVar})
        spank_unsetenv(sp, var);
    return 0;
  }
  uint32_t job_id = 0;
  if (item(sp, S_JOB_ID, job_id))
    spank_setenv(sp, kProgressDirVar, (state().site.progress_dir + "/" + std::to_string(job_id)).c_str(), 1);
  spank_setenv(sp, "AUTO_RESUME", "1", 1);
  spank_setenv(sp, "AUTO_RESUME_ATTEMPT", std::to_string(attempt(sp)).c_str(), 1);
  spank_setenv(sp, "AUTO_RESUME_MAX_ATTEMPTS", std::to_string(intent->max_attempts).c_str(), 1);
  return 0;
}

}  // namespace autoresume::plugin
