// SPDX-License-Identifier: GPL-2.0-or-later
#include "catch_compat.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <regex>

#include "config/config.hpp"

using namespace autoresume;
using namespace std::chrono_literals;

TEST_CASE("an empty configuration gives the documented defaults", "[config]") {
  auto c = parse_config("", "x.conf");
  REQUIRE(c.ok());
  CHECK(c->poll_interval == 1000ms);
  CHECK(c->state_dir == "/var/lib/autoresume");
  CHECK(c->no_resume_exit_code == 93);
  CHECK(c->signal_before_requeue == 0);
  CHECK(c->requeue_grace == 30s);
  CHECK(c->log_level == LogLevel::Info);
}

TEST_CASE("every key is read, with comments and spaces", "[config]") {
  auto c = parse_config(
      "# comment\n PollInterval = 250ms\nStateDir=/srv/ar # trailing\nNoResumeExitCode=42\n"
      "SignalBeforeRequeue=USR1\nRequeueGracePeriod=2m\nPendingTimeout=10\nLogLevel=debug\n",
      "x.conf");
  REQUIRE(c.ok());
  CHECK(c->poll_interval == 250ms);
  CHECK(c->state_dir == "/srv/ar");
  CHECK(c->no_resume_exit_code == 42);
  CHECK(c->signal_before_requeue == SIGUSR1);
  CHECK(c->requeue_grace == 120s);
  CHECK(c->pending_timeout == 10s);
  CHECK(c->log_level == LogLevel::Debug);
}

TEST_CASE("a bad line stops with file, line and reason", "[config]") {
  auto unknown = parse_config("PollInterval=1s\n\nReplacprogram=/bin/x\n", "/etc/slurm/autoresume.conf");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().message.rfind("/etc/slurm/autoresume.conf:3: unknown key \"Replacprogram\" (known: ", 0) == 0);

  struct Case { const char* text; const char* message; };
  for (auto [text, message] : {
           Case{"PollInterval=fast", "a.conf:1: PollInterval=fast: expected a duration like 30s, 500ms, 2m, 1h or 30d, got \"fast\""},
           Case{"PollInterval=10ms", "a.conf:1: PollInterval=10ms: must be at least 100ms"},
           Case{"StateDir=relative", "a.conf:1: StateDir=relative: expected an absolute path"},
           Case{"NoResumeExitCode=300", "a.conf:1: NoResumeExitCode=300: expected an exit code from 0 to 255 (0: none)"},
           Case{"SignalBeforeRequeue=KILL", "a.conf:1: SignalBeforeRequeue=KILL: expected none, USR1, USR2, TERM, INT or HUP"},
           Case{"LogLevel=loud", "a.conf:1: LogLevel=loud: expected debug, info, warning or error"},
           Case{"just words", "a.conf:1: expected Key=Value, got \"just words\""},
       }) {
    auto c = parse_config(text, "a.conf");
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().message == message);
  }
}

TEST_CASE("a missing configuration file is an error naming it", "[config]") {
  auto c = load_config("/nonexistent/autoresume.conf");
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().message == "/nonexistent/autoresume.conf: cannot read the configuration file: No such file or directory");
  auto dir = load_config("/");
  REQUIRE_FALSE(dir.ok());
  CHECK(dir.error().message == "/: cannot read the configuration file: Is a directory");
}

TEST_CASE("durations that overflow, fractions of a second for whole-second keys, '#' in a value, a key set twice",
          "[config][security]") {
  struct Case { const char* text; const char* message; };
  for (auto [text, message] : {
           Case{"PollInterval=9223372036854775807h",
                "a.conf:1: PollInterval=9223372036854775807h: expected a duration of at most a year, got \"9223372036854775807h\""},
           Case{"PollInterval=400d", "a.conf:1: PollInterval=400d: expected a duration of at most a year, got \"400d\""},
           Case{"DrainTimeout=500ms", "a.conf:1: DrainTimeout=500ms: expected whole seconds (like 30s or 2m), got \"500ms\""},
           Case{"NotifyProgram=/opt/notify#1", "a.conf:1: '#' inside a value (a comment needs a space before it): \"NotifyProgram=/opt/notify#1\""},
           Case{"PollInterval=1s\nStateDir=/srv/a\nPollInterval=2s",
                "a.conf:3: PollInterval is set again (first on line 1)"},
       }) {
    INFO(text);
    auto c = parse_config(text, "a.conf");
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().message == message);
  }
  auto fine = parse_config("# a comment\nDrainTimeout=2m   # and one after a value\n", "a.conf");
  REQUIRE(fine.ok());
}

TEST_CASE("config: every key is documented in autoresume.conf(5) and in the packaged file, and nothing else is",
          "[config][docs]") {
  auto read = [](const std::string& path) {
    std::ifstream in(std::string(AUTORESUME_SOURCE_DIR) + "/" + path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  std::string man = read("man/autoresume.conf.5"), packaged = read("packaging/autoresume.conf");
  REQUIRE_FALSE(man.empty());
  auto keys = config_keys();
  CHECK(keys.size() >= 30);
  for (const auto& k : keys) {
    INFO(k);
    CHECK(man.find("\n.B " + k + "=") != std::string::npos);
    CHECK((packaged.find("\n" + k + "=") != std::string::npos || packaged.find("\n#" + k + "=") != std::string::npos));
  }
  std::regex documented("\n\\.B ([A-Z][A-Za-z]+)=");
  for (std::sregex_iterator it(man.begin(), man.end(), documented), end; it != end; ++it) {
    INFO((*it)[1]);
    CHECK(std::count(keys.begin(), keys.end(), (*it)[1].str()) == 1);
  }
}

TEST_CASE("a reload keeps the running values of keys that take a restart, and names them", "[config][reload]") {
  Config running = parse_config("ListenAddress=127.0.0.1:6828\nBreakerSettle=30s\nWebhookURL=https://a.example/x\n", "a.conf").value();
  Config next = parse_config("ListenAddress=127.0.0.1:7000\nBreakerSettle=5s\nWebhookURL=https://b.example/y\n"
                             "HighAvailability=yes\nReplaceProgram=/bin/true\n", "a.conf").value();
  auto kept = keep_restart_only(running, next);
  CHECK(kept == std::vector<std::string>{"ListenAddress", "WebhookURL", "HighAvailability"});
  CHECK(next.listen_address == "127.0.0.1:6828");
  CHECK(next.webhook_url == "https://a.example/x");
  CHECK_FALSE(next.high_availability);
  CHECK(next.breaker_settle == std::chrono::seconds(5));  // applies
  CHECK(next.replace_program == "/bin/true");
  Config same = running;
  CHECK(keep_restart_only(running, same).empty());
}
