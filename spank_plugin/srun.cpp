// SPDX-License-Identifier: GPL-2.0-or-later
// S_CTX_LOCAL: srun. A new allocation (srun outside a job) carries the intent like sbatch; a step inside an
// existing job passes the option on to slurmstepd (stepd.cpp), which marks the job.
//
// A step inside an allocation that asked for auto-resume is also retried here, in place (docs/in-place.md):
// when one of its nodes fails, the controller ends the step, swaps the node for a healthy one inside the same
// job and writes `autoresume_swap=N:ready:STEPS` into the job's AdminComment (root-only: users cannot forge it).
// This srun, on its way out, finds its step among STEPS and runs its own command line again (exec of the same
// binary with the same arguments), with the job's new node list in its environment: the batch script sees one
// srun that took longer, the lines before and after it run once.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "intent_writer.hpp"
#include "plugin.hpp"

namespace autoresume::plugin {
namespace {

// How long srun waits for a swap under way: the controller's own bound (InPlaceWait) ends a swap that cannot
// complete with a fallback to requeue well before this; this bound only matters if the controller is gone.
constexpr auto kSwapWaitAtMost = std::chrono::minutes(20);

struct RetryPlan {
  uint32_t job_id = 0;
  uint32_t step_id = 0;
  std::vector<std::string> argv;  // srun's own command line, as the kernel has it
};

RetryPlan& plan() {
  static RetryPlan p;
  return p;
}

std::vector<std::string> own_command_line() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> argv;
  size_t start = 0;
  for (size_t i = 0; i < all.size(); ++i)
    if (all[i] == '\0') {
      argv.push_back(all.substr(start, i - start));
      start = i + 1;
    }
  return argv;
}

bool lists(const SwapState& s, uint32_t step) { return std::find(s.steps.begin(), s.steps.end(), step) != s.steps.end(); }

void say(const char* fmt, const std::string& a, const std::string& b = "") {
  std::fprintf(stderr, "srun: auto_resume: ");
  std::fprintf(stderr, fmt, a.c_str(), b.c_str());
  std::fputc('\n', stderr);
}

// Runs at srun's exit (atexit; srun calls no SPANK exit callback for a step inside an allocation). Returns
// unless this step was ended by a swap that completed: then it does not return.
void retry_in_place() {
  const RetryPlan& p = plan();
  std::string step = std::to_string(p.job_id) + "." + std::to_string(p.step_id);
  auto deadline = std::chrono::steady_clock::now() + kSwapWaitAtMost;
  bool announced = false;
  for (;;) {
    auto job = read_job(p.job_id);
    if (!job) return;  // slurmctld unreachable: srun exits with its own status, as without the plugin
    auto swap = parse_swap(job->admin_comment);
    if (!swap || !lists(*swap, p.step_id)) return;  // not ended by a swap: nothing to retry
    if (swap->stage == SwapState::Stage::Requeue) {
      say("step %s: no in-place retry (%s); the whole job is requeued", step, "the controller fell back to requeue");
      return;
    }
    if (swap->stage == SwapState::Stage::Ready && job->running) {
      say("step %s: node swapped in place, running the step again on %s", step, job->nodes);
      std::string retries = std::to_string(swap->number);
      setenv("SLURM_JOB_NODELIST", job->nodes.c_str(), 1);
      setenv("SLURM_NODELIST", job->nodes.c_str(), 1);
      setenv("SLURM_JOB_NUM_NODES", std::to_string(job->num_nodes).c_str(), 1);
      setenv("SLURM_NNODES", std::to_string(job->num_nodes).c_str(), 1);
      setenv(kStepRetriesVar, retries.c_str(), 1);
      std::vector<char*> argv;
      for (const auto& a : p.argv) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      std::fflush(nullptr);
      execv("/proc/self/exe", argv.data());
      say("step %s: could not run srun again: %s", step, std::strerror(errno));
      return;
    }
    if (!job->running || std::chrono::steady_clock::now() > deadline) {
      say("step %s: %s", step, job->running ? "the swap did not complete in time; not retried" : "the job is no longer running");
      return;
    }
    if (!announced) say("step %s: lost a node; waiting for the node swap%s", step);
    announced = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

}  // namespace

int srun_init_post_opt(spank_t sp) {
  state().srun_in_allocation = std::getenv("SLURM_JOB_ID") != nullptr || std::getenv("SLURM_JOBID") != nullptr;
  return publish_intent(sp, "srun");
}

int srun_local_user_init(spank_t sp) {
  // Only a step that asked itself: what stepd records as an in-place intent (a site default or the allocation's
  // own flag means the whole job is requeued instead).
  const PluginState& s = state();
  bool asked = s.request.enabled.has_value() || s.request.max_attempts.has_value();
  if (!s.srun_in_allocation || !asked || !resolve_intent(s.site, s.request)) return 0;
  RetryPlan& p = plan();
  if (p.job_id != 0) return 0;  // arranged already (one retry per srun process)
  if (spank_get_item(sp, S_JOB_ID, &p.job_id) != ESPANK_SUCCESS ||
      spank_get_item(sp, S_JOB_STEPID, &p.step_id) != ESPANK_SUCCESS)
    return 0;
  p.argv = own_command_line();
  if (p.argv.empty()) return 0;
  // Registered from this shared object: glibc runs it at exit, or when the plugin is unloaded.
  if (std::atexit(retry_in_place) != 0) slurm_error("auto_resume: could not arrange the in-place retry of this step");
  return 0;
}

}  // namespace autoresume::plugin
