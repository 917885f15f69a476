#include "options.hpp"

#include <charconv>
#include <cstring>
#include <string_view>

namespace autoresume::plugin {
namespace {

std::optional<bool> parse_bool(std::string_view v) {
  if (v == "1" || v == "yes" || v == "true") return true;
  if (v == "0" || v == "no" || v == "false") return false;
  return std::nullopt;
}

std::optional<unsigned> parse_unsigned(std::string_view v) {
  unsigned n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size()) return std::nullopt;
  return n;
}

Error config_error(const std::string& arg, const std::string& why) {
  return Error{0, "auto_resume: plugstack.conf argument \"" + arg + "\": " + why};
}

}  // namespace

Result<SiteConfig> parse_site_config(const std::vector<std::string>& args) {
  SiteConfig c;
  for (const std::string& arg : args) {
    auto eq = arg.find('=');
    if (eq == std::string::npos) return config_error(arg, "expected key=value");
    std::string key = arg.substr(0, eq);
    std::string_view value = std::string_view(arg).substr(eq + 1);
    if (key == "default") {
      auto b = parse_bool(value);
      if (!b) return config_error(arg, "expected 1, 0, yes, no, true or false");
      c.default_on = *b;
    } else if (key == "default_max_attempts" || key == "max_attempts") {
      auto n = parse_unsigned(value);
      if (!n || *n == 0 || *n > 1000) return config_error(arg, "expected an integer from 1 to 1000");
      (key == "max_attempts" ? c.max_attempts : c.default_max_attempts) = *n;
    } else {
      return config_error(arg, "unknown key \"" + key + "\" (known: default, default_max_attempts, max_attempts)");
    }
  }
  if (c.default_max_attempts > c.max_attempts)
    return Error{0, "auto_resume: plugstack.conf: default_max_attempts=" + std::to_string(c.default_max_attempts) +
                        " is above max_attempts=" + std::to_string(c.max_attempts)};
  return c;
}

Result<bool> parse_auto_resume(const char* value) {
  if (!value) return true;
  if (auto b = parse_bool(value)) return *b;
  return Error{0, std::string("auto_resume: invalid value \"") + value +
                      "\" for --auto-resume (expected 1, 0, yes, no, true or false)"};
}

Result<unsigned> parse_max_attempts(const char* value, unsigned site_max) {
  std::string v = value ? value : "";
  auto n = parse_unsigned(v);
  if (n && *n >= 1 && *n <= site_max) return *n;
  return Error{0, "auto_resume: invalid value \"" + v + "\" for --auto-resume-max-attempts (expected an integer from 1 to " +
                      std::to_string(site_max) + ", the site maximum)"};
}

Result<Intent> revalidate_claimed_intent(const SiteConfig& site, std::string_view claimed) {
  // Exactly one token of the form the plugin publishes ("1:max=N"), nothing around it.
  bool one_token = claimed.size() <= 32 && claimed.find_first_not_of("0123456789:max=") == std::string_view::npos;
  auto intent = one_token ? parse_intent(std::string(kIntentKey) + std::string(claimed)) : std::nullopt;
  if (!intent)
    return Error{0, "auto_resume: refused the job environment's SLURM_SPANK_AUTO_RESUME: not an intent this plugin writes"};
  if (intent->max_attempts > site.max_attempts)
    return Error{0, "auto_resume: refused the job environment's SLURM_SPANK_AUTO_RESUME: a budget of " +
                        std::to_string(intent->max_attempts) + " is above the site's max_attempts=" +
                        std::to_string(site.max_attempts)};
  return *intent;
}

std::optional<Intent> resolve_intent(const SiteConfig& site, const Request& request) {
  bool on = request.enabled.value_or(site.default_on || request.max_attempts.has_value());
  if (!on) return std::nullopt;
  return Intent{request.max_attempts.value_or(site.default_max_attempts)};
}

}  // namespace autoresume::plugin
