// SPDX-License-Identifier: GPL-2.0-or-later
// S_CTX_ALLOCATOR: sbatch and salloc, command line and #SBATCH lines alike. Bad values were refused by the
// option callback before this point, so nothing was submitted.
#include "plugin.hpp"

namespace autoresume::plugin {

int alloc_init_post_opt(spank_t sp) { return publish_intent(sp, "sbatch/salloc"); }

}  // namespace autoresume::plugin
