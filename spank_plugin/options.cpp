// SPDX-License-Identifier: GPL-2.0-or-later
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

// "600", "600s", "10m", "2h": seconds. nullopt for anything else, or above a week.
std::optional<unsigned> parse_duration(std::string_view v) {
  unsigned scale = 1;
  if (!v.empty() && (v.back() == 's' || v.back() == 'm' || v.back() == 'h')) {
    scale = v.back() == 'h' ? 3600 : v.back() == 'm' ? 60 : 1;
    v.remove_suffix(1);
  }
  auto n = parse_unsigned(v);
  if (!n || *n > 7u * 86400u / scale) return std::nullopt;
  return *n * scale;
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
    } else if (key == "default_hang_timeout" || key == "max_hang_timeout") {
      auto d = parse_duration(value);
      if (!d || (*d != 0 && *d < kMinHangTimeout) || (key == "max_hang_timeout" && *d == 0))
        return config_error(arg, "expected a duration (seconds, or a number with s, m or h) from " +
                                     std::to_string(kMinHangTimeout) + " s to 7 days" +
                                     (key == "default_hang_timeout" ? ", or 0 (off)" : ""));
      if (key == "max_hang_timeout") c.max_hang_timeout = *d;
      else c.default_hang_timeout = *d;
    } else if (key == "progress_dir") {
      if (value.size() < 2 || value[0] != '/' || value.find("..") != std::string_view::npos ||
          value.find_first_of(" \t\n") != std::string_view::npos)
        return config_error(arg, "expected an absolute path without \"..\" or spaces");
      c.progress_dir = std::string(value);
      while (c.progress_dir.size() > 1 && c.progress_dir.back() == '/') c.progress_dir.pop_back();
    } else {
      return config_error(arg, "unknown key \"" + key +
                                   "\" (known: default, default_max_attempts, max_attempts, default_hang_timeout, "
                                   "max_hang_timeout, progress_dir)");
    }
  }
  if (c.default_hang_timeout && *c.default_hang_timeout > c.max_hang_timeout)
    return Error{0, "auto_resume: plugstack.conf: default_hang_timeout=" + std::to_string(*c.default_hang_timeout) +
                        " is above max_hang_timeout=" + std::to_string(c.max_hang_timeout)};
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

Result<unsigned> parse_hang_timeout(const char* value, unsigned site_max) {
  std::string v = value ? value : "";
  auto d = parse_duration(v);
  if (d && (*d == 0 || (*d >= kMinHangTimeout && *d <= site_max))) return *d;
  return Error{0, "auto_resume: invalid value \"" + v +
                      "\" for --auto-resume-hang-timeout (expected 0 (off) or a duration from " +
                      std::to_string(kMinHangTimeout) + " s to " + std::to_string(site_max) +
                      " s, the site maximum: seconds, or a number with s, m or h)"};
}

Result<Intent> revalidate_claimed_intent(const SiteConfig& site, std::string_view claimed) {
  // Exactly one token of the form the plugin publishes ("1:max=N" or "1:max=N:hang=S"), nothing around it.
  bool one_token = claimed.size() <= 32 && claimed.find_first_not_of("0123456789:max=hng") == std::string_view::npos;
  auto intent = one_token ? parse_intent(std::string(kIntentKey) + std::string(claimed)) : std::nullopt;
  if (!intent)
    return Error{0, "auto_resume: refused the job environment's SLURM_SPANK_AUTO_RESUME: not an intent this plugin writes"};
  if (intent->max_attempts > site.max_attempts)
    return Error{0, "auto_resume: refused the job environment's SLURM_SPANK_AUTO_RESUME: a budget of " +
                        std::to_string(intent->max_attempts) + " is above the site's max_attempts=" +
                        std::to_string(site.max_attempts)};
  if (intent->hang_timeout && *intent->hang_timeout != 0 &&
      (*intent->hang_timeout < kMinHangTimeout || *intent->hang_timeout > site.max_hang_timeout))
    return Error{0, "auto_resume: refused the job environment's SLURM_SPANK_AUTO_RESUME: a hang timeout of " +
                        std::to_string(*intent->hang_timeout) + " s is outside " + std::to_string(kMinHangTimeout) +
                        " to the site's max_hang_timeout=" + std::to_string(site.max_hang_timeout)};
  return *intent;
}

std::optional<Intent> resolve_intent(const SiteConfig& site, const Request& request) {
  bool asked = request.max_attempts.has_value() || request.hang_timeout.has_value();
  bool on = request.enabled.value_or(site.default_on || asked);
  if (!on) return std::nullopt;
  Intent intent{request.max_attempts.value_or(site.default_max_attempts)};
  intent.hang_timeout = request.hang_timeout ? request.hang_timeout : site.default_hang_timeout;
  return intent;
}

}  // namespace autoresume::plugin
