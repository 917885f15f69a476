// SPDX-License-Identifier: GPL-2.0-or-later
// Remediation through Slurm's own machinery, with no site program: a power cycle on a cluster with power saving
// (CLOUD nodes; devcluster's ResumeProgram starts a fresh slurmd that reports a new boot, as a new instance does),
// Slurm's reboot on a cluster with a RebootProgram, and a power-up that never comes back.
#include "catch_compat.hpp"
#include <ctime>
#include <fstream>

#include "devcluster.hpp"
#include "prometheus.hpp"
#include "resume_cluster.hpp"

using namespace autoresume;
using namespace autoresume::testing;
using namespace std::chrono_literals;

namespace {

constexpr const char* kNoSettle = "BreakerSettle=0s";

std::string agent_check() { return "ValidationProgram=" + binary_dir() + "/agent/autoresume-agent check"; }

ClusterOptions power_save(const std::string& name, int nodes, int resume_timeout = 0) {
  ClusterOptions o = ResumeCluster::options(name, nodes);
  o.power_save = true;
  o.resume_timeout = resume_timeout;
  return o;
}

NodePhase phase_of(ResumeCluster& rc, const std::string& node) {
  auto store = Store::open(rc.c.controller_db());
  REQUIRE(store.ok());
  auto nodes = store.value()->load_nodes();
  auto it = nodes.find(node);
  return it == nodes.end() ? NodePhase::Healthy : it->second.phase;
}

bool has_reservation(DevCluster& c, const std::string& name) {
  auto resv = c.slurm().load_reservations();
  REQUIRE(resv.ok());
  for (const auto& r : *resv)
    if (r.name == name) return true;
  return false;
}

}  // namespace

TEST_CASE("(remediation a) power saving: a killed node is power cycled (no ReplaceProgram) and its job resumes on it",
          "[remediation]") {
  const std::string name = "rm-power";
  ResumeCluster rc(power_save(name, 2), name, {agent_check(), kNoSettle});
  Node before = rc.c.node("n2");
  REQUIRE(before.base == NodeBase::Idle);  // up through the ResumeProgram
  auto check = rc.c.sh(binary_dir() + "/controller/autoresumed --check-slurm --config " + rc.c.dir() + "/autoresume.conf");
  INFO(check.out);
  CHECK(check.out.find("power_cycle (POWER_DOWN_FORCE, POWER_UP through power saving): available") != std::string::npos);
  CHECK(check.out.find("Action:Replace by power_cycle") != std::string::npos);
  uint32_t id = rc.submit_counter("--auto-resume=1", 40);
  rc.wait_running(id);
  REQUIRE(wait_until(30s, [&] { return rc.checkpoint() >= 8; }));
  std::time_t killed_at = std::time(nullptr);
  rc.c.kill_node("n2");

  // No spare node: the job waits for n2, which comes back through POWER_DOWN_FORCE, POWER_UP and validation.
  bool powered_down_seen = false;
  REQUIRE(wait_until(120s, [&] {
    powered_down_seen |= rc.c.node("n2").powered_down;
    Job j = rc.c.job(id);
    return j.state == JobState::Running && j.restart_count == 1;
  }));
  CHECK(powered_down_seen);
  REQUIRE(rc.actions("power_down").size() == 1);
  REQUIRE(rc.actions("power_up").size() == 1);
  CHECK(rc.actions("reboot").empty());
  CHECK(rc.events("node_replaced").size() == 1);
  REQUIRE(rc.events("node_validated").size() == 1);
  CHECK(rc.actions("power_up")[0].at > rc.actions("power_down")[0].at);
  Node n2 = rc.c.node("n2");
  CHECK_FALSE(n2.drain);
  CHECK(n2.reason.empty());
  CHECK(n2.boot_time >= killed_at);  // a new instance: it reported a boot after the kill
  CHECK_FALSE(has_reservation(rc.c, "autoresume-n2"));
  CHECK(rc.c.job(id).nodes == std::vector<std::string>{"n1", "n2"});
  auto metrics = run("curl -s " + trim(read_file(rc.c.dir() + "/autoresume.url")) + "/metrics");
  for (const char* outcome : {"started", "succeeded"})
    CHECK(metrics.out.find(std::string("autoresume_remediation_total{action=\"replace\",method=\"power_cycle\",outcome=\"") +
                           outcome + "\"} 1") != std::string::npos);

  REQUIRE(wait_until(60s, [&] { return rc.c.job(id).state == JobState::Completed; }));
  check_steps_resumed_once(rc.steps_log(), read_file(rc.c.work_dir() + "/counter.out"), 40);
}

TEST_CASE("(remediation b) a power-up that never comes back is a failed action and ends in quarantine, nothing held",
          "[remediation]") {
  const std::string name = "rm-broken";
  ResumeCluster rc(power_save(name, 2, 8), name, {agent_check(), kNoSettle, "QuarantineAfter=2"});
  std::ofstream(rc.c.dir() + "/power-broken") << "n2\n";  // devcluster's ResumeProgram leaves n2 off
  rc.c.kill_node("n2");

  REQUIRE(wait_until(120s, [&] { return phase_of(rc, "n2") == NodePhase::Quarantined; }));
  CHECK(rc.actions("power_down").size() == 1);
  CHECK(rc.actions("power_up").size() == 1);
  REQUIRE(rc.events("replace_failed").size() == 1);
  CHECK(rc.events("node_quarantined").size() == 1);
  CHECK(rc.events("node_validated").empty());
  // Nothing of ours held: the reservation is gone, the node stays out of service for a human.
  REQUIRE(wait_until(10s, [&] { return !has_reservation(rc.c, "autoresume-n2"); }));
  Node n2 = rc.c.node("n2");
  CHECK(n2.drain);
  CHECK(n2.reason.rfind("autoresume: quarantined", 0) == 0);
  // The other node still takes work.
  uint32_t id = rc.c.sbatch("-N1 -o /dev/null --wrap true");
  REQUIRE(wait_until(30s, [&] { return rc.c.job(id).state == JobState::Completed; }));
}

TEST_CASE("(remediation c) Action:Reboot through Slurm's own reboot (slurm.conf's RebootProgram), no site program",
          "[remediation]") {
  const std::string name = "rm-reboot";
  ClusterOptions o = ResumeCluster::options(name, 2);
  o.reboot_program = true;
  ResumeCluster rc(std::move(o), name, {agent_check(), kNoSettle});
  std::time_t asked_at = std::time(nullptr);
  rc.admin("n2", "drain", "Action:Reboot");
  REQUIRE(wait_until(90s, [&] { return rc.events("node_validated").size() == 1; }));
  REQUIRE(rc.actions("reboot").size() == 1);
  CHECK(rc.actions("reboot")[0].detail.find("scontrol reboot") != std::string::npos);
  CHECK(rc.actions("power_down").empty());
  Node n2 = rc.c.node("n2");
  CHECK(n2.boot_time >= asked_at);
  CHECK_FALSE(n2.reboot_issued);
  CHECK_FALSE(n2.drain);
  CHECK(n2.reason.empty());
  CHECK(n2.base == NodeBase::Idle);
}
