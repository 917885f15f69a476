// SPDX-License-Identifier: GPL-2.0-or-later
#include "model/goodput.hpp"

#include <algorithm>

namespace autoresume {

bool recovering(const JobRecord& r) {
  switch (r.phase) {
    case JobPhase::Signalled:
    case JobPhase::Requeueing:
    case JobPhase::WaitingPending:
    case JobPhase::Held:
    case JobPhase::Starting:
    case JobPhase::Swapping: return r.failure_at > 0;
    default: return false;
  }
}

Goodput goodput_of(const JobRecord& r, double until) {
  Goodput g;
  if (r.first_start <= 0 || until <= r.first_start) return g;
  g.elapsed = until - r.first_start;
  g.lost_work = r.lost_work;
  g.recovery = r.recovery + (recovering(r) ? std::max(0.0, until - r.failure_at) : 0.0);
  g.startup = r.startup;
  g.redone_steps = r.redone_steps;
  g.productive = std::clamp(g.elapsed - g.lost_work - g.recovery - g.startup, 0.0, g.elapsed);
  g.ratio = g.productive / g.elapsed;
  return g;
}

}  // namespace autoresume
