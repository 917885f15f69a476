// SPDX-License-Identifier: GPL-2.0-or-later
// A real Prometheus for integration tests, and small helpers around it.
#pragma once

#include "catch_compat.hpp"
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "devcluster.hpp"

namespace autoresume::testing {

inline std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// A free TCP port on loopback, as the kernel picks it.
inline std::string free_port() {
  return trim(run("python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])'").out);
}

// Stops a process started by a test, by its PID: TERM, then KILL after 5 s.
inline void stop_pid(int pid) {
  if (pid > 0) run("kill " + std::to_string(pid) + "; for i in $(seq 1 50); do kill -0 " + std::to_string(pid) +
                   " 2>/dev/null || exit 0; sleep 0.1; done; kill -9 " + std::to_string(pid));
}

// Prometheus (Debian's package) on a free loopback port, scraping each job's targets (host:port) every second;
// stopped by its PID.
struct Prometheus {
  std::string dir, url;
  int pid = 0;
  // rule_files: alert rule files it evaluates (every second); alertmanager: host:port it sends alerts to.
  Prometheus(const std::string& base, const std::vector<std::pair<std::string, std::string>>& jobs,
             const std::vector<std::string>& rule_files = {}, const std::string& alertmanager = "")
      : dir(base + "/prometheus") {
    std::filesystem::remove_all(dir);  // no samples of an earlier run
    std::filesystem::create_directories(dir + "/data");
    std::ofstream conf(dir + "/prometheus.yml");
    conf << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n";
    if (!rule_files.empty()) {
      conf << "rule_files:\n";
      for (const auto& f : rule_files) conf << "  - '" << f << "'\n";
    }
    if (!alertmanager.empty())
      conf << "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['" << alertmanager << "']\n";
    conf << "scrape_configs:\n";
    std::map<std::string, std::vector<std::string>> targets;
    for (const auto& [job, target] : jobs) targets[job].push_back(target);
    for (const auto& [job, list] : targets) {
      conf << "  - job_name: " << job << "\n    static_configs:\n      - targets: [";
      for (size_t i = 0; i < list.size(); ++i) conf << (i ? ", '" : "'") << list[i] << "'";
      conf << "]\n";
    }
    conf.close();
    std::string port = free_port();
    url = "http://127.0.0.1:" + port;
    auto started = run("cd " + dir + " && nohup prometheus --config.file=prometheus.yml --storage.tsdb.path=data "
                       "--web.listen-address=127.0.0.1:" + port + " >prometheus.log 2>&1 & echo $!");
    pid = std::stoi(trim(started.out));
    REQUIRE(wait_until(std::chrono::seconds(30), [&] { return run("curl -sf " + url + "/-/ready").rc == 0; }));
  }
  ~Prometheus() { stop(); }
  void stop() {
    stop_pid(pid);
    pid = 0;
  }
  nlohmann::json query(const std::string& promql) {
    auto r = run("curl -s -G " + url + "/api/v1/query --data-urlencode 'query=" + std::regex_replace(promql, std::regex("'"), "'\\''") + "'");
    nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
    return j.is_discarded() ? nlohmann::json{{"status", "error"}, {"error", r.out}} : j;
  }
  double value(const std::string& promql) {
    nlohmann::json j = query(promql);
    if (j["status"] != "success" || j["data"]["result"].empty()) return -1;
    return std::stod(j["data"]["result"][0]["value"][1].get<std::string>());
  }
};

}  // namespace autoresume::testing
