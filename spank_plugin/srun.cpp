// SPDX-License-Identifier: GPL-2.0-or-later
// S_CTX_LOCAL: srun. A new allocation (srun outside a job) carries the intent like sbatch; a step inside an
// existing job passes the option on to slurmstepd (stepd.cpp), which marks the job.
//
// A step inside an allocation that asked for auto-resume is also retried here, in place (docs/in-place.md):
// when one of its nodes fails, the controller ends the step, swaps the node for a healthy one inside the same
// job and writes `autoresume_swap=N:ready:STEPS` into the job's AdminComment (root-only: users cannot forge it).
// This srun, on its way out, finds its step among STEPS and runs its own command line again (exec of the same
// binary with the same arguments), with the job's new node list in its environment: the batch script sees one
// srun that took longer, the lines before and after it run once. The controller also sends kSwapReadySignal to the
// batch script's process group when the swap is ready: a watcher thread here then runs the step again at once,
// without waiting for srun's own abort wait for the dead node's tasks (KillWait + 2 s) to end.
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <csignal>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
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

// Only one path runs the step again: the exit path or the watcher, whichever finds the swap ready first.
std::atomic<bool> running_again{false};

// Runs srun's own command line again on the job's new nodes; returns only if that could not be done.
void run_again(const JobView& job, const SwapState& swap, const std::string& step) {
  if (running_again.exchange(true)) {  // the other path is doing it: its exec ends this thread too
    std::this_thread::sleep_for(std::chrono::seconds(10));
    return;
  }
  const RetryPlan& p = plan();
  say("step %s: node swapped in place, running the step again on %s", step, job.nodes);
  // The environment for the new srun, built here rather than with setenv (another thread of srun may read it).
  const std::vector<std::pair<std::string, std::string>> set = {
      {"SLURM_JOB_NODELIST", job.nodes},
      {"SLURM_NODELIST", job.nodes},
      {"SLURM_JOB_NUM_NODES", std::to_string(job.num_nodes)},
      {"SLURM_NNODES", std::to_string(job.num_nodes)},
      {kStepRetriesVar, std::to_string(swap.number)}};
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    bool replaced = std::any_of(set.begin(), set.end(), [&](const auto& v) {
      return kv.size() > v.first.size() && kv.substr(0, v.first.size()) == v.first && kv[v.first.size()] == '=';
    });
    if (!replaced) env.emplace_back(kv);
  }
  for (const auto& [k, v] : set) env.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<char*> argv;
  for (const auto& a : p.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::fflush(nullptr);
  execve("/proc/self/exe", argv.data(), envp.data());
  say("step %s: could not run srun again: %s", step, std::strerror(errno));
  running_again = false;
}

std::string step_name() {
  const RetryPlan& p = plan();
  return std::to_string(p.job_id) + "." + std::to_string(p.step_id);
}

// Runs at srun's exit (atexit; srun calls no SPANK exit callback for a step inside an allocation). Returns
// unless this step was ended by a swap that completed: then it does not return.
void retry_in_place() {
  const RetryPlan& p = plan();
  std::string step = step_name();
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
      run_again(*job, *swap, step);
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

// The controller's wake-up (kSwapReadySignal): the handler only writes to a pipe, the watcher thread reads the job.
int wake_pipe[2] = {-1, -1};

void on_swap_ready_signal(int) {
  int saved = errno;
  char c = 0;
  [[maybe_unused]] ssize_t n = write(wake_pipe[1], &c, 1);  // a full pipe already holds a wake-up
  errno = saved;
}

void* watch_for_swap(void*) {
  sigset_t mine;
  sigemptyset(&mine);
  sigaddset(&mine, kSwapReadySignal);
  pthread_sigmask(SIG_UNBLOCK, &mine, nullptr);  // srun's other threads block it (set before they started)
  const RetryPlan& p = plan();
  char buf[64];
  for (;;) {
    ssize_t n = read(wake_pipe[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return nullptr;
    // The signal is for every srun of the script: act only if the swap is ready and lists this step.
    auto job = read_job(p.job_id);
    if (!job || !job->running) continue;
    auto swap = parse_swap(job->admin_comment);
    if (swap && swap->stage == SwapState::Stage::Ready && lists(*swap, p.step_id)) run_again(*job, *swap, step_name());
  }
}

// The watcher: a pipe, the handler, and a thread that is the one to take the signal (srun's threads started
// after this inherit the main thread's mask, which now blocks it). Without it, the exit path still retries.
void arrange_swap_watch() {
  if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return;
  int flags = fcntl(wake_pipe[0], F_GETFL);
  fcntl(wake_pipe[0], F_SETFL, flags & ~O_NONBLOCK);  // the thread blocks on reading; the handler never does
  struct sigaction sa {};
  sa.sa_handler = on_swap_ready_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  if (sigaction(kSwapReadySignal, &sa, nullptr) != 0) return;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t thread;
  if (pthread_create(&thread, &attr, watch_for_swap, nullptr) == 0) {
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, kSwapReadySignal);
    pthread_sigmask(SIG_BLOCK, &block, nullptr);
  }
  pthread_attr_destroy(&attr);
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
  arrange_swap_watch();
  return 0;
}

}  // namespace autoresume::plugin
