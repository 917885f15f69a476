// SPDX-License-Identifier: GPL-2.0-or-later
#include "plugin.hpp"

namespace autoresume::plugin {

// The intent travels with the job request as job-control environment: stored in the job record (it survives
// requeue and slurmctld restarts) and seen by the job's steps as SLURM_SPANK_AUTO_RESUME. It is not returned by
// slurm_load_job, so slurmstepd copies it into AdminComment (stepd.cpp).
int publish_intent(spank_t sp, const char* command) {
  auto intent = resolve_intent(state().site, state().request);
  if (!intent) return 0;
  std::string value = intent_token(*intent).substr(kIntentKey.size());
  spank_err_t rc = spank_job_control_setenv(sp, kControlVar, value.c_str(), 1);
  // Never fail the user's command for this: the job runs, only without auto-resume.
  if (rc != ESPANK_SUCCESS)
    slurm_error("auto_resume: %s: could not record auto-resume intent (%s); the job runs without it", command,
                spank_strerror(rc));
  return 0;
}

}  // namespace autoresume::plugin
