// SPDX-License-Identifier: GPL-2.0-or-later
// Node lifecycles against the in-memory Slurm: every transition, every timeout, a restart in the middle, and the
// nodes that are not ours.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "catch_compat.hpp"
#include <chrono>
#include <ctime>
#include <filesystem>
#include <thread>

#include "engine/controller.hpp"
#include "slurm/fake_slurm.hpp"

using namespace autoresume;
using Calls = std::vector<std::string>;

namespace {

struct Cluster {
  FakeSlurm slurm;
  std::unique_ptr<Store> store = Store::open(":memory:").value();
  Config config;
  std::unique_ptr<Controller> ctl;

  Cluster() {
    set_log_level(LogLevel::Error);
    config.state_dir = std::filesystem::temp_directory_path() / ("autoresume-lifecycle-" + std::to_string(getpid()));
    config.validation_program = "/usr/sbin/autoresume-agent check";
    config.breaker_fraction = 1.0;  // these tests are about one node at a time
    config.breaker_settle = std::chrono::seconds(0);
    config.restart_settle = std::chrono::seconds(0);  // the fake has no credentials to revoke
    for (const char* n : {"n1", "n2", "n3", "n4"}) slurm.add_node(n);
    restart();
  }
  void restart() {
    ctl = std::make_unique<Controller>(slurm, *store, config);
    ctl->recover();
  }
  Calls tick() {
    slurm.calls.clear();
    ctl->tick();
    return slurm.calls;
  }
  NodePhase phase(const std::string& n) {
    auto it = ctl->node_records().find(n);
    return it == ctl->node_records().end() ? NodePhase::Healthy : it->second.phase;
  }
  const NodeRecord& record(const std::string& n) { return ctl->node_records().at(n); }
  void dies(const std::string& n) {
    auto& node = slurm.nodes[n];
    node.base = NodeBase::Down;
    node.not_responding = true;
    node.reason = "Not responding";
  }
  // A fresh slurmd under the node's name: what a replace program (or a reboot) brings. The drain stays.
  void fresh_slurmd(const std::string& n) {
    auto& node = slurm.nodes[n];
    node.not_responding = false;
    node.slurmd_start_time = std::time(nullptr) + 1;
  }
  // Dies, is drained, replaced (a fresh slurmd), reserved, resumed inside the reservation, and its validation
  // job submitted: one tick each.
  void until_validation_submitted(const std::string& n) {
    dies(n);
    tick();  // drained
    tick();  // replacing
    fresh_slurmd(n);
    tick();  // reserve
    tick();  // resume
    tick();  // submit
    REQUIRE(record(n).validation_job != 0);
  }
  // The validation job in Slurm: RUNNING, then ended with `exit_code`.
  void validation_ends(const std::string& n, int exit_code) {
    uint32_t id = record(n).validation_job;
    REQUIRE(id != 0);
    Job& j = slurm.jobs.at(id);
    j.state = exit_code == 0 ? JobState::Completed : JobState::Failed;
    j.exit_code = static_cast<uint32_t>(exit_code) << 8;
  }
  // Ticks until the running program has exited and been seen (at most 5 s).
  void until_program_done(const std::string& n) {
    for (int i = 0; i < 100 && phase(n) == NodePhase::Replacing && record(n).program_pid > 0; ++i) {
      if (kill(record(n).program_pid, 0) != 0) break;
      tick();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  bool has_event(const std::string& kind) {
    for (const auto& e : store->events())
      if (e.kind == kind) return true;
    return false;
  }
};

}  // namespace

TEST_CASE("lifecycle: a dead node is drained, replaced, validated in a reservation and returned", "[lifecycle]") {
  Cluster c;
  c.dies("n2");
  CHECK(c.tick() == Calls{"drain n2 autoresume: slurmd not responding"});
  CHECK(c.phase("n2") == NodePhase::Draining);
  CHECK(c.tick().empty());  // DOWN: no jobs to wait for; no ReplaceProgram: waits for a fresh slurmd
  CHECK(c.phase("n2") == NodePhase::Replacing);
  CHECK(c.tick().empty());
  CHECK(c.phase("n2") == NodePhase::Replacing);

  c.fresh_slurmd("n2");
  CHECK(c.tick() == Calls{"reserve autoresume-n2 n2"});
  CHECK(c.phase("n2") == NodePhase::Validating);
  CHECK(c.record("n2").owns_reservation);
  CHECK(c.tick() == Calls{"resume n2"});
  CHECK(c.tick() == Calls{"submit autoresume-validate-n2 n2 autoresume-n2"});
  CHECK(c.tick().empty());  // pending / running: waits
  c.validation_ends("n2", 0);
  CHECK(c.tick() == Calls{"unreserve autoresume-n2"});
  CHECK(c.phase("n2") == NodePhase::Healthy);
  CHECK(c.slurm.reservations.empty());
  CHECK(c.has_event("node_validated"));
  CHECK(c.tick().empty());
}

TEST_CASE("lifecycle: the validation job asks for every GPU of the node and tells its program how many", "[lifecycle]") {
  Cluster c;
  c.slurm.nodes["n2"].gres = "gpu:h200:4(S:0-1),gpu:t4:2,nic:1";
  c.dies("n2");
  c.tick();
  c.tick();
  c.fresh_slurmd("n2");
  c.tick();
  c.tick();
  REQUIRE(c.tick() == Calls{"submit autoresume-validate-n2 n2 autoresume-n2 gpus=6"});
  REQUIRE(c.slurm.validation_specs.size() == 1);
  const std::string& script = c.slurm.validation_specs[0].script;
  CHECK(script.find("export AUTORESUME_NODE='n2' AUTORESUME_NODE_GPUS=6\n") != std::string::npos);
  CHECK(script.find("( /usr/sbin/autoresume-agent check ) >\"$out\" 2>&1") != std::string::npos);
}

TEST_CASE("Node::gpu_count reads the GPUs out of a Gres string", "[lifecycle]") {
  auto gpus = [](const std::string& gres) {
    Node n;
    n.gres = gres;
    return n.gpu_count();
  };
  CHECK(gpus("") == 0);
  CHECK(gpus("(null)") == 0);
  CHECK(gpus("gpu:8") == 8);
  CHECK(gpus("gpu:h200:8(S:0-1)") == 8);
  CHECK(gpus("gpu:a100:4(S:0,1),gpu:t4:2") == 6);
  CHECK(gpus("nic:2,gpu:2") == 2);
  CHECK(gpus("gpuish:4") == 0);
  CHECK(gpus("gpu:h200:lots") == 0);
}

TEST_CASE("lifecycle: the replace program runs with the node name, its failure counts, then quarantine",
          "[lifecycle]") {
  Cluster c;
  c.config.replace_program = "/bin/false";
  c.config.quarantine_after = 2;
  c.config.breaker_replace_failures = 10;
  c.dies("n3");
  c.tick();  // drained
  c.tick();  // replacing
  REQUIRE(c.phase("n3") == NodePhase::Replacing);
  CHECK(c.record("n3").program_pid > 0);
  c.until_program_done("n3");
  // Failed once more (2 failures: the death and the program) -> quarantined, drained with the reason.
  CHECK(c.phase("n3") == NodePhase::Quarantined);
  CHECK(c.slurm.nodes["n3"].reason.rfind("autoresume: quarantined: ", 0) == 0);
  CHECK(c.has_event("replace_failed"));
  CHECK(c.has_event("node_quarantined"));
  CHECK(c.tick().empty());

  // An admin resumes it: back to Healthy, its history forgiven.
  auto& n = c.slurm.nodes["n3"];
  n.drain = false;
  n.base = NodeBase::Idle;
  n.not_responding = false;
  n.reason.clear();
  c.tick();
  CHECK(c.phase("n3") == NodePhase::Healthy);
  CHECK(c.record("n3").failures.empty());
  CHECK(c.has_event("node_released"));
}

TEST_CASE("lifecycle: a succeeding replace program plus a fresh slurmd leads to validation", "[lifecycle]") {
  Cluster c;
  c.config.replace_program = "/bin/true";
  c.dies("n1");
  c.tick();  // drained
  c.tick();  // replacing
  c.until_program_done("n1");
  CHECK(c.phase("n1") == NodePhase::Replacing);  // the program is done, the new slurmd not yet registered
  c.fresh_slurmd("n1");
  c.tick();
  CHECK(c.phase("n1") == NodePhase::Validating);
  CHECK(c.has_event("node_replaced"));
  CHECK(std::filesystem::exists(c.config.state_dir + "/programs/n1.log"));
}

TEST_CASE("lifecycle: ReplaceTimeout kills a hung program and counts a failure", "[lifecycle][timeout]") {
  Cluster c;
  c.config.replace_program = "/bin/sleep 30; :";
  c.config.replace_timeout = std::chrono::seconds(0);
  c.config.quarantine_after = 5;
  c.dies("n1");
  c.tick();  // drained
  c.tick();  // replacing
  int pid = c.record("n1").program_pid;
  REQUIRE(pid > 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  c.tick();
  CHECK(kill(pid, 0) != 0);  // killed and reaped
  CHECK(c.has_event("replace_failed"));
  CHECK(c.record("n1").failures.size() == 2);
}

TEST_CASE("lifecycle: an admin taking a node over mid-replace stops and reaps the replace program", "[lifecycle]") {
  Cluster c;
  c.config.replace_program = "/bin/sleep 30; :";
  c.dies("n1");
  c.tick();  // drained
  c.tick();  // replacing
  int pid = c.record("n1").program_pid;
  REQUIRE(pid > 0);
  c.slurm.nodes["n1"].drain = true;
  c.slurm.nodes["n1"].reason = "cable swap, ticket 99";
  c.tick();
  CHECK(kill(pid, 0) != 0);  // killed and reaped: no zombie left
  c.tick();
  CHECK(c.phase("n1") == NodePhase::Healthy);  // the node is the admin's
  CHECK(c.slurm.nodes["n1"].reason == "cable swap, ticket 99");
}

TEST_CASE("lifecycle: replace programs failing in a row trip the breaker", "[lifecycle][breaker]") {
  Cluster c;
  c.config.replace_program = "/bin/false";
  c.config.quarantine_after = 100;
  c.config.breaker_replace_failures = 2;
  c.dies("n1");
  c.tick();  // drained
  c.tick();  // replacing
  for (int i = 0; i < 40 && !c.ctl->breaker_open(); ++i) {
    c.tick();
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  CHECK(c.ctl->breaker_open());
  CHECK(c.store->meta("breaker_reason").find("replace programs failed in a row") != std::string::npos);
  // Open: nothing more is started.
  Calls calls = c.tick();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  c.tick();
  CHECK(c.phase("n1") == NodePhase::Replacing);
  CHECK(c.record("n1").program_started == 0);
}

TEST_CASE("lifecycle: a draining node waits for its jobs, then DrainTimeout sets it DOWN", "[lifecycle][timeout]") {
  Cluster c;
  c.slurm.add_job(5, {"n4"});
  c.slurm.nodes["n4"].drain = true;
  c.slurm.nodes["n4"].reason = "autoresume: gpu0: xid 79";  // the agent's drain
  CHECK(c.tick().empty());
  CHECK(c.phase("n4") == NodePhase::Draining);
  CHECK(c.record("n4").cause == "gpu0: xid 79");
  c.config.drain_timeout = std::chrono::seconds(0);
  CHECK(c.tick() == Calls{"down n4 autoresume: drain timed out: gpu0: xid 79"});
  CHECK(c.phase("n4") == NodePhase::Replacing);
}

TEST_CASE("lifecycle: validation fails, is retried, then the node is quarantined", "[lifecycle]") {
  Cluster c;
  c.config.validation_attempts = 2;
  c.until_validation_submitted("n2");
  c.validation_ends("n2", 1);
  Calls calls = c.tick();
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].rfind("drain n2 autoresume: validation failed: ", 0) == 0);
  CHECK(c.phase("n2") == NodePhase::Validating);
  CHECK(c.tick() == Calls{"resume n2"});
  CHECK(c.tick() == Calls{"submit autoresume-validate-n2 n2 autoresume-n2"});
  c.validation_ends("n2", 3);
  calls = c.tick();
  CHECK(c.phase("n2") == NodePhase::Quarantined);
  CHECK(c.slurm.nodes["n2"].reason.rfind("autoresume: quarantined: validation failed", 0) == 0);
  CHECK(c.tick() == Calls{"unreserve autoresume-n2"});  // the node stays drained; the reservation goes
  CHECK(c.tick().empty());
}

TEST_CASE("lifecycle: what the validation run said is named in its events and kept per node and attempt", "[lifecycle]") {
  Cluster c;
  c.config.validation_attempts = 2;
  std::filesystem::remove_all(c.config.state_dir + "/validation");
  c.until_validation_submitted("n2");
  c.validation_ends("n2", 1);
  c.slurm.jobs.at(c.record("n2").validation_job).admin_comment =
      "autoresume-validation exit=1\nchecking gpu0\ngpu0: dcgm diag level 2\n\x1b[31mFAIL: gpu0 row remap pending\x1b[0m\n";
  c.tick();
  c.tick();  // resume
  c.tick();  // the second attempt
  c.validation_ends("n2", 0);
  c.slurm.jobs.at(c.record("n2").validation_job).admin_comment = "autoresume-validation exit=0\nall 4 checks passed\n";
  c.tick();
  REQUIRE(c.phase("n2") == NodePhase::Healthy);

  std::vector<std::string> failed, validated;
  for (const auto& e : c.store->events()) {
    if (e.kind == "validation_failed") failed.push_back(e.detail);
    if (e.kind == "node_validated") validated.push_back(e.detail);
  }
  REQUIRE(failed.size() == 1);
  CHECK(failed[0].find("exit 1; last lines: checking gpu0 | gpu0: dcgm diag level 2 | [31mFAIL: gpu0 row remap pending[0m") !=
        std::string::npos);
  REQUIRE(validated.size() == 1);
  CHECK(validated[0].find("passed; last lines: all 4 checks passed") != std::string::npos);
  // The drain reason stays short: the lines are in the event, not in Slurm's Reason.
  CHECK(c.slurm.nodes["n2"].reason.find("checking gpu0") == std::string::npos);

  size_t files = 0;
  for (const auto& f : std::filesystem::directory_iterator(c.config.state_dir + "/validation/n2")) files += f.path().extension() == ".json";
  CHECK(files == 2);
  auto latest = ValidationReports(c.config.state_dir + "/validation").latest("n2");
  REQUIRE(latest);
  CHECK(latest->exit_code == 0);
  CHECK(latest->lines == std::vector<std::string>{"all 4 checks passed"});
}

TEST_CASE("lifecycle: ValidationTimeout cancels the job and fails the attempt", "[lifecycle][timeout]") {
  Cluster c;
  c.config.validation_attempts = 1;
  c.config.validation_timeout = std::chrono::seconds(0);
  c.until_validation_submitted("n2");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  Calls calls = c.tick();
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].rfind("cancel ", 0) == 0);
  c.tick();
  CHECK(c.phase("n2") == NodePhase::Quarantined);
}

TEST_CASE("lifecycle: a restart between submit and journal finds the validation job by name", "[lifecycle][restart]") {
  Cluster c;
  c.until_validation_submitted("n2");
  NodeRecord lost = c.record("n2");
  lost.validation_job = 0;  // the crash came before the id was saved
  c.store->save_node(lost);
  c.restart();
  CHECK(c.tick().empty());  // no second job, no second reservation
  CHECK(c.record("n2").validation_job != 0);
  c.validation_ends("n2", 0);
  c.tick();
  CHECK(c.phase("n2") == NodePhase::Healthy);
}

TEST_CASE("lifecycle: after a crash, a user's job with the validation job's name is not taken for it",
          "[lifecycle][restart][security]") {
  Cluster c;
  c.until_validation_submitted("n2");
  NodeRecord lost = c.record("n2");
  uint32_t ours = lost.validation_job;
  lost.validation_job = 0;
  c.store->save_node(lost);
  // A user's job of the same name, submitted after, and already finished with exit 0: it must not pass n2.
  Job& decoy = c.slurm.add_job(900, {"n1"});
  decoy.name = validation_job_name("n2");
  decoy.user_id = 1000;
  decoy.state = JobState::Completed;
  decoy.submit_time = std::time(nullptr) + 5;
  c.slurm.jobs.erase(ours);  // and ours is gone too (purged): nothing may be mistaken for it
  c.restart();
  c.tick();
  CHECK(c.record("n2").validation_job != 900);
  CHECK(c.phase("n2") != NodePhase::Healthy);
}

TEST_CASE("lifecycle: an admin drain is theirs, an admin reservation is never touched", "[lifecycle]") {
  Cluster c;
  c.slurm.nodes["n1"].drain = true;
  c.slurm.nodes["n1"].reason = "bad DIMM, ticket 4711";
  c.slurm.reservations["maint-n3"] = Reservation{"maint-n3", {"n3"}, true, 0};
  CHECK(c.tick().empty());
  CHECK(c.phase("n1") == NodePhase::Healthy);

  // Mid-validation, an admin drains the node with their own reason: our reservation goes, the node is theirs.
  c.dies("n2");
  c.tick();  // drained
  c.tick();  // replacing
  c.fresh_slurmd("n2");
  c.tick();
  c.tick();
  c.slurm.nodes["n2"].drain = true;
  c.slurm.nodes["n2"].reason = "cable swap";
  CHECK(c.tick() == Calls{"unreserve autoresume-n2"});
  c.tick();
  CHECK(c.phase("n2") == NodePhase::Healthy);
  CHECK(c.has_event("node_admin_override"));
  CHECK(c.tick().empty());
  CHECK(c.slurm.reservations.count("maint-n3") == 1);
  CHECK(c.slurm.nodes["n2"].reason == "cable swap");
}

TEST_CASE("lifecycle: a node being validated is not capacity for a held job", "[lifecycle][jobs]") {
  Cluster c;
  c.config.breaker_fraction = 1.0;
  Job& j = c.slurm.add_job(9, {"n1", "n2"});
  j.admin_comment = "autoresume=1:max=3";
  c.slurm.add_job(10, {"n3", "n4"});  // the other nodes are busy
  c.tick();
  c.dies("n2");
  j.state = JobState::Pending;  // Slurm requeued it
  j.restart_count = 1;
  c.slurm.nodes["n1"].base = NodeBase::Idle;
  c.tick();
  c.tick();
  CHECK(c.slurm.jobs[9].held);
  c.fresh_slurmd("n2");
  for (int i = 0; i < 3; ++i) c.tick();  // reserve, resume, submit
  REQUIRE(c.phase("n2") == NodePhase::Validating);
  c.slurm.nodes["n2"].base = NodeBase::Idle;
  c.tick();
  CHECK(c.slurm.jobs[9].held);  // n2 is idle but not validated
  c.validation_ends("n2", 0);
  c.tick();  // validated: the reservation goes
  REQUIRE(c.phase("n2") == NodePhase::Healthy);
  c.tick();
  CHECK_FALSE(c.slurm.jobs[9].held);
}

TEST_CASE("lifecycle: no replacement before BreakerSettle, so that a storm opens the breaker first",
          "[lifecycle][breaker]") {
  Cluster c;
  c.config.replace_program = "/bin/true";
  c.config.breaker_settle = std::chrono::seconds(30);
  c.config.breaker_fraction = 0.2;
  c.dies("n1");
  c.tick();
  c.tick();
  CHECK(c.phase("n1") == NodePhase::Replacing);
  CHECK(c.record("n1").program_started == 0);
  c.dies("n2");  // seen a ping cycle later
  c.tick();
  CHECK(c.ctl->breaker_open());
  c.config.breaker_settle = std::chrono::seconds(0);
  c.tick();
  CHECK(c.record("n1").program_started == 0);  // open: still nothing replaced
  for (const auto& a : c.store->actions()) CHECK(a.kind != "replace");
}

TEST_CASE("the breaker counts failures that began within the window, also those that recovered", "[breaker]") {
  Cluster c;
  c.config.breaker_fraction = 0.2;
  c.dies("n1");
  c.tick();
  auto& n1 = c.slurm.nodes["n1"];
  n1 = Node{};
  n1.name = "n1";
  n1.base = NodeBase::Idle;
  n1.partitions = {"debug"};
  c.tick();
  CHECK_FALSE(c.ctl->breaker_open());
  c.dies("n3");
  c.tick();
  CHECK(c.ctl->breaker_open());
}

TEST_CASE("lifecycle: the transition table", "[lifecycle]") {
  CHECK(node_transition_allowed(NodePhase::Healthy, NodePhase::Failed));
  CHECK(node_transition_allowed(NodePhase::Validating, NodePhase::Healthy));
  CHECK(node_transition_allowed(NodePhase::Quarantined, NodePhase::Healthy));
  CHECK(node_transition_allowed(NodePhase::Healthy, NodePhase::Validating));  // an admin's validate
  CHECK_FALSE(node_transition_allowed(NodePhase::Healthy, NodePhase::Replacing));
  CHECK_FALSE(node_transition_allowed(NodePhase::Draining, NodePhase::Validating));
  CHECK_FALSE(node_transition_allowed(NodePhase::Failed, NodePhase::Validating));
  CHECK_FALSE(node_transition_allowed(NodePhase::Quarantined, NodePhase::Replacing));
}

TEST_CASE("lifecycle: an admin's replace is not a failure: no breaker, no quarantine count", "[lifecycle][breaker]") {
  Cluster c;
  c.config.breaker_fraction = 0.2;
  c.dies("n1");
  c.tick();
  auto answer = c.ctl->node_command("replace", "n2", "uid 0");
  REQUIRE(answer.ok());
  c.tick();
  CHECK_FALSE(c.ctl->breaker_open());
  CHECK(c.record("n2").failures.empty());
  CHECK(c.slurm.nodes["n2"].reason == "autoresume: manual replace by uid 0");
}

namespace {

// A process of the same user in its own session, as a reused pid would name after a controller restart.
int start_decoy() {
  pid_t pid = fork();
  if (pid == 0) {
    setsid();
    execl("/bin/sleep", "sleep", "30", static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

}  // namespace

TEST_CASE("site program: a reused pid is never taken for the program, nor killed", "[lifecycle][security]") {
  int decoy = start_decoy();
  REQUIRE(decoy > 0);
  auto ticks = process_start_ticks(decoy);
  REQUIRE(ticks);
  // What a previous controller stored for its program, whose pid the decoy now has: another start time.
  ProgramId stale{decoy, *ticks + 1};
  CHECK(poll_site_program(stale).state == ProgramState::Gone);
  kill_site_program(stale);
  CHECK(kill(decoy, 0) == 0);  // the stranger lives
  ProgramId unknown{decoy, 0};  // a record from before identities were kept
  kill_site_program(unknown);
  CHECK(kill(decoy, 0) == 0);
  // The genuine program left by a previous controller process is still watched and stopped.
  ProgramId same{decoy, *ticks};
  CHECK(poll_site_program(same).state == ProgramState::Running);
  kill_site_program(same);
  waitpid(decoy, nullptr, 0);
  CHECK(kill(decoy, 0) != 0);
}

TEST_CASE("site program: killed before it recorded the program, the controller leaves nothing running",
          "[lifecycle][crash]") {
  auto marker = std::filesystem::temp_directory_path() / ("autoresume-ran-" + std::to_string(getpid()));
  std::filesystem::remove(marker);
  // The controller process, killed between fork and its journal write.
  pid_t controller = fork();
  if (controller == 0) {
    (void)start_site_program("touch " + marker.string() + "; :", "n1", "/dev/null", [](const ProgramId&) { raise(SIGKILL); });
    _exit(0);
  }
  int status = 0;
  waitpid(controller, &status, 0);
  REQUIRE(WIFSIGNALED(status));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK_FALSE(std::filesystem::exists(marker));  // the program saw its controller die and never ran
  // And recorded first, it does run.
  ProgramId seen;
  auto id = start_site_program("touch " + marker.string() + "; :", "n1", "/dev/null", [&](const ProgramId& p) { seen = p; });
  REQUIRE(id);
  CHECK(*id == seen);
  CHECK(seen.start_ticks != 0);
  waitpid(id->pid, nullptr, 0);
  CHECK(std::filesystem::exists(marker));
  std::filesystem::remove(marker);
}

TEST_CASE("lifecycle: a program started but not recorded (a crash between) is started again after a restart",
          "[lifecycle][crash]") {
  Cluster c;
  c.config.replace_program = "/bin/sleep 30; :";
  c.dies("n1");
  c.tick();  // drained
  c.tick();  // replacing: the program runs
  int first = c.record("n1").program_pid;
  REQUIRE(first > 0);
  CHECK(c.store->load_nodes().at("n1").program_start_ticks == process_start_ticks(first));
  // The journal as a crash between the start time and the identity leaves it: started at, no program.
  NodeRecord r = c.record("n1");
  kill_site_program({r.program_pid, r.program_start_ticks});
  r.program_pid = 0, r.program_start_ticks = 0;
  c.store->save_node(r);
  c.restart();
  c.tick();
  int second = c.record("n1").program_pid;
  CHECK(second > 0);
  CHECK(second != first);
  CHECK(c.phase("n1") == NodePhase::Replacing);
  kill_site_program({c.record("n1").program_pid, c.record("n1").program_start_ticks});
}

TEST_CASE("lifecycle: after a restart the previous program is watched by pid and start time, not started twice",
          "[lifecycle][crash]") {
  Cluster c;
  c.config.replace_program = "/bin/sleep 30; :";
  c.dies("n1");
  c.tick();
  c.tick();
  NodeRecord before = c.record("n1");
  REQUIRE(before.program_pid > 0);
  c.restart();  // the program is no longer our child
  c.tick();
  CHECK(c.record("n1").program_pid == before.program_pid);  // watched, not started again
  CHECK(c.phase("n1") == NodePhase::Replacing);
  c.config.replace_timeout = std::chrono::seconds(0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  c.tick();  // past ReplaceTimeout: the same process is killed (and reaped: the test process is its parent)
  CHECK(kill(before.program_pid, 0) != 0);
  CHECK(c.has_event("replace_failed"));
}

namespace {

// Slurm's power saving in the fake: SuspendProgram and ResumeProgram set.
void power_saving(Cluster& c) {
  c.slurm.settings.suspend_program = "/opt/cloud/suspend";
  c.slurm.settings.resume_program = "/opt/cloud/resume";
  c.slurm.settings.resume_timeout = 60;
  c.restart();
}

// What Slurm and the ResumeProgram do after a power-up: a new instance registers, its slurmd and boot fresh.
void powered_up(Cluster& c, const std::string& n) {
  auto& node = c.slurm.nodes[n];
  node.powering_up = false;
  node.not_responding = false;
  node.base = NodeBase::Idle;
  node.boot_time = node.slurmd_start_time = std::time(nullptr) + 1;
}

bool journaled(Cluster& c, const std::string& kind, const std::string& target) {
  for (const auto& a : c.store->actions())
    if (a.kind == kind && a.target == target && a.state == "done") return true;
  return false;
}

}  // namespace

TEST_CASE("lifecycle: power cycle: reserved first, POWER_DOWN_FORCE, POWER_UP once off, then validation", "[lifecycle][remediation]") {
  Cluster c;
  power_saving(c);
  c.dies("n2");
  Calls all;
  auto ticks = [&](int n) {
    for (int i = 0; i < n; ++i)
      for (auto& call : c.tick()) all.push_back(call);
  };
  ticks(4);
  // POWER_DOWN_FORCE clears DRAIN: the node is inside our reservation first, so that nothing starts on it.
  CHECK(all == Calls{"drain n2 autoresume: slurmd not responding", "reserve autoresume-n2 n2",
                     "power_down n2 autoresume: power cycle: slurmd not responding"});
  CHECK(c.record("n2").method == "power_cycle");
  CHECK(c.record("n2").remedy_stage == 1);
  CHECK(c.tick().empty());  // powering down: waits
  c.slurm.nodes["n2"].powering_down = false;  // SuspendProgram done
  CHECK(c.tick() == Calls{"power_up n2"});
  CHECK(c.record("n2").remedy_stage == 2);
  CHECK(c.tick().empty());  // powering up: waits
  CHECK(c.phase("n2") == NodePhase::Replacing);
  powered_up(c, "n2");
  all.clear();
  ticks(3);
  CHECK(c.has_event("node_replaced"));
  CHECK(journaled(c, "power_down", "n2"));
  CHECK(journaled(c, "power_up", "n2"));
  // Up inside the reservation (POWER_UP clears the drain; nothing to resume): validated there.
  CHECK(all == Calls{"submit autoresume-validate-n2 n2 autoresume-n2"});
  c.validation_ends("n2", 0);
  CHECK(c.tick() == Calls{"unreserve autoresume-n2"});
  CHECK(c.phase("n2") == NodePhase::Healthy);
}

TEST_CASE("lifecycle: a power-up Slurm gives up on (ResumeTimeout reached) is a failed action, then quarantine",
          "[lifecycle][remediation]") {
  Cluster c;
  power_saving(c);
  c.config.quarantine_after = 2;
  c.restart();
  c.dies("n3");
  c.tick(), c.tick(), c.tick();  // drained, replacing, reserved
  c.tick();                      // power down
  c.slurm.nodes["n3"].powering_down = false;
  CHECK(c.tick() == Calls{"power_up n3"});
  auto& n = c.slurm.nodes["n3"];
  n.powering_up = false, n.powered_down = true, n.base = NodeBase::Down;
  n.reason = "ResumeTimeout reached";
  n.reason_time = std::time(nullptr);
  c.tick();
  CHECK(c.has_event("replace_failed"));
  // The death and the failed power-up: QuarantineAfter=2. Our reservation goes, the node stays out for a human.
  for (int i = 0; i < 4 && c.phase("n3") != NodePhase::Quarantined; ++i) c.tick();
  CHECK(c.phase("n3") == NodePhase::Quarantined);
  c.tick();
  CHECK(c.slurm.reservations.empty());
  CHECK(c.slurm.nodes["n3"].drain);
  CHECK(c.slurm.nodes["n3"].reason.rfind("autoresume: quarantined", 0) == 0);
}

TEST_CASE("lifecycle: a power-up that never registers fails after ResumeTimeout even if Slurm says nothing",
          "[lifecycle][remediation][timeout]") {
  Cluster c;
  power_saving(c);
  c.config.breaker_replace_failures = 10;
  c.slurm.settings.resume_timeout = 0;  // the margin (30 s) is what is left: the start is moved back past it
  c.restart();
  c.dies("n3");
  c.tick(), c.tick(), c.tick(), c.tick();
  c.slurm.nodes["n3"].powering_down = false;
  CHECK(c.tick() == Calls{"power_up n3"});
  CHECK(c.tick().empty());
  CHECK_FALSE(c.has_event("replace_failed"));
  NodeRecord r = c.record("n3");
  r.remedy_at -= 200;
  c.store->save_node(r);
  c.restart();
  Calls calls = c.tick();
  CHECK(c.has_event("replace_failed"));
  // Not quarantined yet (2 failures of 3): the next attempt starts over with a power down.
  bool again = false;
  for (const auto& call : calls) again |= call.rfind("power_down n3 ", 0) == 0;
  CHECK(again);
}

TEST_CASE("lifecycle: Action:Reboot through Slurm's reboot: done on a boot after the request, once", "[lifecycle][remediation]") {
  Cluster c;
  c.slurm.settings.reboot_program = "/usr/sbin/ipmi-reboot";
  c.restart();
  auto& n = c.slurm.nodes["n1"];
  n.drain = true;
  n.reason = "Action:Reboot";
  Calls calls;
  for (int i = 0; i < 3; ++i)
    for (auto& call : c.tick()) calls.push_back(call);
  // Taken over (drained with our reason), then rebooted by Slurm, once.
  REQUIRE(calls.size() == 2);
  CHECK(calls[0].rfind("drain n1 autoresume: ", 0) == 0);
  CHECK(calls[1].rfind("reboot n1 autoresume: reboot: ", 0) == 0);
  CHECK(c.record("n1").method == "reboot");
  CHECK(c.tick().empty());  // asked, not booted: waits, never asks twice
  c.restart();              // a crash after the request: the journal says it was asked
  CHECK(c.tick().empty());
  n.reboot_requested = false;
  n.boot_time = n.slurmd_start_time = std::time(nullptr) + 1;
  c.tick();
  CHECK(c.phase("n1") == NodePhase::Validating);
  CHECK(c.has_event("node_replaced"));
}

TEST_CASE("lifecycle: Slurm's 'reboot timed out' is a failed reboot", "[lifecycle][remediation]") {
  Cluster c;
  c.slurm.settings.reboot_program = "/usr/sbin/ipmi-reboot";
  c.config.breaker_replace_failures = 10;
  c.restart();
  auto& n = c.slurm.nodes["n1"];
  n.drain = true;
  n.reason = "Action:Reboot";
  c.tick(), c.tick(), c.tick();
  n.reboot_requested = false;
  n.base = NodeBase::Down;
  n.reason = "autoresume: reboot: admin Action:Reboot : reboot issued : reboot timed out";  // Slurm appends
  n.reason_time = std::time(nullptr);
  Calls calls = c.tick();
  CHECK(c.has_event("replace_failed"));
  CHECK(c.record("n1").failures.size() == 1);  // counted toward quarantine (an admin's request is not a failure)
  // The next rung (replace: no program, so it waits); the old verdict, quoted in a reason of ours, is not a new
  // failure: the lifecycle does not spin through failures (which would trip the breaker).
  c.tick(), c.tick();
  int failed = 0;
  for (const auto& e : c.store->events()) failed += e.kind == "replace_failed";
  CHECK(failed == 1);
  CHECK(c.phase("n1") == NodePhase::Replacing);
}

TEST_CASE("lifecycle: the agent's reset_gpu rung: no action of ours, done when the agent says so", "[lifecycle][remediation]") {
  Cluster c;
  power_saving(c);  // a power cycle is available, and still not used for a GPU reset
  auto& n = c.slurm.nodes["n4"];
  n.drain = true;
  n.reason = "autoresume: gpu0: xid 62 [reset_gpu]";
  c.tick();
  CHECK(c.record("n4").action == "reset_gpu");
  c.tick();  // replacing
  CHECK(c.tick().empty());
  CHECK(c.record("n4").method == "gpu_reset");
  CHECK(c.tick().empty());  // the agent has not said yet
  n.reason = "autoresume: gpu0: xid 62 [reset_gpu: done]";
  c.tick();
  CHECK(c.phase("n4") == NodePhase::Validating);
}

TEST_CASE("lifecycle: a node failing again after a rung that did not hold climbs the ladder", "[lifecycle][remediation]") {
  Cluster c;
  c.config.quarantine_after = 5;
  c.restart();
  auto& n = c.slurm.nodes["n4"];
  n.drain = true;
  n.reason = "autoresume: gpu0: xid 13 [restart_app]";
  c.tick();
  CHECK(c.record("n4").action == "restart_app");
  for (int i = 0; i < 4 && c.phase("n4") != NodePhase::Validating; ++i) c.tick();
  REQUIRE(c.phase("n4") == NodePhase::Validating);
  c.tick(), c.tick();  // reserve, resume, submit
  c.tick();
  c.validation_ends("n4", 0);
  c.tick();
  REQUIRE(c.phase("n4") == NodePhase::Healthy);

  // The same fault again within the window: the application restart did not hold, the GPU is reset this time.
  n.drain = true;
  n.reason = "autoresume: gpu0: xid 13 [restart_app]";
  c.tick();
  CHECK(c.record("n4").action == "reset_gpu");
}

TEST_CASE("lifecycle: auto does not ask Slurm to reboot a node whose slurmd is dead (its slurmd runs RebootProgram)",
          "[lifecycle][remediation]") {
  Cluster c;
  c.slurm.settings.reboot_program = "/usr/sbin/ipmi-reboot";
  c.restart();
  c.dies("n2");
  Calls all;
  for (int i = 0; i < 4; ++i)
    for (auto& call : c.tick()) all.push_back(call);
  CHECK(all == Calls{"drain n2 autoresume: slurmd not responding"});
  CHECK(c.record("n2").method == "none");  // waits for its slurmd, as before this method existed
  c.fresh_slurmd("n2");
  c.tick();
  CHECK(c.phase("n2") == NodePhase::Validating);

  // Asked for by name, it is tried all the same.
  Cluster asked;
  asked.slurm.settings.reboot_program = "/usr/sbin/ipmi-reboot";
  asked.config.replace_method = parse_method_choice("reboot").value();
  asked.restart();
  asked.dies("n2");
  bool rebooted = false;
  for (int i = 0; i < 4; ++i)
    for (auto& call : asked.tick()) rebooted |= call.rfind("reboot n2 ", 0) == 0;
  CHECK(rebooted);
}
