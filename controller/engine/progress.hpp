// SPDX-License-Identifier: GPL-2.0-or-later
// Jobs' progress as the agents report it with their heartbeats (POST /v1/nodes/NAME/heartbeat, body
// {"jobs": [...]}, docs/hangs-and-goodput.md): written by the HTTP threads, read by the loop thread. One entry
// per job and node, only for jobs the controller watches (the API checks), dropped when the job's watch ends:
// its size is bounded by the watched jobs' nodes, whatever the jobs' ranks or steps.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "autoresume/progress.hpp"

namespace autoresume {

// What one node's agent says of one job.
struct ProgressReport {
  uint64_t step = 0;   // the highest step of the job's ranks on that node
  double at = 0;       // their newest report (the node's clock, unix seconds)
  unsigned ranks = 0;
  std::optional<Report> checkpoint;  // the job's latest finished checkpoint, if it said
  double received = 0;  // when the controller got it (its clock)
};

// A job's progress in one run, every node's report merged.
struct JobProgressView {
  uint64_t step = 0;          // the highest step reported in this run
  double at = 0;              // the newest progress in this run
  unsigned ranks = 0;
  std::optional<Report> checkpoint;  // the newest checkpoint, of this run or an earlier one
  double received = 0;        // the newest report received (of this run or not): are the agents still reporting?
  bool operator==(const JobProgressView&) const = default;
};

class ProgressBoard {
 public:
  void report(const std::string& node, uint32_t job, const ProgressReport& r) {
    std::lock_guard lock(mutex_);
    by_job_[job][node] = r;
  }
  // The reports of the run that started at `run_start` (earlier runs' progress is not this run's), merged;
  // nullopt while the job has none. `received` covers every report: an agent reporting only old progress is still
  // reporting.
  std::optional<JobProgressView> merged(uint32_t job, double run_start) const {
    std::lock_guard lock(mutex_);
    auto it = by_job_.find(job);
    if (it == by_job_.end()) return std::nullopt;
    JobProgressView v;
    bool any = false;
    for (const auto& [node, r] : it->second) {
      v.received = std::max(v.received, r.received);
      if (r.checkpoint && (!v.checkpoint || r.checkpoint->at > v.checkpoint->at)) v.checkpoint = r.checkpoint;
      if (r.at < run_start) continue;
      any = true;
      v.step = std::max(v.step, r.step);
      v.at = std::max(v.at, r.at);
      v.ranks += r.ranks;
    }
    if (!any) return std::nullopt;
    return v;
  }
  void forget(uint32_t job) {
    std::lock_guard lock(mutex_);
    by_job_.erase(job);
  }
  size_t jobs() const {
    std::lock_guard lock(mutex_);
    return by_job_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::map<uint32_t, std::map<std::string, ProgressReport>> by_job_;
};

}  // namespace autoresume
