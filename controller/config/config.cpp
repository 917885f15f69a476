// SPDX-License-Identifier: GPL-2.0-or-later
#include "config/config.hpp"

#include <unistd.h>

#include <charconv>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>

#include "util/files.hpp"

namespace autoresume {
namespace {

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

std::optional<long long> parse_integer(const std::string& v) {
  long long n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size()) return std::nullopt;
  return n;
}

std::optional<int> parse_signal(const std::string& v) {
  static const std::map<std::string, int> names = {{"none", 0},       {"USR1", SIGUSR1}, {"USR2", SIGUSR2},
                                                   {"TERM", SIGTERM}, {"INT", SIGINT},   {"HUP", SIGHUP},
                                                   {"SIGUSR1", SIGUSR1}, {"SIGUSR2", SIGUSR2}, {"SIGTERM", SIGTERM}};
  auto it = names.find(v);
  if (it == names.end()) return std::nullopt;
  return it->second;
}

using Setter = std::function<std::optional<std::string>(Config&, const std::string&)>;  // error text or nullopt

Setter duration_key(std::chrono::milliseconds Config::*field, std::chrono::milliseconds min) {
  return [=](Config& c, const std::string& v) -> std::optional<std::string> {
    auto d = parse_duration(v);
    if (!d) return d.error().message;
    if (*d < min) return "must be at least " + std::to_string(min.count()) + "ms";
    c.*field = *d;
    return std::nullopt;
  };
}

Setter seconds_key(std::chrono::seconds Config::*field) {
  return [=](Config& c, const std::string& v) -> std::optional<std::string> {
    auto d = parse_duration(v);
    if (!d) return d.error().message;
    if (d->count() % 1000 != 0) return "expected whole seconds (like 30s or 2m), got \"" + v + "\"";
    c.*field = std::chrono::duration_cast<std::chrono::seconds>(*d);
    return std::nullopt;
  };
}

Setter count_key(int Config::*field) {
  return [=](Config& c, const std::string& v) -> std::optional<std::string> {
    auto n = parse_integer(v);
    if (!n || *n < 1 || *n > 1000) return "expected a count from 1 to 1000";
    c.*field = static_cast<int>(*n);
    return std::nullopt;
  };
}

// A command line whose first word is an absolute path to an executable file (checked at start: a typo in a
// program path must stop the daemon, not surface at the first node failure).
// ValidationProgram runs on the node, not here: its path is only required to be absolute.
Setter program_key(std::string Config::*field, bool runs_here = true) {
  return [=](Config& c, const std::string& v) -> std::optional<std::string> {
    std::string exe = v.substr(0, v.find(' '));
    if (exe.empty() || exe[0] != '/') return "expected an absolute path to a program (arguments may follow)";
    if (runs_here && access(exe.c_str(), X_OK) != 0) return "\"" + exe + "\" is not an executable file";
    c.*field = v;
    return std::nullopt;
  };
}

Setter method_key(MethodChoice Config::*field) {
  return [=](Config& c, const std::string& v) -> std::optional<std::string> {
    auto choice = parse_method_choice(v);
    if (!choice) return choice.error().message;
    c.*field = *choice;
    return std::nullopt;
  };
}

const std::map<std::string, Setter>& keys() {
  static const std::map<std::string, Setter> k = {
      {"PollInterval", duration_key(&Config::poll_interval, std::chrono::milliseconds(100))},
      {"StateDir",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         if (v.empty() || v[0] != '/') return "expected an absolute path";
         c.state_dir = v;
         return std::nullopt;
       }},
      {"NoResumeExitCode",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         auto n = parse_integer(v);
         if (!n || *n < 0 || *n > 255) return "expected an exit code from 0 to 255 (0: none)";
         c.no_resume_exit_code = static_cast<int>(*n);
         return std::nullopt;
       }},
      {"MaxAttempts",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         auto n = parse_integer(v);
         if (!n || *n < 1 || *n > 1000) return "expected an integer from 1 to 1000";
         c.max_attempts = static_cast<unsigned>(*n);
         return std::nullopt;
       }},
      {"SignalBeforeRequeue",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         auto s = parse_signal(v);
         if (!s) return "expected none, USR1, USR2, TERM, INT or HUP";
         c.signal_before_requeue = *s;
         return std::nullopt;
       }},
      {"RequeueGracePeriod", seconds_key(&Config::requeue_grace)},
      {"FailedExitWindow", seconds_key(&Config::failed_exit_window)},
      {"HangTimeout", seconds_key(&Config::hang_timeout)},
      {"PendingTimeout", seconds_key(&Config::pending_timeout)},
      {"InPlaceRetry",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         if (v != "yes" && v != "no") return "expected yes or no";
         c.in_place_retry = v == "yes";
         return std::nullopt;
       }},
      {"InPlaceWait", seconds_key(&Config::in_place_wait)},
      {"BreakerFraction",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         double f = 0;
         auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), f);
         if (v.empty() || ec != std::errc() || end != v.data() + v.size() || f <= 0 || f > 1)
           return "expected a fraction above 0 and at most 1, like 0.2";
         c.breaker_fraction = f;
         return std::nullopt;
       }},
      {"BreakerWindow", seconds_key(&Config::breaker_window)},
      {"BreakerReplaceFailures", count_key(&Config::breaker_replace_failures)},
      {"BreakerSettle", seconds_key(&Config::breaker_settle)},
      {"ReplaceProgram", program_key(&Config::replace_program)},
      {"RebootProgram", program_key(&Config::reboot_program)},
      {"ValidationProgram", program_key(&Config::validation_program, false)},
      {"DefaultAction",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         if (v != "replace" && v != "reboot") return "expected replace or reboot";
         c.default_action = v;
         return std::nullopt;
       }},
      {"ReplaceMethod", method_key(&Config::replace_method)},
      {"RebootMethod", method_key(&Config::reboot_method)},
      {"ReplaceTimeout", seconds_key(&Config::replace_timeout)},
      {"HeartbeatInterval", duration_key(&Config::heartbeat_interval, std::chrono::milliseconds(100))},
      {"HeartbeatMiss", count_key(&Config::heartbeat_miss)},
      {"ListenAddress",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         if (v != "none") {
           auto a = parse_listen_address(v);
           if (!a) return a.error().message + " (or none)";
         }
         c.listen_address = v;
         return std::nullopt;
       }},
      {"MungeSocket",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         if (v.empty() || v[0] != '/') return "expected an absolute path to munged's socket";
         c.munge_socket = v;
         return std::nullopt;
       }},
      {"SlurmUser",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         if (v.empty()) return "expected a user name";
         c.slurm_user = v;
         return std::nullopt;
       }},
      {"ReadAuth",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         if (v != "none" && v != "munge") return "expected none or munge";
         c.read_auth = v == "munge";
         return std::nullopt;
       }},
      {"MetricsTokenFile",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         if (auto readable = check_readable_file(v); !readable) return readable.error().message;
         std::ifstream in(v);
         std::string token;
         if (!in || !std::getline(in, token) || token.empty()) return "expected a readable file whose first line is the token";
         if (token.size() < 16) return "the token in " + v + " is shorter than 16 characters";
         c.metrics_token = token;
         return std::nullopt;
       }},
      {"HeartbeatFrom",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         if (v != "node" && v != "any") return "expected node (the node's own address) or any";
         c.heartbeat_from_node = v == "node";
         return std::nullopt;
       }},
      {"WebhookURL",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         if (v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0) return "expected an http:// or https:// URL";
         c.webhook_url = v;
         return std::nullopt;
       }},
      {"NotifyProgram", program_key(&Config::notify_program)},
      {"DrainTimeout", seconds_key(&Config::drain_timeout)},
      {"ValidationTimeout", seconds_key(&Config::validation_timeout)},
      {"ValidationAttempts", count_key(&Config::validation_attempts)},
      {"QuarantineAfter", count_key(&Config::quarantine_after)},
      {"QuarantineWindow", seconds_key(&Config::quarantine_window)},
      {"HistoryRetention", seconds_key(&Config::history_retention)},
      {"HighAvailability",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         if (v != "yes" && v != "no") return "expected yes or no";
         c.high_availability = v == "yes";
         return std::nullopt;
       }},
      {"ControllerHost",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         if (v.empty() || v.size() > 255 || v.find_first_of(" \t,()=") != std::string::npos)
           return "expected one SlurmctldHost name of slurm.conf";
         c.controller_host = v;
         return std::nullopt;
       }},
      {"LeaseTime", duration_key(&Config::lease_time, std::chrono::milliseconds(2000))},
      {"LogLevel",
       [](Config& c, const std::string& v) -> std::optional<std::string> {
         static const std::map<std::string, LogLevel> levels = {
             {"debug", LogLevel::Debug}, {"info", LogLevel::Info}, {"warning", LogLevel::Warning}, {"error", LogLevel::Error}};
         auto it = levels.find(v);
         if (it == levels.end()) return "expected debug, info, warning or error";
         c.log_level = it->second;
         return std::nullopt;
       }},
  };
  return k;
}

std::string known_keys() {
  std::string out;
  for (const auto& [k, _] : keys()) out += (out.empty() ? "" : ", ") + k;
  return out;
}

}  // namespace

std::vector<std::string> config_keys() {
  std::vector<std::string> out;
  for (const auto& [k, _] : keys()) out.push_back(k);
  return out;
}

Result<std::chrono::milliseconds> parse_duration(const std::string& value) {
  static const std::pair<const char*, long long> units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
  std::string digits = value;
  long long scale = 1000;
  for (const auto& [suffix, ms] : units) {
    std::string sfx = suffix;
    if (value.size() > sfx.size() && value.compare(value.size() - sfx.size(), sfx.size(), sfx) == 0) {
      digits = value.substr(0, value.size() - sfx.size());
      scale = ms;
      break;
    }
  }
  auto n = parse_integer(digits);
  if (!n || *n < 0) return Error{0, "expected a duration like 30s, 500ms, 2m, 1h or 30d, got \"" + value + "\""};
  constexpr long long kYearMs = 366LL * 24 * 3600 * 1000;
  if (*n > kYearMs / scale) return Error{0, "expected a duration of at most a year, got \"" + value + "\""};
  return std::chrono::milliseconds(*n * scale);
}

Result<Config> parse_config(const std::string& text, const std::string& path) {
  Config c;
  std::istringstream in(text);
  std::string raw;
  std::map<std::string, int> seen;  // key -> the line that set it
  for (int line = 1; std::getline(in, raw); ++line) {
    auto where = path + ":" + std::to_string(line) + ": ";
    // A comment starts a line or follows a space ("StateDir=/srv/ar  # note"); a '#' inside a value is refused
    // rather than silently cutting it ("NotifyProgram=/opt/x#1" would run /opt/x).
    size_t hash = raw.find('#');
    if (hash != std::string::npos && hash > 0 && raw[hash - 1] != ' ' && raw[hash - 1] != '\t')
      return Error{0, where + "'#' inside a value (a comment needs a space before it): \"" + trim(raw) + "\""};
    std::string s = trim(raw.substr(0, hash));
    if (s.empty()) continue;
    auto eq = s.find('=');
    if (eq == std::string::npos) return Error{0, where + "expected Key=Value, got \"" + s + "\""};
    std::string key = trim(s.substr(0, eq));
    std::string value = trim(s.substr(eq + 1));
    auto it = keys().find(key);
    if (it == keys().end())
      return Error{0, where + "unknown key \"" + key + "\" (known: " + known_keys() + ")"};
    if (auto [first, fresh] = seen.emplace(key, line); !fresh)
      return Error{0, where + key + " is set again (first on line " + std::to_string(first->second) + ")"};
    if (auto err = it->second(c, value)) return Error{0, where + key + "=" + value + ": " + *err};
  }
  // A lease renewed every poll must outlive a few of them (a tick that waits on a slow slurmctld included).
  if (c.lease_time < 3 * c.poll_interval) {
    int at = seen.count("LeaseTime") ? seen["LeaseTime"] : seen.count("PollInterval") ? seen["PollInterval"] : 0;
    return Error{0, path + ":" + std::to_string(at) + ": LeaseTime (" + std::to_string(c.lease_time.count()) +
                        "ms) must be at least 3 x PollInterval (" + std::to_string(c.poll_interval.count()) + "ms)"};
  }
  return c;
}

std::vector<std::string> keep_restart_only(const Config& running, Config& next) {
  std::vector<std::string> kept;
  auto keep = [&](auto Config::*field, const char* key) {
    if (next.*field == running.*field) return;
    next.*field = running.*field;
    kept.push_back(key);
  };
  keep(&Config::state_dir, "StateDir");
  keep(&Config::listen_address, "ListenAddress");
  keep(&Config::munge_socket, "MungeSocket");
  keep(&Config::slurm_user, "SlurmUser");
  keep(&Config::read_auth, "ReadAuth");
  keep(&Config::metrics_token, "MetricsTokenFile");
  keep(&Config::heartbeat_from_node, "HeartbeatFrom");
  keep(&Config::webhook_url, "WebhookURL");
  keep(&Config::notify_program, "NotifyProgram");
  keep(&Config::high_availability, "HighAvailability");
  keep(&Config::controller_host, "ControllerHost");
  keep(&Config::lease_time, "LeaseTime");
  return kept;
}

Result<Config> load_config(const std::string& path) {
  if (auto why = unreadable_reason(path)) return Error{0, path + ": cannot read the configuration file: " + *why};
  std::ifstream f(path);
  if (!f) return Error{0, path + ": cannot read the configuration file"};
  std::stringstream s;
  s << f.rdbuf();
  return parse_config(s.str(), path);
}

}  // namespace autoresume
