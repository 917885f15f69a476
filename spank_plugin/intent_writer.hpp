// SPDX-License-Identifier: GPL-2.0-or-later
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

// What the plugin reads of a job: as root in slurmstepd (record_intent), as the job's user in srun (in-place retry).
struct JobView {
  std::string admin_comment;
  std::string nodes;  // Slurm's ranged form, "n[1,3]"
  uint32_t num_nodes = 0;
  bool running = false;
  bool batch = false;
  bool requeue = false;
};
// One job as its record in slurmctld says (what record_intent merges into, and what srun retries on).
Result<JobView> read_job(uint32_t job_id);

}  // namespace autoresume::plugin
