// SPDX-License-Identifier: GPL-2.0-or-later
// The progress reports of the jobs on this node (include/autoresume/progress.hpp), summed up per job for the
// heartbeat: the agent is root and the files are the users', so each is opened without following links, read
// only if it is a regular file, at most a few bytes, and a bad one is skipped.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "autoresume/progress.hpp"

namespace autoresume::agent {

struct JobProgress {
  uint32_t job_id = 0;
  uint64_t step = 0;       // the highest step any rank reported
  double at = 0;           // the newest report of any rank (unix seconds): the job's latest progress
  unsigned ranks = 0;      // rank files read
  std::optional<Report> checkpoint;
  bool operator==(const JobProgress&) const = default;
};

// Every job directory under `base` with at least one valid report, newest first, at most `max_jobs`.
std::vector<JobProgress> read_progress(const std::string& base, size_t max_jobs);

// Removes BASE/JOBID and the files in it (the controller said the job ended). Subdirectories a user made are
// left (nothing is followed or recursed into as root).
void forget_progress(const std::string& base, uint32_t job_id);

}  // namespace autoresume::agent
