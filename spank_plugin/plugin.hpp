// SPDX-License-Identifier: GPL-2.0-or-later
// auto_resume.so internals: state of this process's plugin instance, and one entry point per context.
// Which process we are in decides what may be done (see dispatch.cpp); each context has its own file.
#pragma once

#include <functional>

#include <cstdint>
#include <string>

extern "C" {
#include <slurm/spank.h>
}

#include "options.hpp"

namespace autoresume::plugin {

struct PluginState {
  SiteConfig site;
  Request request;  // filled by the option callbacks (possibly twice in slurmstepd: idempotent)
  bool srun_in_allocation = false;  // srun: started inside an existing job (its steps can be retried in place)
};

PluginState& state();

// args.cpp: the option table, registered in every context that parses options.
int register_options(spank_t sp);
// plugstack.conf arguments; logs the error and returns -1 when they are bad.
int load_site_config(int ac, char** av);
// The batch step's options as sbatch forwarded them in the job-control environment
// ("SLURM_SPANK__SLURM_SPANK_OPTION_auto_resume_<option>"), read into the request like remote option values.
// Slurm 22.05's slurmstepd takes the batch step's options only from the exported environment, so
// `sbatch --export=NONE` (or a list without ALL) drops them there; the copy in the job-control environment, which
// sbatch sends apart from the exported one, still arrives. LOOKUP returns a variable's value, "" if unset.
// Returns whether any option was found.
bool take_forwarded_options(const std::function<std::string(const std::string&)>& lookup);

// publish.cpp: job-control environment for the allocation (srun/sbatch/salloc).
int publish_intent(spank_t sp, const char* command);

int srun_init_post_opt(spank_t sp);       // srun.cpp      S_CTX_LOCAL
int srun_local_user_init(spank_t sp);     // srun.cpp      S_CTX_LOCAL: the step exists
int alloc_init_post_opt(spank_t sp);      // alloc.cpp     S_CTX_ALLOCATOR
int stepd_init_post_opt(spank_t sp);      // stepd.cpp     S_CTX_REMOTE
int stepd_task_init(spank_t sp);          // stepd.cpp     S_CTX_REMOTE

// The job-control variable (SLURM_SPANK_AUTO_RESUME in the job's environment, SPANK_AUTO_RESUME in prologs) carries
// the intent token's value, e.g. "1:max=3".
inline constexpr const char* kControlVar = "AUTO_RESUME";
// Set by srun in the environment of a step it runs again in place (how many swaps the job has had): tasks see
// AUTO_RESUME_ATTEMPT = restarts + this. Only informative: the budget is counted by the controller.
inline constexpr const char* kStepRetriesVar = "AUTO_RESUME_STEP_RETRIES";

}  // namespace autoresume::plugin
