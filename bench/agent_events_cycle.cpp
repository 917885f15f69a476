// SPDX-License-Identifier: GPL-2.0-or-later
// What the reset_gpu rung does to the agent's own NVML use, on a real GPU (never resetting it): the XID event set
// is freed before the reset command runs (an NVML client holding the device can make `nvidia-smi -r` refuse) and
// created again after. Measures that cycle N times and checks that XID events are watched again after each, that a
// poll still reads every GPU, and that the ladder's state file is written.
//   agent_events_cycle [--cycles N] [--nvml-lib PATH] [--state FILE]
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "daemon/health_watch.hpp"

using namespace autoresume;
using namespace autoresume::agent;

namespace {

double now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  int cycles = 20;
  std::string lib_path = "libnvidia-ml.so.1", state = "/tmp/agent-events-cycle-ladder.json";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--cycles")) cycles = std::max(1, std::atoi(argv[i + 1]));
    if (!std::strcmp(argv[i], "--nvml-lib")) lib_path = argv[i + 1];
    if (!std::strcmp(argv[i], "--state")) state = argv[i + 1];
  }
  auto lib = nvml::Library::load(lib_path);
  if (!lib->available()) {
    std::printf("agent_events_cycle: NVML not available: %s\n", lib->unavailable_reason().c_str());
    return 2;
  }
  WatchSettings s;
  s.ladder_state = state;
  HealthWatch watch(*lib, s);
  auto first = watch.poll(std::chrono::steady_clock::now());
  size_t gpus = watch.last_readings().size();
  std::printf("gpus %zu, xid events watched: %s\n", gpus, watch.events_available() ? "yes" : "no");
  if (!watch.events_available()) return 1;
  std::vector<double> close_ms, open_ms;
  int failures = 0;
  for (int i = 0; i < cycles; ++i) {
    double t0 = now();
    watch.close_events();
    double t1 = now();
    watch.open_events();
    double t2 = now();
    close_ms.push_back((t1 - t0) * 1e3);
    open_ms.push_back((t2 - t1) * 1e3);
    bool ok = watch.events_available() && !watch.wait_xid(std::chrono::milliseconds(20)) &&
              (watch.poll(std::chrono::steady_clock::now()), watch.last_readings().size() == gpus);
    failures += ok ? 0 : 1;
  }
  std::sort(close_ms.begin(), close_ms.end());
  std::sort(open_ms.begin(), open_ms.end());
  std::printf("%d cycles: free the event set median %.2f ms (max %.2f), create and register again median %.2f ms "
              "(max %.2f); cycles without events or GPUs after: %d\n",
              cycles, close_ms[close_ms.size() / 2], close_ms.back(), open_ms[open_ms.size() / 2], open_ms.back(), failures);
  // The ladder's state on this machine's disk: a rung chosen for GPU 0 is there after a new watch reads it.
  XidSeen x{0, 62, true};
  watch.record_xid(x);
  HealthWatch again(*lib, s);
  again.record_xid(x);
  std::string second = again.latched().count(0) && again.latched().at(0).rung ? to_string(*again.latched().at(0).rung) : "none";
  std::printf("ladder: xid 62 on gpu0 -> %s, the same after a restart -> %s (state %s)\n",
              watch.latched().count(0) && watch.latched().at(0).rung ? to_string(*watch.latched().at(0).rung) : "none",
              second.c_str(), state.c_str());
  std::remove(state.c_str());
  return failures == 0 && second == "reboot" ? 0 : 1;
}
