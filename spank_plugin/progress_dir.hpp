// SPDX-License-Identifier: GPL-2.0-or-later
// The job's progress directory on this node (include/autoresume/progress.hpp), made by slurmstepd as root.
// No Slurm dependency: unit-tested.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "autoresume/result.hpp"

namespace autoresume::plugin {

// BASE/JOBID: BASE (and its parents) made root-owned 0755 where missing; the job's directory made, or kept if it is
// a directory already (a requeued job's, or another step's), owned by uid:gid, mode 0700. A link or a file in its
// place is refused. Returns the directory's path.
Result<std::string> make_progress_dir(const std::string& base, uint32_t job_id, uid_t uid, gid_t gid);

}  // namespace autoresume::plugin
