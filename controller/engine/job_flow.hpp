// SPDX-License-Identifier: GPL-2.0-or-later
// The Slurm jobs metrics, from the controller's own sweeps of the job table (no exporter of its own): jobs by
// state, partition and user now; jobs ended since the start, by end state, partition and user; and the queue
// wait (eligible to start) of each job that started, per partition. Slurm's start and end times are whole
// seconds and a sweep may be answered again unchanged, so each start and end is counted once by keeping, beside
// the newest second seen, the ids seen at that second.
#pragma once

#include <cstdint>
#include <ctime>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "model/cluster.hpp"

namespace autoresume {

using JobKey = std::tuple<JobState, std::string, uint32_t>;  // state, partition, user id

struct QueueWaits {
  std::vector<uint64_t> buckets;  // cumulative counts at or below each bound of JobFlow::wait_bounds()
  double sum = 0;
  uint64_t count = 0;
};

struct JobFlowTotals {
  std::map<JobKey, uint32_t> active;              // pending, running, suspended: as of the last sweep
  std::map<JobKey, uint64_t> ended;               // since the controller started
  std::map<std::string, QueueWaits> queue_waits;  // per partition, since the controller started
};

class JobFlow {
 public:
  static const std::vector<double>& wait_bounds();
  // Starts and ends before `now` are history (the controller's first sweep): not counted.
  void begin(std::time_t now);
  // What the next sweep should list (JobSweepFilter::transitions_since); 0 before begin().
  std::time_t since() const;
  void add(const JobSweep& sweep);
  const JobFlowTotals& totals() const { return totals_; }

 private:
  struct Mark {
    std::time_t at = 0;
    std::set<uint32_t> ids;  // seen at `at`
    bool fresh(const JobTransition& t) const { return t.at > at || (t.at == at && !ids.count(t.id)); }
    void seen(const JobTransition& t);
  };
  Mark started_, ended_;
  JobFlowTotals totals_;
};

}  // namespace autoresume
