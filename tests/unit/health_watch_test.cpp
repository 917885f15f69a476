// SPDX-License-Identifier: GPL-2.0-or-later
// The agent daemon's watch over time, against the fake NVML through the real dlopen path: a temperature spike is a
// warn and a sustained one a fail; XIDs come through the event set, and only critical ones fail their GPU.
#include <unistd.h>

#include "catch_compat.hpp"
#include <cstdlib>
#include <fstream>

#include "autoresume/reasons.hpp"
#include "daemon/health_watch.hpp"
#include "node_drain.hpp"

using namespace autoresume;
using namespace autoresume::agent;
using namespace std::chrono_literals;

namespace {

struct FakeState {
  std::string path = "/tmp/autoresume-watch-" + std::to_string(getpid()) + ".json";
  FakeState() { setenv("FAKE_NVML_STATE", path.c_str(), 1); }
  ~FakeState() { std::remove(path.c_str()); }
  void write(unsigned temperature, const std::string& xids = "[]") {
    std::ofstream(path + ".tmp") << R"({"gpus": [{"name": "Fake H200", "uuid": "GPU-0", "temperature": )" << temperature
                                 << R"(}, {"name": "Fake H200", "uuid": "GPU-1", "temperature": 40}], "xids": )" << xids << "}";
    std::rename((path + ".tmp").c_str(), path.c_str());
  }
};

CheckResult find(const std::vector<CheckResult>& results, const std::string& name) {
  for (const auto& r : results)
    if (r.name == name) return r;
  FAIL("no check " << name);
  return {};
}

}  // namespace

TEST_CASE("watch: a temperature spike is a warn, a sustained one fails after GpuTempFor", "[agent][watch]") {
  FakeState state;
  state.write(40);
  auto lib = nvml::Library::load(AUTORESUME_FAKE_NVML);
  WatchSettings s;
  s.temp_for = 5s;
  HealthWatch watch(*lib, s);
  auto t0 = std::chrono::steady_clock::now();
  CHECK(find(watch.poll(t0), "gpu0:temperature").verdict == Verdict::Ok);

  state.write(95);
  auto spike = find(watch.poll(t0 + 1s), "gpu0:temperature");
  CHECK(spike.verdict == Verdict::Warn);
  CHECK(spike.detail.find("for 0 s of 5 s") != std::string::npos);
  CHECK(find(watch.poll(t0 + 3s), "gpu0:temperature").verdict == Verdict::Warn);
  state.write(40);  // 2 s above the limit, then back: nothing fails, and the clock starts again
  CHECK(find(watch.poll(t0 + 3500ms), "gpu0:temperature").verdict == Verdict::Ok);
  state.write(95);
  CHECK(find(watch.poll(t0 + 4s), "gpu0:temperature").verdict == Verdict::Warn);
  CHECK(find(watch.poll(t0 + 8s), "gpu0:temperature").verdict == Verdict::Warn);
  auto sustained = find(watch.poll(t0 + 9s), "gpu0:temperature");
  CHECK(sustained.verdict == Verdict::Fail);
  CHECK(sustained.detail == "95 C (max 85 C) for 5 s");
  CHECK(find(watch.poll(t0 + 9s), "gpu1:temperature").verdict == Verdict::Ok);
}

TEST_CASE("watch: XIDs arrive through the event set, only critical ones fail their GPU, old ones are not replayed",
          "[agent][watch]") {
  FakeState state;
  state.write(40, R"([{"id": 1, "gpu": 1, "xid": 79}])");  // before the watch started: not delivered
  auto lib = nvml::Library::load(AUTORESUME_FAKE_NVML);
  HealthWatch watch(*lib, WatchSettings{});
  REQUIRE(watch.events_available());
  CHECK_FALSE(watch.wait_xid(50ms));

  state.write(40, R"([{"id": 1, "gpu": 1, "xid": 79}, {"id": 2, "gpu": 0, "xid": 13}])");  // 13: a program's fault
  auto app_fault = watch.wait_xid(2000ms);
  REQUIRE(app_fault);
  CHECK(app_fault->gpu == 0);
  CHECK(app_fault->xid == 13);
  CHECK_FALSE(app_fault->critical);
  auto now = std::chrono::steady_clock::now();
  for (const auto& r : watch.poll(now)) CHECK(r.verdict != Verdict::Fail);

  state.write(40, R"([{"id": 2, "gpu": 0, "xid": 13}, {"id": 3, "gpu": 1, "xid": 79}])");
  auto t0 = std::chrono::steady_clock::now();
  auto bus = watch.wait_xid(2000ms);
  REQUIRE(bus);
  CHECK(std::chrono::steady_clock::now() - t0 < 500ms);  // the wait ends when the event comes
  CHECK(bus->gpu == 1);
  CHECK(bus->critical);
  auto failed = find(watch.poll(now), "gpu1");
  CHECK(failed.verdict == Verdict::Fail);
  CHECK(failed.detail == "xid 79 [reboot]");  // the ladder's rung for a GPU fallen off the bus
  CHECK(watch.last_xid().at(0) == 13);
  CHECK(watch.last_xid().at(1) == 79);
  CHECK(find(watch.poll(now + 60s), "gpu1").verdict == Verdict::Fail);  // it stays failed
}

TEST_CASE("watch: the critical set is configurable, and no NVML means no events and host checks only", "[agent][watch]") {
  FakeState state;
  state.write(40);
  auto lib = nvml::Library::load(AUTORESUME_FAKE_NVML);
  WatchSettings s;
  s.critical_xids = {13};
  HealthWatch watch(*lib, s);
  state.write(40, R"([{"id": 1, "gpu": 0, "xid": 13}])");
  auto x = watch.wait_xid(2000ms);
  REQUIRE(x);
  CHECK(x->critical);

  auto missing = nvml::Library::load("/nonexistent/libnvidia-ml.so.1");
  HealthWatch none(*missing, WatchSettings{});
  CHECK_FALSE(none.events_available());
  CHECK_FALSE(none.wait_xid(10ms));
  CHECK(none.poll(std::chrono::steady_clock::now()).size() >= 1);  // gpu_count n/a
}

TEST_CASE("watch: a host-resource shortage is a warn until it lasts, then a resource fail that never drains as hardware",
          "[agent][watch][resource]") {
  FakeState state;
  state.write(40);
  auto lib = nvml::Library::load(AUTORESUME_FAKE_NVML);
  WatchSettings s;
  s.resource_for = 10s;
  s.thresholds.disks.push_back({"/", ~0ull});  // no disk has this much free
  HealthWatch watch(*lib, s);
  auto t0 = std::chrono::steady_clock::now();
  auto first = watch.poll(t0);
  CHECK(find(first, "disk:/").verdict == Verdict::Warn);
  CHECK(find(first, "disk:/").resource);
  CHECK(resource_drain_reason(first).empty());
  auto later = watch.poll(t0 + 10s);
  CHECK(find(later, "disk:/").verdict == Verdict::Fail);
  CHECK(drain_reason(later).empty());  // not a hardware reason: nothing to replace
  CHECK(resource_drain_reason(later).rfind("autoresume: resource: disk:/: ", 0) == 0);
  CHECK(reason_class(resource_drain_reason(later)) == ReasonClass::Resource);
  CHECK_FALSE(find(later, "gpu0:temperature").resource);
}
