// SPDX-License-Identifier: GPL-2.0-or-later
// The only exported symbols of auto_resume.so (see auto_resume.lds). Each callback switches on the context it
// runs in and calls that context's file. Nothing throws across this C boundary: an exception is logged and
// answered with 0 where failing would hurt the user's job more than a missing auto-resume.
#include "autoresume/slurm_compat.hpp"

#include <exception>

#include "plugin.hpp"

using namespace autoresume::plugin;

#define AUTORESUME_EXPORT __attribute__((visibility("default")))

namespace {

template <typename F>
int guarded(const char* callback, int on_exception, F&& f) {
  try {
    return f();
  } catch (const std::exception& e) {
    slurm_error("auto_resume: %s: internal error: %s", callback, e.what());
  } catch (...) {
    slurm_error("auto_resume: %s: internal error", callback);
  }
  return on_exception;
}

bool parses_options(spank_context_t ctx) {
  return ctx == S_CTX_LOCAL || ctx == S_CTX_REMOTE || ctx == S_CTX_ALLOCATOR;
}

}  // namespace

extern "C" {

// SPANK_PLUGIN() cannot be used from C++: its const objects would have internal linkage and not be exported.
AUTORESUME_EXPORT extern const char plugin_name[] = "auto_resume";
AUTORESUME_EXPORT extern const char plugin_type[] = "spank";
AUTORESUME_EXPORT extern const unsigned int plugin_version = SLURM_VERSION_NUMBER;
AUTORESUME_EXPORT extern const unsigned int spank_plugin_version = 0;
// 25.05+: if init fails in slurmstepd (a bad plugstack argument), that job fails; the node is not drained.
AUTORESUME_EXPORT int slurm_spank_init_failure_mode = autoresume::slurm_compat::kSpankInitFailureMode;

// A bad plugstack.conf argument fails init in every context: with `required` Slurm then refuses the plugin
// (and the command), with `optional` the plugin is skipped; either way the log names the argument.
AUTORESUME_EXPORT int slurm_spank_init(spank_t sp, int ac, char** av) {
  return guarded("init", -1, [&] {
    if (load_site_config(ac, av) != 0) return -1;
    return parses_options(spank_context()) ? register_options(sp) : 0;
  });
}

AUTORESUME_EXPORT int slurm_spank_init_post_opt(spank_t sp, int, char**) {
  return guarded("init_post_opt", 0, [&] {
    switch (spank_context()) {
      case S_CTX_LOCAL: return srun_init_post_opt(sp);
      case S_CTX_ALLOCATOR: return alloc_init_post_opt(sp);
      case S_CTX_REMOTE: return stepd_init_post_opt(sp);
      default: return 0;
    }
  });
}

// srun, once its step exists (the step id is known): a step inside an allocation that asked for auto-resume
// arranges its in-place retry (srun.cpp).
AUTORESUME_EXPORT int slurm_spank_local_user_init(spank_t sp, int, char**) {
  return guarded("local_user_init", 0, [&] { return spank_context() == S_CTX_LOCAL ? srun_local_user_init(sp) : 0; });
}

// task_init, not user_init: the batch step's SLURM_RESTART_COUNT is added to the environment by slurmstepd's
// setup_env() just before the task starts; at user_init the batch step still reads 0 after a requeue (measured).
AUTORESUME_EXPORT int slurm_spank_task_init(spank_t sp, int, char**) {
  return guarded("task_init", 0, [&] { return spank_context() == S_CTX_REMOTE ? stepd_task_init(sp) : 0; });
}

}  // extern "C"
