// SPDX-License-Identifier: GPL-2.0-or-later
// The plugin's options, in one table, registered with spank_option_register from slurm_spank_init: a static
// spank_options table is not loaded in allocator context (sbatch/salloc), measured on Slurm 22.05.8.
#include <string>
#include <vector>

#include "plugin.hpp"

namespace autoresume::plugin {
namespace {

enum OptionId { kAutoResume = 1, kMaxAttempts = 2, kHangTimeout = 3 };

// Remote (slurmstepd) values were validated where the user typed them; there a bad one is ignored, never fatal.
int on_option(int id, const char* value, int remote) {
  PluginState& s = state();
  if (id == kAutoResume) {
    auto on = parse_auto_resume(value);
    if (!on) return remote ? 0 : (slurm_error("%s", on.error().message.c_str()), -1);
    s.request.enabled = *on;
    return 0;
  }
  if (id == kHangTimeout) {
    auto t = parse_hang_timeout(value, s.site.max_hang_timeout);
    if (!t) return remote ? 0 : (slurm_error("%s", t.error().message.c_str()), -1);
    s.request.hang_timeout = *t;
    return 0;
  }
  auto n = parse_max_attempts(value, s.site.max_attempts);
  if (!n) return remote ? 0 : (slurm_error("%s", n.error().message.c_str()), -1);
  s.request.max_attempts = *n;
  return 0;
}

int on_option_checked(int id, const char* value, int remote) {
  try {
    return on_option(id, value, remote);
  } catch (...) {
    slurm_error("auto_resume: internal error parsing an option");
    return remote ? 0 : -1;
  }
}

struct spank_option options[] = {
    {const_cast<char*>("auto-resume"), const_cast<char*>("[VALUE]"),
     const_cast<char*>("Requeue and restart this job on healthy nodes after a hardware failure (VALUE 1/0, "
                       "yes/no, true/false; default 1). The job resumes from its own checkpoint."),
     2, kAutoResume, on_option_checked},
    {const_cast<char*>("auto-resume-max-attempts"), const_cast<char*>("N"),
     const_cast<char*>("Resume this job at most N times (1 to the site maximum); implies --auto-resume."), 1,
     kMaxAttempts, on_option_checked},
    {const_cast<char*>("auto-resume-hang-timeout"), const_cast<char*>("DURATION"),
     const_cast<char*>("Requeue this job as hung when it reported progress (autoresume-progress) and then none for "
                       "DURATION (seconds, or with s, m, h; 0: never); implies --auto-resume."),
     1, kHangTimeout, on_option_checked},
};

}  // namespace

int register_options(spank_t sp) {
  for (auto& opt : options) {
    if (spank_option_register(sp, &opt) != ESPANK_SUCCESS) {
      slurm_error("auto_resume: could not register --%s", opt.name);
      return -1;
    }
  }
  return 0;
}

int load_site_config(int ac, char** av) {
  std::vector<std::string> args(av, av + ac);
  auto c = parse_site_config(args);
  if (!c) {
    slurm_error("%s", c.error().message.c_str());
    return -1;
  }
  state().site = *c;
  return 0;
}

bool take_forwarded_options(const std::function<std::string(const std::string&)>& lookup) {
  bool found = false;
  for (const auto& opt : options) {
    std::string var = std::string("SLURM_SPANK__SLURM_SPANK_OPTION_auto_resume_") + opt.name;
    for (char& c : var)
      if (c == '-') c = '_';
    std::string value = lookup(var);
    if (value.empty()) continue;
    on_option_checked(opt.val, value.c_str(), 1);
    found = true;
  }
  return found;
}

PluginState& state() {
  static PluginState s;
  return s;
}

}  // namespace autoresume::plugin
