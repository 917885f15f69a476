// SPDX-License-Identifier: GPL-2.0-or-later
// Notifications: what is worth a message, the Slack-compatible body, a webhook that fails and is retried, a
// program called with the message; the control loop never waits for any of it.
#include <httplib.h>

#include <atomic>
#include "catch_compat.hpp"
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <unistd.h>

#include "notify/notifier.hpp"
#include "util/log.hpp"

using namespace autoresume;

namespace {

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit = std::chrono::milliseconds(10000)) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

}  // namespace

TEST_CASE("notifier: budget exhausted, quarantine and breaker trips are worth a message, nothing else", "[notify]") {
  CHECK(Notifier::worth_notifying("budget_exhausted"));
  CHECK(Notifier::worth_notifying("node_quarantined"));
  CHECK(Notifier::worth_notifying("breaker_tripped"));
  CHECK_FALSE(Notifier::worth_notifying("job_resumed"));
  CHECK_FALSE(Notifier::worth_notifying("node_failed"));
  CHECK(Notifier::message_text({"node_quarantined", "n7", "3 failures within QuarantineWindow"}, "prod") ==
        "[auto-resume prod] node n7 is quarantined and needs a human: 3 failures within QuarantineWindow");
}

TEST_CASE("notifier: a webhook answering 500 is retried, then gets a Slack-style JSON body", "[notify]") {
  set_log_level(LogLevel::Error);
  httplib::Server hook;
  std::atomic<int> calls{0};
  std::string body;
  std::mutex m;
  hook.Post("/hook", [&](const httplib::Request& req, httplib::Response& res) {
    if (++calls < 2) {
      res.status = 500;
      return;
    }
    std::lock_guard lock(m);
    body = req.body;
    res.set_content("ok", "text/plain");
  });
  int port = hook.bind_to_any_port("127.0.0.1");
  std::thread server([&] { hook.listen_after_bind(); });
  {
    Notifier n(NotifySettings{"http://127.0.0.1:" + std::to_string(port) + "/hook", "", "test", 3, std::chrono::seconds(2)});
    auto t0 = std::chrono::steady_clock::now();
    n.on_event("breaker_tripped", "cluster", "2 of 4 nodes failing within 600s");
    n.on_event("job_resumed", "7", "ignored");
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(50));  // never blocks the caller
    REQUIRE(eventually([&] {
      std::lock_guard lock(m);
      return !body.empty();
    }));
  }
  hook.stop();
  server.join();
  CHECK(calls == 2);
  auto j = nlohmann::json::parse(body);
  CHECK(j["text"] == "[auto-resume test] the circuit breaker tripped: automated recovery stopped: 2 of 4 nodes failing within 600s");
}

TEST_CASE("notifier: NotifyProgram gets kind, subject and message as arguments", "[notify]") {
  std::string out = std::filesystem::temp_directory_path() / ("autoresume-notify-" + std::to_string(getpid()));
  std::filesystem::remove(out);
  {
    Notifier n(NotifySettings{"", "printf '%s|%s|%s' >" + out, "", 2, std::chrono::seconds(5)});
    n.on_event("budget_exhausted", "42", "budget_3/3");
    REQUIRE(eventually([&] { return std::filesystem::exists(out) && std::filesystem::file_size(out) > 0; }));
  }
  std::ifstream in(out);
  std::stringstream s;
  s << in.rdbuf();
  CHECK(s.str() == "budget_exhausted|42|[auto-resume] job 42 exhausted its resume budget and is held: budget_3/3");
  std::filesystem::remove(out);
}
