#pragma once

#include <cstdint>
#include <string>

#include "autoresume/intent.hpp"
#include "autoresume/result.hpp"

namespace autoresume::plugin {

// Merges the intent token into the job's AdminComment (and makes a batch job requeue-able) through the Slurm
// API already in this process (slurmstepd carries libslurmfull): resolved with dlsym, never linked, since
// a second copy of Slurm's internals in slurmd/slurmstepd is asking for trouble. Must run as root/SlurmUser.
// Idempotent: nothing is sent when the job already carries the same token.
Status record_intent(uint32_t job_id, const Intent& intent);

}  // namespace autoresume::plugin
