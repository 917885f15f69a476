// SPDX-License-Identifier: GPL-2.0-or-later
// Node lifecycles on a real cluster: replace (scripts/devcluster replace-node, a fresh slurmd under the same
// name), validation as a job in the controller's maintenance reservation, quarantine, the reboot path, admin
// objects left alone, and controller crashes in the middle.
#include "catch_compat.hpp"
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "devcluster.hpp"
#include "resume_cluster.hpp"

using namespace autoresume;
using namespace autoresume::testing;
using namespace std::chrono_literals;

namespace {

// One node fails at a time here: the breaker's settle delay (tested with the breaker) would only add time.
constexpr const char* kNoSettle = "BreakerSettle=0s";

std::string agent_check() { return "ValidationProgram=" + binary_dir() + "/agent/autoresume-agent check"; }

bool has_reservation(DevCluster& c, const std::string& name) {
  auto resv = c.slurm().load_reservations();
  REQUIRE(resv.ok());
  for (const auto& r : *resv)
    if (r.name == name) return true;
  return false;
}

NodePhase phase_of(ResumeCluster& rc, const std::string& node) {
  auto store = Store::open(rc.c.controller_db());
  REQUIRE(store.ok());
  auto nodes = store.value()->load_nodes();
  auto it = nodes.find(node);
  return it == nodes.end() ? NodePhase::Healthy : it->second.phase;
}

}  // namespace

TEST_CASE("(lifecycle a) no spare capacity: the job is held until its node is replaced and validated, then resumes",
          "[lifecycle]") {
  const std::string name = "lc-replace";
  ResumeCluster rc(name, {replace_program(name), agent_check(), kNoSettle}, "", 2);
  uint32_t id = rc.submit_counter("--auto-resume=1", 40);
  rc.wait_running(id);
  REQUIRE(wait_until(30s, [&] { return rc.checkpoint() >= 8; }));
  rc.c.kill_node("n2");

  bool reservation_seen = false;
  bool held_seen = false;
  REQUIRE(wait_until(90s, [&] {
    reservation_seen |= has_reservation(rc.c, "autoresume-n2");
    Job j = rc.c.job(id);
    held_seen |= j.held && j.state == JobState::Pending;
    return j.state == JobState::Running && j.restart_count == 1;
  }));
  CHECK(reservation_seen);  // validation ran in the controller's reservation
  CHECK(held_seen);
  CHECK_FALSE(has_reservation(rc.c, "autoresume-n2"));
  CHECK(rc.c.node("n2").reason.empty());

  // Exactly one replace and one validation; the job was released only after the validation passed.
  REQUIRE(rc.actions("replace").size() == 1);
  REQUIRE(rc.actions("validate").size() == 1);
  REQUIRE(rc.events("node_validated").size() == 1);
  auto releases = rc.actions("release");
  REQUIRE(releases.size() == 1);
  CHECK(releases[0].at > rc.events("node_validated")[0].at);
  CHECK(rc.c.job(id).nodes == std::vector<std::string>{"n1", "n2"});

  REQUIRE(wait_until(60s, [&] { return rc.c.job(id).state == JobState::Completed; }));
  check_steps_resumed_once(rc.steps_log(), read_file(rc.c.work_dir() + "/counter.out"), 40);
}

TEST_CASE("(lifecycle b) a node that fails validation is retried, then quarantined, and the job runs elsewhere",
          "[lifecycle]") {
  const std::string name = "lc-quarantine";
  // A validation that says why it fails, on stdout and stderr: the admin reads it in the events and autoresumectl.
  std::string check = binary_dir() + "/integration-clusters-validate-fails.sh";
  {
    std::ofstream(check) << "#!/bin/sh\necho \"checking $AUTORESUME_NODE: 0 GPUs\"\n"
                            "echo \"FAIL: $AUTORESUME_NODE nvlink link 3 down\" >&2\nexit 1\n";
  }
  REQUIRE(run("chmod 755 " + check).rc == 0);
  ResumeCluster rc(name, {replace_program(name), "ValidationProgram=" + check, "ValidationAttempts=2", kNoSettle}, "", 3);
  uint32_t blocker = rc.c.sbatch("-N1 -w n3 -o /dev/null --wrap 'sleep 600'");
  rc.wait_running(blocker);
  uint32_t id = rc.submit_counter("--auto-resume=1", 30);
  rc.wait_running(id);
  REQUIRE(wait_until(30s, [&] { return rc.checkpoint() >= 5; }));
  rc.c.kill_node("n2");

  REQUIRE(wait_until(90s, [&] { return phase_of(rc, "n2") == NodePhase::Quarantined; }));
  CHECK(rc.actions("validate").size() == 2);
  CHECK(rc.events("validation_failed").size() == 1);
  CHECK(rc.events("node_quarantined").size() == 1);
  REQUIRE(wait_until(10s, [&] { return !has_reservation(rc.c, "autoresume-n2"); }));
  Node n2 = rc.c.node("n2");
  CHECK(n2.drain);
  CHECK(n2.reason.rfind("autoresume: quarantined: validation failed", 0) == 0);
  CHECK(rc.c.job(id).state == JobState::Pending);  // no capacity: n2 is out, n3 busy
  // What the validation said: in the events, in the node's report under StateDir, and from autoresumectl.
  for (const auto& e : {rc.events("validation_failed").at(0), rc.events("node_quarantined").at(0)}) {
    INFO(e.detail);
    CHECK(e.detail.find("exit 1; last lines: checking n2: 0 GPUs | FAIL: n2 nvlink link 3 down") != std::string::npos);
  }
  CHECK(n2.reason.find("nvlink") == std::string::npos);  // Slurm's Reason stays short
  size_t reports = 0;
  for (const auto& f : std::filesystem::directory_iterator(rc.c.dir() + "/autoresume/validation/n2")) reports += f.path().extension() == ".json";
  CHECK(reports == 2);
  auto shown = run("env AUTORESUME_URL=$(cat " + rc.c.dir() + "/autoresume.url) SLURM_CONF=" + rc.c.conf() + " " + binary_dir() +
                   "/ctl/autoresumectl nodes n2");
  INFO(shown.out);
  CHECK(shown.rc == 0);
  CHECK(shown.out.find("phase                quarantined") != std::string::npos);
  CHECK(shown.out.find("exit 1\n  | checking n2: 0 GPUs\n  | FAIL: n2 nvlink link 3 down\n") != std::string::npos);
  CHECK(shown.out.find("node_quarantined") != std::string::npos);

  rc.c.sh("scancel " + std::to_string(blocker));
  REQUIRE(wait_until(60s, [&] { return rc.c.job(id).state == JobState::Running; }));
  CHECK(rc.c.job(id).nodes == std::vector<std::string>{"n1", "n3"});
  REQUIRE(wait_until(60s, [&] { return rc.c.job(id).state == JobState::Completed; }));
  CHECK(rc.c.node("n2").drain);  // still quarantined: a human decides
}

TEST_CASE("(lifecycle c) Action:Reboot takes the reboot path", "[lifecycle]") {
  const std::string name = "lc-reboot";
  // The reboot program of this test: notes which node it was called for, then does what a reboot does here.
  std::string marker = std::string(AUTORESUME_ITEST_ROOT) + "/" + name + ".rebooted";
  std::string program = std::string(AUTORESUME_ITEST_ROOT) + "/" + name + "-reboot.sh";
  run("mkdir -p " + std::string(AUTORESUME_ITEST_ROOT) + " && rm -f " + marker);
  std::ofstream(program) << "#!/bin/sh\necho \"$1\" >" << marker << "\nexec " << source_dir()
                         << "/scripts/devcluster replace-node --dir " << cluster_dir(name) << " \"$1\"\n";
  run("chmod +x " + program);
  ResumeCluster rc(name, {replace_program(name), agent_check(), "RebootProgram=" + program, kNoSettle}, "", 2);
  rc.admin("n2", "drain", "Action:Reboot");
  REQUIRE(wait_until(60s, [&] { return rc.events("node_validated").size() == 1; }));
  CHECK(rc.actions("reboot").size() == 1);
  CHECK(rc.actions("replace").empty());
  CHECK(read_file(marker) == "n2\n");
  Node n2 = rc.c.node("n2");
  CHECK_FALSE(n2.drain);
  CHECK(n2.reason.empty());
}

TEST_CASE("(lifecycle g) on GPU nodes the validation job holds every GPU of the node and is told how many",
          "[lifecycle]") {
  const std::string name = "lc-gres";
  std::string marker = std::string(AUTORESUME_ITEST_ROOT) + "/" + name + ".gpus";
  std::string program = std::string(AUTORESUME_ITEST_ROOT) + "/" + name + "-validate.sh";
  run("mkdir -p " + std::string(AUTORESUME_ITEST_ROOT) + " && rm -f " + marker);
  // What the validation program sees; it runs long enough for the test to read the job's request.
  std::ofstream(program) << "#!/bin/sh\necho \"$AUTORESUME_NODE $AUTORESUME_NODE_GPUS\" >" << marker << "\nsleep 3\n";
  run("chmod +x " + program);
  ClusterOptions o = ResumeCluster::options(name, 2);
  o.gpus = 2;
  DevCluster c(name, o);
  c.start_controller({replace_program(name), "ValidationProgram=" + program, kNoSettle});
  c.kill_node("n2");
  std::string request;
  REQUIRE(wait_until(60s, [&] {
    auto r = c.sh("scontrol -o show job 2>/dev/null | grep 'JobName=autoresume-validate-n2 '");
    if (r.rc != 0) return false;
    request = r.out;
    return true;
  }));
  INFO(request);
  // 22.05 writes the request "gres:gpu:2", 23.11+ "gres/gpu:2".
  CHECK(std::regex_search(request, std::regex("TresPerNode=gres[:/]gpu:2")));
  REQUIRE(wait_until(60s, [&] { return read_file(marker) == "n2 2\n"; }));
}

TEST_CASE("(lifecycle e) an admin's reservation and an admin's drain survive a node's lifecycle untouched",
          "[lifecycle]") {
  const std::string name = "lc-admin";
  ResumeCluster rc(name, {replace_program(name), agent_check(), kNoSettle}, "", 4);
  auto made = rc.c.sh("scontrol create reservation reservationname=maint-n3 nodes=n3 users=root starttime=now "
                      "duration=60 flags=maint,ignore_jobs");
  INFO(made.out);
  REQUIRE(made.rc == 0);
  rc.admin("n4", "drain", "bad DIMM, ticket 4711");
  rc.c.kill_node("n2");
  REQUIRE(wait_until(90s, [&] { return rc.events("node_validated").size() == 1; }));
  std::this_thread::sleep_for(2s);
  CHECK(has_reservation(rc.c, "maint-n3"));
  Node n4 = rc.c.node("n4");
  CHECK(n4.drain);
  // The admin's words stay first and whole. slurmctld itself appends " : Not responding" to a drained node's reason
  // when its slurmd misses pings (seen on a loaded machine): that is Slurm's, not ours.
  CHECK(n4.reason.rfind("bad DIMM, ticket 4711", 0) == 0);
  for (const auto& a : rc.store_actions()) CHECK(a.target != "n4");
  CHECK(rc.c.node("n3").maint);
}

TEST_CASE("(lifecycle f) the controller SIGKILLed while Replacing and while Validating: one replace, one validation",
          "[lifecycle][restart]") {
  const std::string name = "lc-crash";
  std::vector<std::string> conf = {replace_program(name, "/bin/sleep 3; "), "ValidationProgram=/bin/sleep 4", kNoSettle};
  ResumeCluster rc(name, conf, "", 2);
  rc.c.kill_node("n2");
  REQUIRE(wait_until(60s, [&] { return rc.actions("replace").size() == 1; }));
  rc.c.devcluster("kill-controller");
  rc.c.start_controller(conf);
  REQUIRE(wait_until(60s, [&] { return rc.actions("validate").size() == 1; }));
  rc.c.devcluster("kill-controller");
  CHECK(has_reservation(rc.c, "autoresume-n2"));
  rc.c.start_controller(conf);
  REQUIRE(wait_until(60s, [&] { return rc.events("node_validated").size() == 1; }));
  CHECK(rc.actions("replace").size() == 1);
  CHECK(rc.actions("validate").size() == 1);
  CHECK(rc.actions("reserve").size() == 1);
  CHECK(phase_of(rc, "n2") == NodePhase::Healthy);
  CHECK_FALSE(has_reservation(rc.c, "autoresume-n2"));
  Node n2 = rc.c.node("n2");
  CHECK_FALSE(n2.drain);
  CHECK_FALSE(n2.not_responding);
}
