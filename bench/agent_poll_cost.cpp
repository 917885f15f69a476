// SPDX-License-Identifier: GPL-2.0-or-later
// CPU and wall time of one agent poll cycle (NVML reads + GPU checks + host checks), against the host checks alone
// measured in the same run as the baseline. Median and p99 over N cycles.
//   agent_poll_cost [--cycles N] [--nvml-lib PATH]
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "checks/checks.hpp"
#include "daemon/health_watch.hpp"

using namespace autoresume;
using namespace autoresume::agent;

namespace {

double now(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Stats {
  double median, p99;
};

Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 99 / 100)]};
}

template <typename F>
std::pair<Stats, Stats> measure(int cycles, F&& cycle) {
  std::vector<double> cpu, wall;
  for (int i = 0; i < cycles; ++i) {
    double c0 = now(CLOCK_PROCESS_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);
    cycle();
    cpu.push_back((now(CLOCK_PROCESS_CPUTIME_ID) - c0) * 1e6);
    wall.push_back((now(CLOCK_MONOTONIC) - w0) * 1e6);
  }
  return {stats(cpu), stats(wall)};
}

}  // namespace

int main(int argc, char** argv) {
  int cycles = 1000;
  std::string lib_path = "libnvidia-ml.so.1";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--cycles")) cycles = std::max(1, std::atoi(argv[i + 1]));
    else if (!std::strcmp(argv[i], "--nvml-lib")) lib_path = argv[i + 1];
  }
  auto lib = nvml::Library::load(lib_path);
  if (!lib->available()) {
    std::fprintf(stderr, "agent_poll_cost: NVML unavailable: %s\n", lib->unavailable_reason().c_str());
    return 1;
  }
  Thresholds t;
  t.disks = {{"/", 0}};
  size_t gpus = 0;
  auto [full_cpu, full_wall] = measure(cycles, [&] {
    auto g = read_gpus(*lib);
    gpus = g.size();
    auto r = gpu_checks(*lib, g, t);
    auto h = host_checks(t);
    if (r.empty() || h.empty()) std::abort();
  });
  auto [host_cpu, host_wall] = measure(cycles, [&] {
    if (host_checks(t).empty()) std::abort();
  });
  // The daemon's cycle (autoresume-agent run): the same checks through HealthWatch, plus a non-blocking look at
  // the NVML XID event set.
  WatchSettings ws;
  ws.thresholds = t;
  HealthWatch watch(*lib, ws);
  auto [watch_cpu, watch_wall] = measure(cycles, [&] {
    if (watch.poll(std::chrono::steady_clock::now()).empty()) std::abort();
    watch.wait_xid(std::chrono::milliseconds(0));
  });
  std::printf("agent poll cycle, %d cycles, %zu GPU(s), NVML %s\n", cycles, gpus, lib_path.c_str());
  std::printf("%-28s %12s %12s %12s %12s\n", "cycle", "cpu p50 us", "cpu p99 us", "wall p50 us", "wall p99 us");
  std::printf("%-28s %12.1f %12.1f %12.1f %12.1f\n", "host checks only (baseline)", host_cpu.median, host_cpu.p99,
              host_wall.median, host_wall.p99);
  std::printf("%-28s %12.1f %12.1f %12.1f %12.1f\n", "NVML + GPU + host checks", full_cpu.median, full_cpu.p99,
              full_wall.median, full_wall.p99);
  std::printf("%-28s %12.1f %12.1f %12.1f %12.1f\n", "daemon cycle (+ XID events)", watch_cpu.median, watch_cpu.p99,
              watch_wall.median, watch_wall.p99);
  std::printf("XID event set: %s\n", watch.events_available() ? "created, GPUs registered" : "not available");
  std::printf("ratio (cpu p50, full / baseline): %.2f\n", full_cpu.median / host_cpu.median);
  return 0;
}
