// SPDX-License-Identifier: GPL-2.0-or-later
// Observability on a real cluster: a real Prometheus (Debian's package, on loopback) scrapes the controller
// through a kill-node recovery; every PromQL expression of the dashboards and alert rules is accepted by that
// Prometheus and names only metrics this project exports; autoresumectl drives a manual replace end to end and
// is refused for a user who is not root.
#include "catch_compat.hpp"
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "devcluster.hpp"
#include "prometheus.hpp"
#include "resume_cluster.hpp"

using namespace autoresume;
using namespace autoresume::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

std::string url_of(DevCluster& c) { return trim(read_file(c.dir() + "/autoresume.url")); }

// Every "expr" in the alert rules and in the dashboards' targets, with Grafana's variables filled in.
std::vector<std::string> project_expressions() {
  std::vector<std::string> out;
  std::string rules = read_file(source_dir() + "/observability/prometheus/autoresume-rules.yml");
  std::regex one_line("expr: (.+)"), block("expr: \\|\\n((?:          .*\\n)+)");
  for (std::sregex_iterator it(rules.begin(), rules.end(), one_line), end; it != end; ++it)
    if ((*it)[1] != "|") out.push_back((*it)[1]);
  for (std::sregex_iterator it(rules.begin(), rules.end(), block), end; it != end; ++it) out.push_back((*it)[1]);
  for (const char* board : {"autoresume.json", "gpu-health.json", "slurm-jobs.json"}) {
    json d = json::parse(read_file(source_dir() + "/observability/grafana/" + board));
    for (const auto& panel : d["panels"])
      for (const auto& t : panel.value("targets", json::array())) {
        std::string e = t["expr"];
        e = std::regex_replace(e, std::regex("\\$__rate_interval"), "5m");
        e = std::regex_replace(e, std::regex("\\$(partition|node|user)"), ".*");
        out.push_back(e);
      }
  }
  return out;
}

}  // namespace

TEST_CASE("Prometheus scrapes a recovery, accepts every project expression, and autoresumectl acts as root only",
          "[observability]") {
  const std::string name = "obs";
  ResumeCluster rc(name, {replace_program(name), "ValidationProgram=" + binary_dir() + "/agent/autoresume-agent check",
                          "BreakerSettle=0s"});
  std::string url = url_of(rc.c);
  Prometheus prom(rc.c.dir(), {{"autoresume-controller", url.substr(std::string("http://").size())}});
  REQUIRE(wait_until(30s, [&] { return prom.value("autoresume_slurmctld_up") == 1; }));
  CHECK(prom.value("autoresume_resumes_total") == 0);

  // A kill-node recovery, seen by Prometheus.
  uint32_t id = rc.submit_counter("--auto-resume=1", 30);
  rc.wait_stepping(id);
  std::string victim = rc.c.job(id).nodes.back();
  rc.c.kill_node(victim);
  // While it recovers, the node is out of service, by name.
  REQUIRE(wait_until(60s, [&] { return prom.value("autoresume_node_out_of_service{node=\"" + victim + "\"}") == 1; }));
  REQUIRE(wait_until(90s, [&] {
    Job j = rc.c.job(id);
    return j.state == JobState::Running && j.restart_count == 1;
  }));
  REQUIRE(wait_until(20s, [&] { return prom.value("autoresume_resumes_total") == 1; }));
  CHECK(prom.value("autoresume_recovery_duration_seconds_count") == 1);
  CHECK(prom.value("autoresume_recovery_duration_seconds_sum") > 0);
  CHECK(prom.value("sum(autoresume_node_failures_total)") >= 1);

  // Every expression: valid PromQL for this Prometheus, naming only metrics this project exports.
  // A pending job, so that the per-partition pending age has a series.
  rc.c.sbatch("--hold -o /dev/null --wrap true");
  std::set<std::string> exported;
  std::string metrics;
  REQUIRE(wait_until(10s, [&] {
    metrics = run("curl -s " + url + "/metrics").out;
    return metrics.find("autoresume_oldest_pending_job_age_seconds{") != std::string::npos;
  }));
  std::string state = rc.c.dir() + "/gpus.json";
  std::ofstream(state) << R"({"gpus": [{"name": "Fake H200", "temperature": 40, "ecc_uncorrected": 0,
      "remapped": {"correctable": 0, "uncorrectable": 0, "pending": 0, "failure": 0}, "nvlink": [true]}]})";

  metrics += run("env FAKE_NVML_STATE=" + state + " " + binary_dir() + "/agent/autoresume-agent check --metrics --nvml-lib " +
                 AUTORESUME_FAKE_NVML).out;
  std::regex type_line("# TYPE (\\S+) (\\S+)");
  for (std::sregex_iterator it(metrics.begin(), metrics.end(), type_line), end; it != end; ++it) {
    std::string n = (*it)[1];
    exported.insert(n);
    if ((*it)[2] == "histogram")
      for (const char* suffix : {"_bucket", "_count", "_sum"}) exported.insert(n + suffix);
  }
  exported.insert("up");  // Prometheus' own, per scrape target
  // And every name Prometheus scraped from the controller during the test (series that come and go, such as a
  // node out of service while it recovers).
  json names = json::parse(run("curl -s " + prom.url + "/api/v1/label/__name__/values").out, nullptr, false);
  REQUIRE(!names.is_discarded());
  for (const auto& n : names.value("data", json::array())) exported.insert(n.get<std::string>());
  auto exprs = project_expressions();
  CHECK(exprs.size() >= 30);
  std::regex metric_name("([a-zA-Z_:][a-zA-Z0-9_:]*)\\s*\\{|\\b(autoresume_[a-z_]+)\\b");
  for (const auto& e : exprs) {
    INFO(e);
    json r = prom.query(e);
    CHECK(r["status"] == "success");
    for (std::sregex_iterator it(e.begin(), e.end(), metric_name), end; it != end; ++it) {
      std::string n = (*it)[1].matched ? (*it)[1].str() : (*it)[2].str();
      INFO(n);
      CHECK(exported.count(n) == 1);
    }
  }

  // autoresumectl: a user is refused, root replaces a node end to end.
  // ClusterName, which credentials name, comes from this cluster's slurmctld through libslurm.
  std::string ctl = "env AUTORESUME_URL=" + url + " AUTORESUME_MUNGE_SOCKET=" + rc.c.dir() + "/munge/munge.socket " +
                    "SLURM_CONF=" + rc.c.dir() + "/slurm.conf " + binary_dir() + "/ctl/autoresumectl";
  auto refused = run(as_user(ctl + " replace n1"));
  INFO(refused.out);
  CHECK(refused.rc == 1);
  CHECK(refused.out.find("HTTP 403") != std::string::npos);
  auto validated_n1 = [&] {
    auto v = rc.events("node_validated");
    return std::count_if(v.begin(), v.end(), [](const EventRow& e) { return e.subject == "n1"; });
  };
  auto validated_before = validated_n1();
  INFO("n1 validations before the replace: " << validated_before);
  auto replaced = run(ctl + " replace n1");
  INFO(replaced.out);
  REQUIRE(replaced.rc == 0);
  CHECK(replaced.out.find("replace n1: accepted") != std::string::npos);
  REQUIRE(wait_until(90s, [&] { return validated_n1() == validated_before + 1; }));
  CHECK(rc.actions("replace").back().target == "n1");
  auto nodes = run(ctl + " --json nodes");
  json parsed = json::parse(nodes.out);
  for (const auto& n : parsed)
    if (n["name"] == "n1") CHECK(n["phase"] == "healthy");
  auto down = run("env AUTORESUME_URL=http://127.0.0.1:1 " + binary_dir() + "/ctl/autoresumectl status");
  CHECK(down.rc == 3);
  CHECK(down.out.find("cannot reach autoresumed") != std::string::npos);
}
