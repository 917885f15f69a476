// SPDX-License-Identifier: GPL-2.0-or-later
// Jobs' progress (engine/progress.hpp): the start of each run and its first report (goodput's startup), hang
// detection, and what each failure cost (lost work, redone steps). docs/hangs-and-goodput.md.
//
// A hang is judged only on fresh reports: the agents of the job's nodes still send heartbeats with its progress
// (a silent agent is its own problem, engine/heartbeat_check.cpp), the newest progress of any rank is older than
// the job's hang timeout, and the job reported at least once in this run. Before the job is requeued, its nodes
// get a health check: none failed (the agents' verdicts, Slurm's states), none suspect, and each slurmd answers a
// probe; a dead one is set DOWN, and the job is recovered as that node's failure on the next tick.
#include <algorithm>
#include <cstdio>

#include "engine/controller.hpp"
#include "util/log.hpp"

namespace autoresume {

void Controller::observe_progress(JobRecord& r, const Job& j) {
  if (j.state != JobState::Running || j.start_time == 0) return;
  auto start = static_cast<double>(j.start_time);
  if (start != r.run_start) {  // a new run: its progress starts from nothing
    r.run_start = start;
    r.first_report = 0;
    if (r.first_start == 0) r.first_start = start;
    progress_now_.erase(r.job_id);
  }
  if (!progress_) return;
  auto view = progress_->merged(r.job_id, r.run_start);
  if (!view) {
    progress_now_.erase(r.job_id);
    return;
  }
  progress_now_[r.job_id] = *view;
  if (r.first_report == 0) {
    r.first_report = view->at;
    r.startup += std::max(0.0, view->at - r.run_start);
  }
}

double Controller::hang_of(const JobRecord& r, const Job& j, double now, double& timeout) {
  timeout = r.hang_timeout >= 0 ? static_cast<double>(r.hang_timeout) : static_cast<double>(config_.hang_timeout.count());
  auto it = progress_now_.find(r.job_id);
  if (timeout <= 0 || it == progress_now_.end()) return 0;  // off, or it never reported in this run
  const JobProgressView& v = it->second;
  double reporting = silent_after() + static_cast<double>(config_.poll_interval.count()) / 1000.0;
  if (now - v.received > reporting) return 0;
  double quiet = now - v.at;
  if (quiet <= timeout) return 0;
  for (const auto& node : j.nodes)
    if (failed_.count(node) || suspects_.count(node)) return 0;  // a node failure: recovered as one
  for (const auto& node : j.nodes) {
    auto answers = slurm_.slurmd_answers(node);
    if (!answers) return 0;  // cannot tell: asked again next tick
    if (!*answers) {
      std::string reason = std::string(kReasonPrefix) + " slurmd not responding (probe refused) under a hung job";
      act("down", node, reason, [&] { return slurm_.down_node(node, reason); });
      return 0;
    }
  }
  return quiet;
}

void Controller::account_failure(JobRecord& r, double failure_at) {
  if (r.first_report == 0 || !progress_) return;  // no progress in this run: its lost work is not known
  auto view = progress_->merged(r.job_id, r.run_start);
  if (!view) return;
  double since = r.run_start;
  uint64_t checkpoint_step = 0;
  if (view->checkpoint) {
    checkpoint_step = view->checkpoint->step;
    since = std::max(since, view->checkpoint->at);
  }
  double lost = std::max(0.0, failure_at - since);
  uint64_t redone = view->step > checkpoint_step ? view->step - checkpoint_step : 0;
  r.lost_work += lost;
  r.redone_steps += redone;
  r.first_report = 0;
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.1f", lost);
  log(LogLevel::Info, "lost_work", {{"job", std::to_string(r.job_id)}, {"seconds", secs},
                                    {"step", std::to_string(view->step)}, {"checkpoint_step", std::to_string(checkpoint_step)}});
  if (observer_) observer_->on_lost_work(lost, redone);
}

void Controller::forget_progress(uint32_t job_id) {
  progress_now_.erase(job_id);
  if (progress_) progress_->forget(job_id);
}

}  // namespace autoresume
