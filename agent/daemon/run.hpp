// SPDX-License-Identifier: GPL-2.0-or-later
// `autoresume-agent run`: the daemon. Polls every check each Interval and waits on NVML's XID events between
// polls; on a fail verdict drains its own node through libslurm (reason "autoresume: <check>: <detail>") and wakes
// the controller; never drains for a warn, never touches a reason that is not auto-resume's. Sends the controller
// a heartbeat every HeartbeatInterval (munge-signed POSTs; a controller that is down only costs a log line: the
// drain alone is enough) and serves /metrics. Each heartbeat carries a summary of the progress reports of the
// jobs on the node (daemon/progress.hpp): one entry per job, whatever the number of ranks or steps.
// The GPU ladder (remediation/xid_ladder.hpp): a critical XID's rung goes into the drain reason; the agent itself
// carries out two rungs: restart_app (the drain alone requeues the jobs; the GPU is released at once) and
// reset_gpu (the reset command once the node is drained and idle, its outcome written into the reason).
#pragma once

#include <atomic>
#include <chrono>
#include <string>

#include "daemon/health_watch.hpp"

namespace autoresume::agent {

struct RunSettings {
  std::string node;
  WatchSettings watch;
  std::chrono::milliseconds interval{1000};
  std::string controller_url;  // empty: no heartbeats, no wake-ups
  std::string munge_socket;
  std::string cluster;  // what credentials name; empty: Slurm's ClusterName
  std::chrono::milliseconds heartbeat_interval{1000};
  std::string listen = "127.0.0.1:6829";  // /metrics; "none" to serve nothing
  // Where jobs' progress reports are (the plugin's progress_dir): each heartbeat carries their summary.
  std::string progress_dir = "/run/autoresume/progress";
  // The reset_gpu rung: run once the node is drained and idle, "{gpu}" replaced by the GPU's index; exit 0 = done.
  std::vector<std::string> gpu_reset_command = {"nvidia-smi", "-r", "-i", "{gpu}"};
  std::chrono::milliseconds gpu_reset_timeout{std::chrono::seconds(120)};
};

int run_daemon(const std::string& nvml_lib, const RunSettings& settings, const std::atomic<bool>& stopping);

}  // namespace autoresume::agent
