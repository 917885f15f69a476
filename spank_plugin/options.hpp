// SPDX-License-Identifier: GPL-2.0-or-later
// Option values and plugstack.conf arguments: parsed once, here, with errors a user can act on.
// No Slurm dependency, so that unit tests can run it under the sanitizers.
#pragma once

#include <optional>
#include <string_view>
#include <string>
#include <vector>

#include "autoresume/intent.hpp"
#include "autoresume/result.hpp"

namespace autoresume::plugin {

// plugstack.conf: `optional /usr/lib/.../auto_resume.so default=0 default_max_attempts=3 max_attempts=10`
struct SiteConfig {
  bool default_on = false;              // default=1: every job is auto-resumed unless --auto-resume=0
  unsigned default_max_attempts = 3;    // budget when the job does not ask for one
  unsigned max_attempts = 10;           // the most a job may ask for with --auto-resume-max-attempts
  // default_hang_timeout=DURATION: recorded for a job that does not ask; unset: the controller's HangTimeout.
  std::optional<unsigned> default_hang_timeout;
  unsigned max_hang_timeout = 7 * 86400;  // the most a job may ask for with --auto-resume-hang-timeout
  // Where slurmstepd makes each job's progress directory (docs/hangs-and-goodput.md); the agent reads it there.
  std::string progress_dir = "/run/autoresume/progress";
};

// The shortest hang timeout there is (0 turns hang detection off): shorter ones would judge a job by the
// agents' reporting delay, not by its progress.
inline constexpr unsigned kMinHangTimeout = 5;

Result<SiteConfig> parse_site_config(const std::vector<std::string>& args);

// --auto-resume[=VALUE]: absent VALUE means on.
Result<bool> parse_auto_resume(const char* value);
// --auto-resume-max-attempts=N: 1 <= N <= the site maximum.
Result<unsigned> parse_max_attempts(const char* value, unsigned site_max);

// --auto-resume-hang-timeout=DURATION: seconds, or a number with s, m or h; 0 (off), or kMinHangTimeout up to
// the site maximum.
Result<unsigned> parse_hang_timeout(const char* value, unsigned site_max);

// What the command line asked for.
struct Request {
  std::optional<bool> enabled = std::nullopt;
  std::optional<unsigned> max_attempts = std::nullopt;
  std::optional<unsigned> hang_timeout = std::nullopt;
};

// The job's intent from the site defaults and the request; nullopt: no auto-resume. A budget or a hang timeout
// given without --auto-resume turns auto-resume on (asking for them means wanting them); --auto-resume=0 always
// wins.
std::optional<Intent> resolve_intent(const SiteConfig& site, const Request& request);

// An intent the job's environment claims (SLURM_SPANK_AUTO_RESUME: what sbatch/salloc/srun published, or what
// the user set by hand, which root-side code cannot tell apart there): accepted only as a value the plugin's own
// options could have produced under this site's configuration. An error names what was refused.
Result<Intent> revalidate_claimed_intent(const SiteConfig& site, std::string_view claimed);

}  // namespace autoresume::plugin
