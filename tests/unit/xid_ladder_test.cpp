// SPDX-License-Identifier: GPL-2.0-or-later
// The agent's GPU ladder on the fake NVML: the rung an XID calls for, each rung tried once per GPU and then the next
// (remembered across an agent restart), the site's table over the built-in one.
#include <unistd.h>

#include "catch_compat.hpp"
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "daemon/health_watch.hpp"
#include "remediation/xid_ladder.hpp"

using namespace autoresume;
using namespace autoresume::agent;
using namespace std::chrono_literals;

namespace {

struct FakeGpus {
  std::string path = "/tmp/autoresume-ladder-" + std::to_string(getpid()) + ".json";
  FakeGpus() {
    setenv("FAKE_NVML_STATE", path.c_str(), 1);
    xids("[]");
  }
  ~FakeGpus() { std::remove(path.c_str()); }
  void xids(const std::string& list) {
    std::ofstream(path + ".tmp") << R"({"gpus": [{"name": "Fake H200", "uuid": "GPU-0", "temperature": 40},)"
                                 << R"( {"name": "Fake H200", "uuid": "GPU-1", "temperature": 40}], "xids": )" << list << "}";
    std::rename((path + ".tmp").c_str(), path.c_str());
  }
};

std::string gpu_verdict(HealthWatch& w, unsigned gpu) {
  for (const auto& r : w.poll(std::chrono::steady_clock::now()))
    if (r.name == "gpu" + std::to_string(gpu) && r.verdict == Verdict::Fail) return r.detail;
  return "ok";
}

}  // namespace

TEST_CASE("ladder: the built-in table after NVIDIA's resolution buckets", "[agent][ladder]") {
  const auto& t = default_xid_table();
  CHECK(t.at(94) == Rung::RestartApp);
  for (unsigned long long xid : {48, 62, 63, 64, 74, 92, 95, 119, 120}) CHECK(t.at(xid) == Rung::ResetGpu);
  CHECK(t.at(79) == Rung::Reboot);
  CHECK_FALSE(t.count(13));  // an application's own fault: a site adds it if it wants
}

TEST_CASE("ladder: a site's file adds, changes and removes XIDs, and a bad line names file and line", "[agent][ladder]") {
  auto t = parse_xid_table("# site ladder\n13 restart_app\n\n79 replace   # our nodes never come back\n92 none\n", "site.conf",
                           default_xid_table());
  REQUIRE(t.ok());
  CHECK(t->at(13) == Rung::RestartApp);
  CHECK(t->at(79) == Rung::Replace);
  CHECK_FALSE(t->count(92));
  CHECK(t->at(62) == Rung::ResetGpu);  // the rest as built in

  struct Case { const char* text; const char* message; };
  for (auto [text, message] : {
           Case{"62 reset", "s.conf:1: XID 62: expected restart_app, reset_gpu, reboot, replace or none, got \"reset\""},
           Case{"\nxid62 reboot", "s.conf:2: expected an XID number, got \"xid62\""},
           Case{"62", "s.conf:1: XID 62: expected restart_app, reset_gpu, reboot, replace or none, got \"\""},
           Case{"62 reboot now", "s.conf:1: expected \"XID RUNG\", got more: \"now\""},
       }) {
    auto bad = parse_xid_table(text, "s.conf", {});
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message == message);
  }
  CHECK_FALSE(load_xid_table("/nonexistent/ladder.conf").ok());
}

TEST_CASE("ladder: each rung once per GPU, then the next, forgotten after the window, kept across restarts",
          "[agent][ladder]") {
  std::string file = std::filesystem::temp_directory_path() / ("autoresume-ladder-state-" + std::to_string(getpid()));
  std::remove(file.c_str());
  {
    LadderState s(file, 3600);
    CHECK(s.choose(0, Rung::ResetGpu, 1000) == Rung::ResetGpu);
    CHECK(s.choose(1, Rung::ResetGpu, 1000) == Rung::ResetGpu);  // another GPU has its own ladder
    CHECK(s.choose(0, Rung::ResetGpu, 1100) == Rung::Reboot);
    CHECK(s.save_error().empty());
  }
  LadderState again(file, 3600);  // an agent restarted (or the node rebooted): the reset and the reboot were tried
  CHECK(again.choose(0, Rung::ResetGpu, 1200) == Rung::Replace);
  CHECK(again.choose(0, Rung::Reboot, 1300) == Rung::Replace);  // replace is the top: it stays
  CHECK(again.choose(0, Rung::RestartApp, 1300) == Rung::RestartApp);  // a lower rung not tried yet is tried
  CHECK(again.choose(1, Rung::ResetGpu, 1000 + 3601) == Rung::ResetGpu);  // an hour later: forgotten

  std::ofstream(file) << "{not json";
  LadderState torn(file, 3600);  // a torn file forgets, it does not stop the agent
  CHECK(torn.choose(0, Rung::ResetGpu, 1000) == Rung::ResetGpu);
  std::remove(file.c_str());

  LadderState unwritable("/nonexistent/dir/ladder.json");
  CHECK(unwritable.choose(0, Rung::Reboot, 1) == Rung::Reboot);
  CHECK_FALSE(unwritable.save_error().empty());
}

TEST_CASE("ladder: XIDs on the fake NVML fail their GPU with their rung until released, and climb when they come back",
          "[agent][ladder][watch]") {
  FakeGpus gpus;
  auto lib = nvml::Library::load(AUTORESUME_FAKE_NVML);
  HealthWatch watch(*lib, WatchSettings{});
  REQUIRE(watch.events_available());

  gpus.xids(R"([{"id": 1, "gpu": 0, "xid": 62}, {"id": 2, "gpu": 0, "xid": 62}])");  // a burst is one fault
  REQUIRE(watch.wait_xid(2000ms));
  watch.wait_xid(500ms);
  CHECK(gpu_verdict(watch, 0) == "xid 62 [reset_gpu]");
  CHECK(gpu_verdict(watch, 1) == "ok");
  watch.release(0);  // the reset was done
  CHECK(gpu_verdict(watch, 0) == "ok");

  gpus.xids(R"([{"id": 3, "gpu": 0, "xid": 62}, {"id": 4, "gpu": 1, "xid": 94}])");
  REQUIRE(watch.wait_xid(2000ms));
  REQUIRE(watch.wait_xid(2000ms));
  CHECK(gpu_verdict(watch, 0) == "xid 62 [reboot]");  // the reset did not hold: the next rung
  CHECK(gpu_verdict(watch, 1) == "xid 94 [restart_app]");

  // An XID the table does not name but the site made critical: no rung, the controller's DefaultAction.
  WatchSettings s;
  s.critical_xids = {31};
  HealthWatch only31(*lib, s);
  gpus.xids(R"([{"id": 5, "gpu": 1, "xid": 31}])");
  auto x = only31.wait_xid(2000ms);
  REQUIRE(x);
  CHECK(x->critical);
  CHECK(gpu_verdict(only31, 1) == "xid 31");
}
