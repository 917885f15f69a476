// Option values and plugstack.conf arguments: parsed once, here, with errors a user can act on.
// No Slurm dependency, so that unit tests can run it under the sanitizers.
#pragma once

#include <optional>
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
};

Result<SiteConfig> parse_site_config(const std::vector<std::string>& args);

// --auto-resume[=VALUE]: absent VALUE means on.
Result<bool> parse_auto_resume(const char* value);
// --auto-resume-max-attempts=N: 1 <= N <= the site maximum.
Result<unsigned> parse_max_attempts(const char* value, unsigned site_max);

// What the command line asked for.
struct Request {
  std::optional<bool> enabled;
  std::optional<unsigned> max_attempts;
};

// The job's intent from the site defaults and the request; nullopt: no auto-resume. A budget given without
// --auto-resume turns auto-resume on (asking for attempts means wanting them); --auto-resume=0 always wins.
std::optional<Intent> resolve_intent(const SiteConfig& site, const Request& request);

}  // namespace autoresume::plugin
