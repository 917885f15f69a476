// SPDX-License-Identifier: GPL-2.0-or-later
#include "engine/job_flow.hpp"

#include <algorithm>

namespace autoresume {

const std::vector<double>& JobFlow::wait_bounds() {
  static const std::vector<double> bounds = {1, 10, 30, 60, 300, 900, 1800, 3600, 7200, 14400, 43200, 86400};
  return bounds;
}

void JobFlow::begin(std::time_t now) {
  started_ = Mark{now, {}};
  ended_ = Mark{now, {}};
}

std::time_t JobFlow::since() const { return std::min(started_.at, ended_.at); }

void JobFlow::Mark::seen(const JobTransition& t) {
  if (t.at > at) at = t.at, ids.clear();
  if (t.at == at) ids.insert(t.id);
}

void JobFlow::add(const JobSweep& sweep) {
  totals_.active = sweep.active;
  if (since() == 0) return;
  // Marks move after the whole sweep: two transitions of one sweep at different seconds are both fresh.
  Mark started = started_, ended = ended_;
  for (const JobTransition& t : sweep.started) {
    if (!started_.fresh(t)) continue;
    started.seen(t);
    QueueWaits& w = totals_.queue_waits[t.partition];
    const auto& bounds = wait_bounds();
    if (w.buckets.empty()) w.buckets.assign(bounds.size(), 0);
    for (size_t i = 0; i < bounds.size(); ++i)
      if (t.waited <= bounds[i]) ++w.buckets[i];
    w.sum += t.waited;
    ++w.count;
  }
  for (const JobTransition& t : sweep.ended) {
    if (!ended_.fresh(t)) continue;
    ended.seen(t);
    ++totals_.ended[{t.state, t.partition, t.user_id}];
  }
  started_ = std::move(started), ended_ = std::move(ended);
}

}  // namespace autoresume
