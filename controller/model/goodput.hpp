// SPDX-License-Identifier: GPL-2.0-or-later
// What failures cost a job (docs/hangs-and-goodput.md), after Google's ml-goodput (productive time over the job's
// whole time, across restarts) and Meta's ETTR. From the job's record: its time since its first run started, less
// the work redone after each failure (from the last checkpoint, or the run's start, to the failure), the recovery
// (failure to running again, or to now while it recovers) and each run's startup (start to the first progress
// report). Lost work and startup are known only for jobs that report progress.
#pragma once

#include <cstdint>

#include "model/records.hpp"

namespace autoresume {

struct Goodput {
  double elapsed = 0;     // first run's start to `until`
  double productive = 0;  // elapsed less lost work, recovery and startup
  double lost_work = 0;
  double recovery = 0;    // with the current recovery, if one is under way
  double startup = 0;
  uint64_t redone_steps = 0;
  double ratio = 1;       // productive / elapsed; 1 before the job ran
};

// `until`: now for a job still watched, its end for a finished one.
Goodput goodput_of(const JobRecord& r, double until);

// Whether the job is between a failure and running again (its recovery time is still growing).
bool recovering(const JobRecord& r);

}  // namespace autoresume
