// S_CTX_LOCAL: srun. A new allocation (srun outside a job) carries the intent like sbatch; a step inside an
// existing job passes the option on to slurmstepd (stepd.cpp), which marks the job.
#include "plugin.hpp"

namespace autoresume::plugin {

int srun_init_post_opt(spank_t sp) { return publish_intent(sp, "srun"); }

}  // namespace autoresume::plugin
