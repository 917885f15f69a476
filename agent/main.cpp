// SPDX-License-Identifier: GPL-2.0-or-later
// autoresume-agent: the node health agent. `check` runs every check once and prints the verdicts: usable as
// Slurm's HealthCheckProgram and as the controller's validation program. Exit 0 healthy, 1 unhealthy, 2 the
// agent itself could not run.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <iostream>
#include <set>
#include <sstream>
#include <nlohmann/json.hpp>

#include "checks/checks.hpp"
#ifdef AUTORESUME_AGENT_METRICS
#include "metrics/gpu_metrics.hpp"
#endif
#ifdef AUTORESUME_AGENT_SLURM
#include <signal.h>

#include "daemon/run.hpp"
#include "node_drain.hpp"
#include "slurm/libslurm_client.hpp"
#endif

using namespace autoresume;
using namespace autoresume::agent;
using json = nlohmann::json;

namespace {

json to_json(const GpuReading& g) {
  json j = {{"index", g.index}, {"name", g.name}, {"uuid", g.uuid}, {"lost", g.lost},
            {"nvlinks_supported", g.nvlinks_supported}, {"nvlinks_active", g.nvlinks_active}, {"errors", g.errors}};
  j["temperature_c"] = g.temperature ? json(*g.temperature) : json(nullptr);
  j["ecc_uncorrected_volatile"] = g.ecc_uncorrected_volatile ? json(*g.ecc_uncorrected_volatile) : json(nullptr);
  j["retired_pages_pending"] = g.retired_pages_pending ? json(*g.retired_pages_pending) : json(nullptr);
  if (g.remapped_rows)
    j["remapped_rows"] = {{"correctable", g.remapped_rows->correctable}, {"uncorrectable", g.remapped_rows->uncorrectable},
                          {"pending", g.remapped_rows->pending != 0}, {"failure", g.remapped_rows->failed != 0}};
  else
    j["remapped_rows"] = nullptr;
  return j;
}

// "PATH:SIZE" with SIZE like 10G, 500M or bytes.
DiskRule parse_disk_rule(const std::string& spec) {
  auto colon = spec.rfind(':');
  if (colon == std::string::npos || colon == 0) throw CLI::ValidationError("--disk", "expected PATH:SIZE, got \"" + spec + "\"");
  std::string size = spec.substr(colon + 1);
  uint64_t scale = 1;
  if (!size.empty() && (size.back() == 'G' || size.back() == 'M' || size.back() == 'K')) {
    scale = size.back() == 'G' ? 1ull << 30 : size.back() == 'M' ? 1ull << 20 : 1ull << 10;
    size.pop_back();
  }
  try {
    size_t used = 0;
    uint64_t n = std::stoull(size, &used);
    if (used != size.size()) throw std::invalid_argument(size);
    return {spec.substr(0, colon), n * scale};
  } catch (const std::exception&) {
    throw CLI::ValidationError("--disk", "expected a size like 10G, 500M or bytes in \"" + spec + "\"");
  }
}

// --drain: on a fail verdict of a hardware check, drain this node through Slurm (never for a warn, never over
// another's reason). A host-resource fail (memory, disk) is reported and sets the exit code, but one look is no
// reason to drain: `run` drains for it once it is sustained, with a resource reason.
std::string drain_if_failed(const std::vector<CheckResult>& results, const std::string& node) {
#ifdef AUTORESUME_AGENT_SLURM
  std::string reason = drain_reason(results);
  if (reason.empty()) return "";
  auto slurm = LibSlurmClient::open();
  if (!slurm) return "not drained: " + slurm.error().message;
  return drain_own_node(**slurm, node, reason);
#else
  (void)results;
  (void)node;
  return "not drained: this agent was built without Slurm (AUTORESUME_AGENT_ONLY)";
#endif
}

enum class Output { Text, Json, Metrics };

// One pass never asks Slurm anything but for --drain: it runs as HealthCheckProgram and as a validation job, where
// slurmctld may be slow or slurm.conf not where libslurm looks.
int run_check(const std::string& nvml_lib, const Thresholds& t, Output output, const std::string& node, bool drain) {
  auto lib = nvml::Library::load(nvml_lib);
  auto gpus = read_gpus(*lib);
  auto results = gpu_checks(*lib, gpus, t);
  auto host = host_checks(t);
  results.insert(results.end(), host.begin(), host.end());
  bool ok = healthy(results);
  std::string drained = drain ? drain_if_failed(results, node) : "";
  if (output == Output::Metrics) {
#ifdef AUTORESUME_AGENT_METRICS
    std::cout << render_metrics(node, gpus, results, lib->available());
#endif
  } else if (output == Output::Json) {
    json out = {{"node", node}, {"healthy", ok},
                {"nvml", {{"available", lib->available()}, {"library", nvml_lib}, {"reason", lib->unavailable_reason()}}}};
    out["gpus"] = json::array();
    for (const auto& g : gpus) out["gpus"].push_back(to_json(g));
    if (drain) out["drain"] = drained;
    out["checks"] = json::array();
    for (const auto& r : results) out["checks"].push_back({{"name", r.name}, {"verdict", to_string(r.verdict)}, {"detail", r.detail}});
    std::cout << out.dump(2) << "\n";
  } else {
    for (const auto& r : results) std::printf("%-5s %-22s %s\n", to_string(r.verdict), r.name.c_str(), r.detail.c_str());
    std::printf("%s: %s\n", node.c_str(), ok ? "healthy" : "UNHEALTHY");
    if (!drained.empty()) std::printf("%s\n", drained.c_str());
  }
  return ok ? 0 : 1;
}

}  // namespace

#ifdef AUTORESUME_AGENT_SLURM
std::atomic<bool> stopping{false};
void on_stop(int) { stopping = true; }
#endif

namespace {

int run(int argc, char** argv) {
  CLI::App app{"autoresume-agent: GPU and host health checks for slurm-auto-resume"};
  app.require_subcommand(1);
  std::string nvml_lib = "libnvidia-ml.so.1";
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  std::string node = host;
  app.add_option("--nvml-lib", nvml_lib, "NVML library to load")->capture_default_str();
  app.add_option("--node", node, "node name to report (default: the host name)");

  Thresholds t;
  bool as_json = false;
  unsigned expected = 0;
  std::vector<std::string> disks;
  uint64_t mem_min_mb = t.min_memory_available >> 20;
  auto* check = app.add_subcommand("check", "run every check once; exit 0 healthy, 1 unhealthy, 2 agent error");
  check->fallthrough();  // --nvml-lib and --node also after the subcommand
  check->add_flag("--json", as_json, "machine-readable output");
  bool as_metrics = false;
#ifdef AUTORESUME_AGENT_METRICS
  check->add_flag("--metrics", as_metrics, "Prometheus text format (node_exporter's textfile collector)")->excludes("--json");
#endif
  bool drain = false;
  check->add_flag("--drain", drain, "on a fail verdict, drain this node (--node) in Slurm with the failing check as reason");
  check->add_option("--gpu-temp-max", t.gpu_temp_max, "fail above this GPU temperature (C)")->capture_default_str();
  auto* exp = check->add_option("--expected-gpus", expected, "fail unless exactly this many GPUs are seen");
  check->add_option("--disk", disks, "PATH:SIZE, fail when PATH has less free space (repeatable)");
  check->add_option("--memory-min-mb", mem_min_mb, "fail when less memory is available (MiB)")->capture_default_str();

#ifdef AUTORESUME_AGENT_SLURM
  RunSettings run;
  run.node = node;
  double interval_s = 1, temp_for_s = 30, heartbeat_s = 1, resource_for_s = 60;
  std::vector<unsigned long long> xids;
  auto* daemon = app.add_subcommand("run", "the daemon: poll and watch XID events, drain on a fail verdict, heartbeats, /metrics");
  daemon->fallthrough();
  daemon->add_option("--interval", interval_s, "seconds between polls")->capture_default_str()->check(CLI::Range(0.05, 3600.0));
  daemon->add_option("--gpu-temp-max", t.gpu_temp_max, "fail above this GPU temperature (C) ...")->capture_default_str();
  daemon->add_option("--gpu-temp-for", temp_for_s, "... once it lasted this many seconds")->capture_default_str()->check(CLI::Range(0.0, 86400.0));
  daemon->add_option("--resource-for", resource_for_s,
                     "a memory or disk shortage drains (reason \"autoresume: resource: ...\", no replacement; undrained "
                     "when it clears) once it lasted this many seconds")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 86400.0));
  run.watch.ladder_state = "/var/lib/autoresume-agent/ladder.json";
  daemon->add_option("--xid", xids, "critical XID numbers (repeatable; default: the XID ladder's, see --xid-ladder)");
  std::string xid_ladder, reset_command = "nvidia-smi -r -i {gpu}";
  double ladder_window_h = 24, reset_timeout_s = 120;
  daemon->add_option("--xid-ladder", xid_ladder,
                     "a file of \"XID RUNG\" lines over the built-in table (RUNG: restart_app, reset_gpu, reboot, "
                     "replace, none)");
  daemon->add_option("--ladder-state", run.watch.ladder_state, "where the rungs tried per GPU are kept across restarts")
      ->capture_default_str();
  daemon->add_option("--ladder-window", ladder_window_h, "hours a tried rung is remembered (a fault after that starts "
                     "at its own rung again)")->capture_default_str()->check(CLI::Range(0.0, 24.0 * 365));
  daemon->add_option("--gpu-reset-command", reset_command,
                     "the reset_gpu rung's command, words split on spaces, {gpu} for the index; run once the node is "
                     "drained and idle; exit 0 means done")->capture_default_str();
  daemon->add_option("--gpu-reset-timeout", reset_timeout_s, "seconds before the reset command is killed (failed)")
      ->capture_default_str()->check(CLI::Range(1.0, 3600.0));
  auto* dexp = daemon->add_option("--expected-gpus", expected, "fail unless exactly this many GPUs are seen");
  daemon->add_option("--disk", disks, "PATH:SIZE, fail when PATH has less free space (repeatable)");
  daemon->add_option("--memory-min-mb", mem_min_mb, "fail when less memory is available (MiB)")->capture_default_str();
  daemon->add_option("--controller", run.controller_url, "the controller's API, for heartbeats and wake-ups (e.g. http://ctl:6828); a high-availability pair's as URL,URL: each gets them");
  daemon->add_option("--munge-socket", run.munge_socket, "munged's socket (default: munge's)");
  daemon->add_option("--cluster", run.cluster, "the cluster the controller's credentials name (default: Slurm's ClusterName)");
  daemon->add_option("--heartbeat-interval", heartbeat_s, "seconds between heartbeats")->capture_default_str()->check(CLI::Range(0.1, 3600.0));
  daemon->add_option("--listen", run.listen, "HOST:PORT for /metrics, or none")->capture_default_str();
  daemon->add_option("--progress-dir", run.progress_dir,
                     "where jobs' progress reports are (the plugin's progress_dir), sent with the heartbeats")
      ->capture_default_str();
#endif
  try {
    app.parse(argc, argv);
    if (exp->count()) t.expected_gpus = expected;
    for (const auto& d : disks) t.disks.push_back(parse_disk_rule(d));
    t.min_memory_available = mem_min_mb << 20;
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
#ifdef AUTORESUME_AGENT_SLURM
  if (daemon->parsed()) {
    if (dexp->count()) t.expected_gpus = expected;
    run.node = node;
    if (!t.expected_gpus) {  // none configured: the node's gpu GRES in Slurm (the daemon runs beside slurmd)
      auto slurm = LibSlurmClient::open();
      if (!slurm) {
        std::cerr << "autoresume-agent: " << slurm.error().message << "\n";
        return 2;
      }
      t.expected_gpus = expected_gpus_from_slurm(**slurm, node);
    }
    run.watch.thresholds = t;
    run.watch.temp_for = std::chrono::milliseconds(static_cast<long long>(temp_for_s * 1000));
    run.watch.resource_for = std::chrono::milliseconds(static_cast<long long>(resource_for_s * 1000));
    if (!xids.empty()) run.watch.critical_xids = std::set<unsigned long long>(xids.begin(), xids.end());
    if (!xid_ladder.empty()) {
      auto table = load_xid_table(xid_ladder);
      if (!table) {
        std::cerr << "autoresume-agent: --xid-ladder " << table.error().message << "\n";
        return 2;
      }
      run.watch.xid_table = *table;
    }
    run.watch.ladder_window_s = ladder_window_h * 3600;
    run.gpu_reset_command.clear();
    std::istringstream words(reset_command);
    for (std::string w; words >> w;) run.gpu_reset_command.push_back(w);
    if (run.gpu_reset_command.empty()) {
      std::cerr << "autoresume-agent: --gpu-reset-command: expected a command, got \"" << reset_command << "\"\n";
      return 2;
    }
    run.gpu_reset_timeout = std::chrono::milliseconds(static_cast<long long>(reset_timeout_s * 1000));
    run.interval = std::chrono::milliseconds(static_cast<long long>(interval_s * 1000));
    run.heartbeat_interval = std::chrono::milliseconds(static_cast<long long>(heartbeat_s * 1000));
    signal(SIGTERM, on_stop);
    signal(SIGINT, on_stop);
    try {
      return run_daemon(nvml_lib, run, stopping);
    } catch (const std::exception& e) {
      std::cerr << "autoresume-agent: " << e.what() << "\n";
      return 2;
    }
  }
#endif
  try {
    Output output = as_metrics ? Output::Metrics : as_json ? Output::Json : Output::Text;
    return run_check(nvml_lib, t, output, node, drain);
  } catch (const std::exception& e) {
    std::cerr << "autoresume-agent: " << e.what() << "\n";
    return 2;
  }
}

}  // namespace

// Nothing leaves the process as an uncaught exception: whatever escaped is one line and exit 2 (the agent's own
// failure, never read as a health verdict).
int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "autoresume-agent: " << e.what() << "\n";
    return 2;
  }
}
