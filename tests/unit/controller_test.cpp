// SPDX-License-Identifier: GPL-2.0-or-later
// The control loop against the in-memory Slurm: which calls it makes, in which order, and what it remembers.
#include <sqlite3.h>
#include <unistd.h>

#include "catch_compat.hpp"
#include <filesystem>
#include <thread>

#include "autoresume/intent.hpp"
#include "engine/controller.hpp"
#include "http/command_queue.hpp"
#include "slurm/fake_slurm.hpp"

using namespace autoresume;
using Calls = std::vector<std::string>;

namespace {

struct World {
  FakeSlurm slurm;
  std::unique_ptr<Store> store = Store::open(":memory:").value();
  Config config;
  std::unique_ptr<Controller> ctl;

  World() {
    set_log_level(LogLevel::Error);
    config.restart_settle = std::chrono::seconds(0);  // the fake has no credentials to revoke
    for (const char* n : {"n1", "n2", "n3", "n4"}) slurm.add_node(n);
    restart();
  }
  // A new controller process on the same Slurm and the same state database.
  void restart() {
    ctl = std::make_unique<Controller>(slurm, *store, config);
    ctl->recover();
  }
  Job& watched_job(uint32_t id, std::vector<std::string> nodes, unsigned max = 3) {
    Job& j = slurm.add_job(id, std::move(nodes));
    j.admin_comment = intent_token(Intent{max});
    return j;
  }
  Calls tick() {
    slurm.calls.clear();
    ctl->tick();
    return slurm.calls;
  }
  JobRecord record(uint32_t id) { return ctl->jobs().at(id); }
  // Over 1,000 jobs (held, no intent): the controller sweeps the table by its cost, not at every tick.
  void large_job_table() {
    for (uint32_t id = 100000; id < 101001; ++id) slurm.add_job(id, {}, JobState::Pending).held = true;
  }
  void runs_on(uint32_t id, std::vector<std::string> nodes) {
    Job& j = slurm.jobs[id];
    j.state = JobState::Running;
    j.held = false;
    j.nodes = std::move(nodes);
    for (const auto& n : j.nodes) slurm.nodes[n].base = NodeBase::Allocated;
  }
  // An alive node that takes no new work, with a reason: the agent's drain (autoresume: ...), an admin's
  // Action:Replace (state FAIL), or an admin's own drain.
  void marked(const std::string& name, const std::string& reason, bool fail = false) {
    slurm.nodes[name].drain = !fail;
    slurm.nodes[name].fail = fail;
    slurm.nodes[name].reason = reason;
  }
  void free_nodes(std::vector<std::string> names) {
    for (const auto& n : names) slurm.nodes[n].base = NodeBase::Idle;
  }
  // What slurmctld does on its own when a node stops answering: DOWN, its requeue-able jobs requeued.
  void node_dies(const std::string& name) {
    slurm.nodes[name].base = NodeBase::Down;
    slurm.nodes[name].not_responding = true;
    slurm.nodes[name].reason = "Not responding";
    for (auto& [id, j] : slurm.jobs)
      if (j.state == JobState::Running && std::count(j.nodes.begin(), j.nodes.end(), name)) {
        j.state = JobState::Pending;
        j.restart_count++;
        j.begin_time = std::time(nullptr) + 121;
        for (const auto& n : j.nodes)
          if (n != name) slurm.nodes[n].base = NodeBase::Idle;
      }
  }
};

}  // namespace

TEST_CASE("between sweeps only watched jobs are read, by id, and a node newly failing brings a sweep at once", "[controller]") {
  World w;
  w.large_job_table();
  w.slurm.sweep_delay = std::chrono::milliseconds(10);  // a large job table: the next sweep seconds later
  w.watched_job(1, {"n1"});
  w.tick();
  REQUIRE(w.slurm.sweeps == 1);
  REQUIRE(w.ctl->jobs().count(1) == 1);
  w.watched_job(2, {"n2"});  // starts between two sweeps
  int loads = w.slurm.job_loads;
  CHECK(w.tick().empty());
  CHECK(w.slurm.sweeps == 1);
  CHECK(w.slurm.job_loads - loads == 1);  // job 1, the one watched
  CHECK(w.ctl->jobs().count(2) == 0);     // not seen yet
  w.marked("n2", "autoresume: gpu0: xid 79");  // its node drained by the agent: swept in the same tick
  w.tick();
  CHECK(w.slurm.sweeps == 2);
  REQUIRE(w.ctl->jobs().count(2) == 1);
  CHECK(w.record(2).failed_node == "n2");
  CHECK(w.record(2).phase != JobPhase::Running);
  double interval = w.ctl->snapshot()->sweep_interval;  // from the sweep's measured cost
  REQUIRE(interval >= 1.0);
  std::this_thread::sleep_for(std::chrono::duration<double>(interval + 0.1));
  w.tick();
  CHECK(w.slurm.sweeps == 3);
}

TEST_CASE("an admin's Action:Replace brings a sweep at once too: its jobs are requeued", "[controller]") {
  World w;
  w.large_job_table();
  w.slurm.sweep_delay = std::chrono::milliseconds(20);
  w.tick();
  w.watched_job(3, {"n3"});
  w.tick();
  REQUIRE(w.slurm.sweeps == 1);
  w.marked("n3", "Action:Replace", true);
  w.tick();
  CHECK(w.slurm.sweeps == 2);
  REQUIRE(w.ctl->jobs().count(3) == 1);
  CHECK(w.record(3).failed_node == "n3");
}

TEST_CASE("a job without intent is never touched", "[controller]") {
  World w;
  w.slurm.add_job(1, {"n1", "n2"});
  w.tick();
  w.node_dies("n2");
  Calls calls = w.tick();
  CHECK(calls == Calls{"drain n2 autoresume: slurmd not responding"});  // the node, yes; the job, no
  CHECK(w.ctl->jobs().empty());
}

TEST_CASE("Slurm requeued the job after its node died: started at once on healthy nodes", "[controller]") {
  World w;
  w.watched_job(1, {"n1", "n2"});
  w.tick();
  CHECK(w.record(1).phase == JobPhase::Running);
  w.node_dies("n2");
  Calls calls = w.tick();
  CHECK(calls == Calls{"drain n2 autoresume: slurmd not responding", "start-now 1"});
  CHECK(w.record(1).phase == JobPhase::Starting);
  CHECK(w.record(1).attempts == 1);
  CHECK(w.record(1).failed_node == "n2");
  w.runs_on(1, {"n3", "n4"});
  CHECK(w.tick().empty());
  CHECK(w.record(1).phase == JobPhase::Running);
  auto events = w.store->events();
  CHECK(events.back().kind == "job_resumed");
  CHECK(events.back().detail.find("attempt 1 of 3") != std::string::npos);
}

TEST_CASE("an alive node drained by the agent: the job is requeued, then started", "[controller]") {
  World w;
  w.watched_job(1, {"n1", "n2"});
  w.tick();
  w.marked("n2", "autoresume: gpu1: xid 79");
  CHECK(w.tick() == Calls{"requeue 1"});
  CHECK(w.record(1).phase == JobPhase::Requeueing);
  w.free_nodes({"n1", "n2"});
  CHECK(w.tick() == Calls{"start-now 1"});  // requeue seen (restart count 1): pending, n1 n3 n4 free
  CHECK(w.record(1).attempts == 1);
  auto actions = w.store->actions();
  REQUIRE(actions.size() == 2);
  CHECK(actions[0].kind == "requeue");
  CHECK(actions[0].state == "done");
}

TEST_CASE("an admin's drain or down with their own reason is left alone, job and node", "[controller]") {
  World w;
  w.watched_job(1, {"n1", "n2"});
  w.tick();
  w.marked("n2", "maintenance: new PSU");
  w.slurm.nodes["n3"].base = NodeBase::Down;
  w.slurm.nodes["n3"].reason = "cabling";
  CHECK(w.tick().empty());
  CHECK(w.slurm.nodes["n2"].reason == "maintenance: new PSU");
  CHECK(w.record(1).phase == JobPhase::Running);
  CHECK(w.store->actions().empty());
}

TEST_CASE("Action:Replace by an admin requeues the job, and the request is consumed: the node is ours", "[controller]") {
  World w;
  w.watched_job(1, {"n1", "n2"});
  w.tick();
  w.marked("n2", "Action:Replace", true);
  Calls calls = w.tick();
  CHECK(std::count(calls.begin(), calls.end(), "requeue 1") == 1);
  CHECK(std::count(calls.begin(), calls.end(), "drain n2 autoresume: admin Action:Replace") == 1);
  CHECK(w.slurm.nodes["n2"].reason == "autoresume: admin Action:Replace");
  CHECK(w.store->events().size() > 0);
  bool taken = false;
  for (const auto& e : w.store->events()) taken |= e.kind == "admin_request_taken";
  CHECK(taken);
}

TEST_CASE("MaxAttempts caps the budget an AdminComment token names", "[controller][security]") {
  World w;
  w.config.max_attempts = 4;
  w.restart();
  w.watched_job(1, {"n1", "n2"}, 4000000000u);
  w.watched_job(2, {"n3"}, 2);
  w.tick();
  CHECK(w.record(1).max_attempts == 4u);
  CHECK(w.record(2).max_attempts == 2u);
}

TEST_CASE("no healthy capacity: held until there is, then released and started", "[controller]") {
  World w;
  w.slurm.nodes.erase("n3");
  w.slurm.nodes.erase("n4");
  w.watched_job(1, {"n1", "n2"});
  w.tick();
  w.node_dies("n2");
  CHECK(w.tick() == Calls{"drain n2 autoresume: slurmd not responding", "hold 1"});
  CHECK(w.record(1).phase == JobPhase::Held);
  CHECK(w.tick().empty());
  w.slurm.add_node("n3");
  CHECK(w.tick() == Calls{"release 1", "start-now 1"});
}

TEST_CASE("capacity: the job's own node still COMPLETING in the node table counts once the job is done completing, "
          "not an unhealthy one, nor while the job completes", "[controller]") {
  World w;
  w.slurm.nodes.erase("n4");  // n1 and n2 for the job, n3 spare: after n2 dies, n3 and n1 are enough
  w.watched_job(1, {"n1", "n2"});
  w.tick();
  w.node_dies("n2");
  w.slurm.nodes["n1"].completing = true;  // the table read before the job: n1's epilog just ended
  SECTION("the job itself no longer completing: started at once, never held") {
    CHECK(w.tick() == Calls{"drain n2 autoresume: slurmd not responding", "start-now 1"});
  }
  SECTION("n1 not in service: not capacity, held") {
    w.slurm.nodes["n1"].reason = "admin: bad fan";
    w.slurm.nodes["n1"].drain = true;
    CHECK(w.tick() == Calls{"drain n2 autoresume: slurmd not responding", "hold 1"});
  }
  SECTION("the job still completing: it waits, neither held nor started") {
    w.slurm.jobs[1].completing = true;
    CHECK(w.tick() == Calls{"drain n2 autoresume: slurmd not responding"});
    CHECK(w.record(1).phase == JobPhase::WaitingPending);
  }
}

TEST_CASE("a spent budget leaves the job held, with the reason in AdminComment", "[controller]") {
  World w;
  w.config.breaker_fraction = 0.5;  // two failures of four nodes: not a storm here
  w.watched_job(1, {"n1", "n2"}, 1);
  w.tick();
  w.node_dies("n2");
  w.tick();
  w.runs_on(1, {"n3", "n4"});
  w.tick();
  REQUIRE(w.record(1).attempts == 1);
  w.marked("n4", "autoresume: gpu0: temperature");
  Calls calls = w.tick();
  CHECK(calls == Calls{"requeue 1 hold", "admin-comment 1 autoresume=1:max=1 autoresume_gaveup=budget_1/1"});
  CHECK(w.record(1).phase == JobPhase::Exhausted);
  CHECK(w.slurm.jobs[1].held);
  CHECK(w.store->events().back().kind == "budget_exhausted");
  CHECK(w.tick().empty());  // terminal: nothing more, and the held job is not adopted again with a new budget
  CHECK(w.record(1).phase == JobPhase::Exhausted);
  w.slurm.jobs.erase(1);  // purged by slurmctld (MinJobAge)
  w.tick();
  CHECK(w.ctl->jobs().count(1) == 0);
  CHECK(w.store->find_job(1)->phase == JobPhase::Exhausted);  // the history stays
  CHECK(w.store->load_jobs().count(1) == 0);  // and is not loaded at the next start
}

TEST_CASE("after the checkpoint signal: no-resume exit code, success, or other exit", "[controller]") {
  struct Case { JobState state; uint32_t status; JobPhase phase; };
  for (auto [state, status, phase] : {Case{JobState::Failed, 93u << 8, JobPhase::NotResumed},
                                      Case{JobState::Completed, 0u, JobPhase::Finished},
                                      Case{JobState::Failed, 1u << 8, JobPhase::Requeueing}}) {
    World w;
    w.config.signal_before_requeue = SIGUSR1;
    w.watched_job(1, {"n1", "n2"});
    w.tick();
    w.marked("n2", "Action:Replace", true);
    CHECK(w.tick() == Calls{"drain n2 autoresume: admin Action:Replace", "signal 1 10"});
    CHECK(w.record(1).phase == JobPhase::Signalled);
    w.slurm.jobs[1].state = state;
    w.slurm.jobs[1].exit_code = status;
    w.tick();
    CHECK(w.record(1).phase == phase);
  }
}

// A node's death often ends the job first: its ranks on the live nodes lose their peer and exit with an error,
// or the step's launch on the dying node fails, seconds before Slurm flags the node.
TEST_CASE("a job that failed by itself, then its node is found dead: resumed as that node's failure", "[controller]") {
  World w;
  w.watched_job(1, {"n1", "n2"});
  w.tick();
  Job& j = w.slurm.jobs[1];
  j.state = JobState::Failed;
  j.exit_code = 1u << 8;
  j.end_time = std::time(nullptr);
  w.free_nodes({"n1", "n2"});
  CHECK(w.tick().empty());
  CHECK(w.record(1).phase == JobPhase::Ending);
  w.slurm.nodes["n2"].not_responding = true;  // Slurm's ping found it silent: probed, as under a running job
  w.slurm.dead_slurmds.insert("n2");
  CHECK(w.tick() == Calls{"probe n2", "down n2 autoresume: slurmd not responding (probe refused)"});
  w.slurm.nodes["n2"].base = NodeBase::Down;
  w.slurm.nodes["n2"].reason = "autoresume: slurmd not responding (probe refused)";
  Calls calls = w.tick();
  CHECK(std::count(calls.begin(), calls.end(), "requeue 1") == 1);
  CHECK(w.record(1).failed_node == "n2");
  w.tick();
  CHECK(w.record(1).attempts == 1);
  CHECK(w.slurm.jobs[1].restart_count == 1);
  CHECK((w.record(1).phase == JobPhase::Starting || w.record(1).phase == JobPhase::WaitingPending));
}

TEST_CASE("a job that failed by itself on healthy nodes is finished after FailedExitWindow, other endings at once",
          "[controller]") {
  struct Case { JobState state; uint32_t status; JobPhase first; };
  for (auto [state, status, first] : {Case{JobState::Failed, 1u << 8, JobPhase::Ending},
                                      Case{JobState::Failed, 93u << 8, JobPhase::Finished},  // NoResumeExitCode
                                      Case{JobState::Completed, 0u, JobPhase::Finished},
                                      Case{JobState::Cancelled, 0u, JobPhase::Finished},
                                      Case{JobState::Timeout, 0u, JobPhase::Finished},
                                      Case{JobState::OutOfMemory, 0u, JobPhase::Finished}}) {
    INFO(to_string(state) << " status " << status);
    World w;
    w.config.failed_exit_window = std::chrono::seconds(60);
    w.watched_job(1, {"n1", "n2"});
    w.tick();
    Job& j = w.slurm.jobs[1];
    j.state = state;
    j.exit_code = status;
    j.end_time = std::time(nullptr);
    w.free_nodes({"n1", "n2"});
    CHECK(w.tick().empty());
    CHECK(w.record(1).phase == first);
    j.end_time = std::time(nullptr) - 61;  // the window is counted from the job's end: over now
    CHECK(w.tick().empty());
    CHECK(w.record(1).phase == JobPhase::Finished);
    CHECK(w.record(1).attempts == 0);
    CHECK(w.slurm.jobs[1].restart_count == 0);
  }
}

TEST_CASE("a job that started and failed between two sweeps is adopted while its window lasts, not after",
          "[controller]") {
  World w;
  Job& recent = w.watched_job(1, {"n1", "n2"});
  recent.state = JobState::Failed;
  recent.exit_code = 141u << 8;  // the batch script's srun, its launch on a dying node broken
  recent.end_time = std::time(nullptr) - 1;
  Job& old = w.watched_job(2, {"n3"});
  old.state = JobState::Failed;
  old.exit_code = 1u << 8;
  old.end_time = std::time(nullptr) - 121;
  w.free_nodes({"n1", "n2", "n3"});
  w.tick();
  REQUIRE(w.ctl->jobs().count(1) == 1);
  CHECK(w.record(1).phase == JobPhase::Ending);
  CHECK(w.ctl->jobs().count(2) == 0);
  w.slurm.nodes["n2"].base = NodeBase::Down;  // Slurm's own verdict, later
  w.slurm.nodes["n2"].not_responding = true;
  w.slurm.nodes["n2"].reason = "Not responding";
  Calls calls = w.tick();
  CHECK(std::count(calls.begin(), calls.end(), "requeue 1") == 1);
}

TEST_CASE("the grace period ends in a requeue", "[controller]") {
  World w;
  w.config.signal_before_requeue = SIGUSR1;
  w.config.requeue_grace = std::chrono::seconds(0);
  w.watched_job(1, {"n1", "n2"});
  w.tick();
  w.marked("n2", "autoresume: gpu0: ecc");
  CHECK(w.tick() == Calls{"signal 1 10"});
  CHECK(w.tick() == Calls{"requeue 1"});
}

TEST_CASE("slurmctld unreachable: no decision on stale data, backoff, then carry on", "[controller]") {
  World w;
  w.watched_job(1, {"n1", "n2"});
  w.tick();
  w.slurm.unreachable = true;
  w.node_dies("n2");
  w.tick();
  w.tick();
  CHECK_FALSE(w.ctl->slurm_reachable());
  CHECK(w.ctl->next_delay() == std::chrono::milliseconds(4000));
  CHECK(w.store->actions().empty());
  w.slurm.unreachable = false;
  CHECK(w.tick() == Calls{"drain n2 autoresume: slurmd not responding", "start-now 1"});
  CHECK(w.ctl->next_delay() == std::chrono::milliseconds(1000));
}

TEST_CASE("killed right after a requeue: restarted, it does not requeue again", "[controller]") {
  World w;
  w.watched_job(1, {"n1", "n2"});
  w.tick();
  w.marked("n2", "autoresume: gpu1: xid 48");
  struct Crash {};
  w.ctl->after_action = [](const std::string& kind) { if (kind == "requeue") throw Crash{}; };
  CHECK_THROWS_AS(w.tick(), Crash);
  REQUIRE(w.slurm.jobs[1].restart_count == 1);
  REQUIRE(w.store->actions("intended").size() == 1);  // sent, never recorded as done

  w.restart();
  CHECK(w.store->actions("intended").empty());
  CHECK(w.store->actions("failed").front().error.find("interrupted") != std::string::npos);
  w.free_nodes({"n1"});
  CHECK(w.tick() == Calls{"start-now 1"});
  CHECK(w.slurm.jobs[1].restart_count == 1);
  CHECK(w.record(1).attempts == 1);
}

TEST_CASE("killed at every later step, the job still ends resumed exactly once", "[controller]") {
  for (const char* crash_after : {"start_now", "hold", "release"}) {
    World w;
    bool tight = std::string(crash_after) != "start_now";
    if (tight) w.slurm.nodes.erase("n3"), w.slurm.nodes.erase("n4");
    w.watched_job(1, {"n1", "n2"});
    w.tick();
    w.node_dies("n2");
    std::string when = crash_after;
    w.ctl->after_action = [when](const std::string& kind) { if (kind == when) throw 1; };
    for (int i = 0; i < 6; ++i) {
      try {
        w.tick();
      } catch (int) {
        w.restart();
      }
      if (tight && i == 2) w.slurm.add_node("n3");
    }
    INFO("crash after " << crash_after);
    CHECK(w.slurm.jobs[1].restart_count == 1);
    CHECK(w.record(1).attempts == 1);
    CHECK_FALSE(w.slurm.jobs[1].held);
    CHECK(w.slurm.jobs[1].begin_time <= std::time(nullptr));
  }
}

TEST_CASE("a job Slurm will not requeue is reported, not retried forever", "[controller]") {
  World w;
  Job& j = w.watched_job(1, {"n1", "n2"});
  j.batch = false;  // an srun allocation: ESLURM_BATCH_ONLY
  w.tick();
  w.marked("n2", "autoresume: gpu0: lost");
  w.tick();
  CHECK(w.record(1).phase == JobPhase::NotResumed);
  CHECK(w.store->events().back().kind == "not_resumed");
  CHECK(w.tick().empty());
}

TEST_CASE("a NOT_RESPONDING node under a watched job is probed, and set DOWN only if its slurmd is gone",
          "[controller]") {
  World w;
  w.config.breaker_fraction = 0.5;  // two suspects of four nodes: not a storm here
  w.watched_job(1, {"n1", "n2"});
  w.tick();
  w.slurm.nodes["n2"].not_responding = true;
  CHECK(w.tick() == Calls{"probe n2"});  // answers: a hiccup, Slurm decides
  CHECK(w.tick().empty());               // not probed again within 5 s
  w.slurm.nodes["n1"].not_responding = true;
  w.slurm.dead_slurmds.insert("n1");
  CHECK(w.tick() == Calls{"probe n1", "down n1 autoresume: slurmd not responding (probe refused)"});
  w.slurm.nodes["n3"].not_responding = true;  // no watched job there: never probed
  w.slurm.dead_slurmds.insert("n3");
  CHECK(w.tick().empty());
}

TEST_CASE("the breaker: two of four nodes failing at once stops all automated action until reset",
          "[controller][breaker]") {
  World w;
  w.watched_job(1, {"n1", "n2"});
  w.tick();
  w.node_dies("n1");
  w.node_dies("n2");
  Calls calls = w.tick();
  CHECK(calls == Calls{"drain n1 autoresume: slurmd not responding", "drain n2 autoresume: slurmd not responding"});
  CHECK(w.ctl->breaker_open());
  auto events = w.store->events();
  CHECK(std::count_if(events.begin(), events.end(), [](const EventRow& e) { return e.kind == "breaker_tripped"; }) == 1);
  CHECK(w.tick().empty());

  w.restart();  // stays open across a controller restart
  CHECK(w.tick().empty());
  CHECK(w.ctl->breaker_open());

  Breaker::reset(*w.store, "test");
  CHECK(w.tick() == Calls{"start-now 1"});  // the failures before the reset are forgiven
  CHECK_FALSE(w.ctl->breaker_open());
}

TEST_CASE("the breaker: every node NOT_RESPONDING for less than BreakerSettle (a slurmctld restart or failover) "
          "is probed only, longer trips it", "[breaker]") {
  World w;
  w.watched_job(1, {"n1", "n2"});
  w.tick();
  for (auto& [name, n] : w.slurm.nodes) n.not_responding = true;
  Calls calls = w.tick();
  for (const auto& call : calls) CHECK(call.rfind("probe ", 0) == 0);  // every slurmd answers: nothing done
  CHECK_FALSE(w.ctl->breaker_open());
  w.config.breaker_settle = std::chrono::seconds(0);  // the same hiccup, now past the settle time
  CHECK(w.tick().empty());
  CHECK(w.ctl->breaker_open());
}

TEST_CASE("the breaker: a single failure never trips it, even on a small cluster", "[breaker]") {
  World w;
  w.watched_job(1, {"n1", "n2"});
  w.tick();
  w.node_dies("n2");  // 1 of 4 is above 0.2 of the nodes, but one node is not a storm
  w.tick();
  CHECK_FALSE(w.ctl->breaker_open());
}

TEST_CASE("heartbeats: a silent node is probed once, DOWN at once when dead, reported but never acted on when alive",
          "[controller][heartbeat]") {
  World w;
  w.config.breaker_fraction = 1.0;
  HeartbeatBoard beats;
  w.ctl->set_heartbeats(&beats);
  double now = unix_now();
  beats.beat("n1", now);
  beats.beat("n2", now - 10);  // silent for 10 s (HeartbeatMiss 3 x 1 s)
  beats.beat("n3", now - 10);
  w.slurm.dead_slurmds = {"n2"};
  Calls calls = w.tick();
  CHECK(std::count(calls.begin(), calls.end(), "probe n2") == 1);
  CHECK(std::count(calls.begin(), calls.end(), "probe n3") == 1);
  CHECK(std::count(calls.begin(), calls.end(), "probe n1") == 0);  // beating: never probed
  CHECK(std::count(calls.begin(), calls.end(), "down n2 autoresume: heartbeats stopped, slurmd not answering") == 1);
  CHECK(std::none_of(calls.begin(), calls.end(), [](const std::string& c) { return c.find(" n3") != std::string::npos && c.rfind("probe", 0) != 0; }));
  auto events = w.store->events();
  CHECK(std::count_if(events.begin(), events.end(), [](const EventRow& e) { return e.kind == "agent_silent" && e.subject == "n3"; }) == 1);
  calls = w.tick();
  CHECK(std::count(calls.begin(), calls.end(), "probe n3") == 0);  // reported once; Slurm's detection from here
  beats.beat("n3", unix_now());
  w.tick();
  events = w.store->events();
  CHECK(std::count_if(events.begin(), events.end(), [](const EventRow& e) { return e.kind == "agent_back"; }) == 1);
  CHECK(w.ctl->node_records().count("n4") == 0);  // never beat: nothing to do with heartbeats
}

TEST_CASE("a hold its user or an admin placed is never released by the controller", "[controller][security]") {
  World w;
  w.watched_job(1, {"n1", "n2"});
  w.tick();
  w.node_dies("n2");  // requeued by Slurm: pending, capacity free on n3 and n4
  w.slurm.jobs[1].held = true;  // the user's `scontrol hold 1`, before the controller acts
  Calls calls = w.tick();
  CHECK(std::count(calls.begin(), calls.end(), "release 1") == 0);
  CHECK(std::count(calls.begin(), calls.end(), "start-now 1") == 0);
  CHECK(w.tick().empty());
  CHECK(w.slurm.jobs[1].held);
  w.slurm.jobs[1].held = false;  // the user releases it: the controller carries on
  CHECK(w.tick() == Calls{"start-now 1"});
  w.runs_on(1, {"n3", "n4"});
  w.tick();
  CHECK(w.record(1).phase == JobPhase::Running);
}

TEST_CASE("the controller's own hold is released, across a restart too", "[controller]") {
  World w;
  w.slurm.nodes.erase("n3");
  w.slurm.nodes.erase("n4");
  w.watched_job(1, {"n1", "n2"});
  w.tick();
  w.node_dies("n2");
  CHECK(w.tick() == Calls{"drain n2 autoresume: slurmd not responding", "hold 1"});
  CHECK(w.record(1).held_by_us);
  w.restart();
  w.slurm.add_node("n3");
  CHECK(w.tick() == Calls{"release 1", "start-now 1"});
  CHECK_FALSE(w.record(1).held_by_us);
}

TEST_CASE("a reused job id is another job: its own budget, not the old record's", "[controller][security]") {
  World w;
  Job& old = w.watched_job(7, {"n1"}, 2);
  old.user_id = 1000;
  old.submit_time = 1'700'000'000;
  w.tick();
  REQUIRE(w.record(7).user_id == 1000);
  // slurmctld lost its state (or wrapped MaxJobId) and purged job 7 between two ticks; another user's job got 7.
  w.slurm.jobs.erase(7);
  Job& reused = w.watched_job(7, {"n2"}, 5);
  reused.user_id = 2000;
  reused.submit_time = 1'700'000'500;
  w.restart();
  w.tick();
  CHECK(w.record(7).user_id == 2000);
  CHECK(w.record(7).max_attempts == 5u);
  CHECK(w.record(7).submit_time == 1'700'000'500);
}

TEST_CASE("a requeue renews the submit time: still the same job", "[controller]") {
  World w;
  Job& j = w.watched_job(1, {"n1", "n2"});
  j.user_id = 1000;
  w.tick();
  w.node_dies("n2");
  w.tick();
  w.slurm.jobs[1].submit_time += 60;  // slurmctld's new accounting record for the requeued run
  w.restart();
  w.tick();
  CHECK(w.record(1).attempts == 1);
  CHECK(w.store->events_of("1").front().kind == "job_watched");
  int watched = 0;
  for (const auto& e : w.store->events_of("1")) watched += e.kind == "job_watched";
  CHECK(watched == 1);
}

TEST_CASE("an action failing tick after tick keeps one journal row and one log line per error",
          "[controller][store]") {
  World w;
  w.slurm.nodes.erase("n3");
  w.slurm.nodes.erase("n4");
  w.watched_job(1, {"n1", "n2"});
  w.tick();
  w.slurm.failing_jobs.emplace(1, Error{1, "Socket timed out on send/recv operation"});
  w.node_dies("n2");
  for (int i = 0; i < 5; ++i) w.tick();
  auto holds = w.store->actions("failed");
  REQUIRE(holds.size() == 1);
  CHECK(holds[0].kind == "hold");
  CHECK(holds[0].attempts == 5);
  w.slurm.failing_jobs.clear();
  w.tick();
  CHECK(w.store->actions("failed").empty());
  CHECK(w.store->actions("done").back().kind == "hold");
  CHECK(w.slurm.jobs[1].held);
}

TEST_CASE("a state database error during an admin command answers the request, then goes up", "[controller][store]") {
  auto path = std::filesystem::temp_directory_path() / ("autoresume-cmd-" + std::to_string(getpid()) + ".db");
  std::filesystem::remove(path);
  FakeSlurm slurm;
  slurm.add_node("n1");
  Config config;
  auto store = Store::open(path.string()).value();
  Controller ctl(slurm, *store, config);
  ctl.recover();
  ctl.tick();
  CommandQueue commands;
  auto replace = commands.push("replace", "n1", "uid 0");
  auto reset = commands.push("breaker_reset", "", "uid 0");
  // Another process holds the database locked: every write fails (after the busy timeout) with an SQLite error.
  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &other) == SQLITE_OK);
  REQUIRE(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr) == SQLITE_OK);
  auto queued = commands.take();
  CHECK_THROWS(serve_commands(queued, ctl, *store));
  REQUIRE(replace.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
  auto answer = replace.get();
  REQUIRE_FALSE(answer.ok());
  CHECK(answer.error().code == 500);
  CHECK(answer.error().message.find("state database") != std::string::npos);
  REQUIRE(reset.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
  CHECK(reset.get().error().code == 503);
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  for (const char* sfx : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + sfx);
}

// ---------------------------------------------------------------- in-place retry (engine/swap_engine.cpp)
namespace {

// A job whose intent came from a step (`srun --auto-resume=1`), with step 0 on all its nodes; batch host first.
Job& in_place_job(World& w, uint32_t id, std::vector<std::string> nodes) {
  Job& j = w.watched_job(id, nodes);
  j.admin_comment = intent_token(Intent{3, true});
  w.slurm.steps[id] = {JobStep{0, nodes}};
  return j;
}

bool called(const Calls& calls, const std::string& prefix) {
  return std::any_of(calls.begin(), calls.end(), [&](const std::string& c) { return c.rfind(prefix, 0) == 0; });
}

std::optional<SwapState> swap_of(World& w, uint32_t id) { return parse_swap(w.slurm.jobs[id].admin_comment); }

// Ticks until `done` or 10 ticks; every call made on the way.
Calls tick_until(World& w, const std::function<bool()>& done) {
  Calls all;
  for (int i = 0; i < 10 && !done(); ++i) {
    Calls c = w.tick();
    all.insert(all.end(), c.begin(), c.end());
  }
  return all;
}

}  // namespace

TEST_CASE("in place: the failed node leaves the job, a node joins through an expansion, the step is told to run again",
          "[controller][in-place]") {
  World w;
  in_place_job(w, 1, {"n1", "n2"});
  w.tick();
  REQUIRE(w.record(1).in_place);
  w.marked("n2", "autoresume: gpu0: xid 79");
  Calls calls = tick_until(w, [&] { return w.slurm.expanding.size() == 1; });
  // In this order: the token (the step's srun then waits), the node out of the job, the step ended, the expansion.
  auto at = [&](const std::string& prefix) {
    return std::find_if(calls.begin(), calls.end(), [&](const auto& c) { return c.rfind(prefix, 0) == 0; }) - calls.begin();
  };
  REQUIRE(called(calls, "admin-comment 1 autoresume=1:max=3:step autoresume_swap=1:swapping:0"));
  REQUIRE(called(calls, "shrink 1 n1"));
  REQUIRE(called(calls, "signal_step 1.0 9"));
  REQUIRE(called(calls, "expand 1 as 1000"));
  CHECK(at("admin-comment 1") < at("shrink 1"));
  CHECK(at("shrink 1") < at("signal_step 1.0"));
  CHECK(at("signal_step 1.0") < at("expand 1"));
  CHECK_FALSE(called(calls, "requeue"));
  const ExpansionSpec& spec = w.slurm.expansions.at(0);
  CHECK(spec.exclude == std::vector<std::string>{"n1", "n2"});  // never the failed node, nor one the job holds
  CHECK(spec.name == "autoresume-expand-1");
  CHECK(w.record(1).phase == JobPhase::Swapping);
  CHECK(swap_of(w, 1)->stage == SwapState::Stage::Swapping);

  w.tick();  // the expansion is still pending: nothing to merge
  CHECK(w.record(1).swap_stage == SwapStage::Expanding);
  w.runs_on(1000, {"n3"});
  calls = tick_until(w, [&] { return w.record(1).phase == JobPhase::Running; });
  CHECK(called(calls, "merge 1000"));
  CHECK(w.slurm.jobs[1].nodes == std::vector<std::string>{"n1", "n3"});
  auto swap = swap_of(w, 1);
  REQUIRE(swap);
  CHECK(*swap == SwapState{1, SwapState::Stage::Ready, {0}});
  // Then the sruns are woken (the batch script's process group), after the token says ready, not before.
  std::string wake = "signal_batch 1 " + std::to_string(kSwapReadySignal);
  REQUIRE(called(calls, wake));
  CHECK(at("admin-comment 1 autoresume=1:max=3:step autoresume_swap=1:ready:0") < at(wake));
  CHECK(w.record(1).attempts == 1);  // the budget counts in-place retries too
  CHECK(w.slurm.jobs[1].restart_count == 0);
  CHECK_FALSE(called(calls, "requeue"));
}

TEST_CASE("in place: impossible where Slurm cannot grow a job, or the batch host failed: the whole job is requeued",
          "[controller][in-place]") {
  World w;
  SECTION("no permit_job_expansion") {
    w.slurm.settings.scheduler_parameters = "bf_continue";
    in_place_job(w, 1, {"n1", "n2"});
    w.tick();
    w.marked("n2", "autoresume: gpu0: xid 79");
  }
  SECTION("the failed node runs the batch script") {
    in_place_job(w, 1, {"n1", "n2"});
    w.tick();
    w.marked("n1", "autoresume: gpu0: xid 79");
  }
  SECTION("a GRES job with no spare node of its own") {
    in_place_job(w, 1, {"n1", "n2"}).has_gres = true;
    w.tick();
    w.marked("n2", "autoresume: gpu0: xid 79");
  }
  Calls calls = tick_until(w, [&] { return w.slurm.jobs[1].restart_count == 1; });
  CHECK(called(calls, "requeue 1"));
  CHECK_FALSE(called(calls, "shrink"));
  CHECK_FALSE(called(calls, "expand"));
  CHECK(w.store->events().back().kind != "step_retried_in_place");
  bool fell_back = false;
  for (const auto& e : w.store->events()) fell_back |= e.kind == "in_place_fallback";
  CHECK(fell_back);
}

TEST_CASE("in place: a GRES job's step runs again on a node of its own that no step used, without an expansion",
          "[controller][in-place]") {
  World w;
  Job& j = in_place_job(w, 1, {"n1", "n2", "n3"});
  j.has_gres = true;
  w.slurm.steps[1] = {JobStep{0, {"n1", "n2"}}};  // srun -N2 in a 3-node job
  w.tick();
  w.marked("n2", "autoresume: gpu0: xid 79");
  Calls calls = tick_until(w, [&] { return w.record(1).phase == JobPhase::Running && w.record(1).attempts == 1; });
  CHECK(called(calls, "shrink 1 n1,n3"));
  CHECK_FALSE(called(calls, "expand"));
  CHECK(*swap_of(w, 1) == SwapState{1, SwapState::Stage::Ready, {0}});
  CHECK(called(calls, "signal_batch 1 " + std::to_string(kSwapReadySignal)));
}

TEST_CASE("in place: a node whose agent went silent and whose slurmd is dead is swapped out, set DOWN only after it "
          "left the job", "[controller][in-place][heartbeat]") {
  World w;
  w.config.breaker_fraction = 1.0;
  HeartbeatBoard beats;
  w.ctl->set_heartbeats(&beats);
  in_place_job(w, 1, {"n1", "n2"});
  double now = unix_now();
  for (const char* n : {"n1", "n2", "n3", "n4"}) beats.beat(n, now);
  w.tick();
  REQUIRE(w.record(1).in_place);
  beats.beat("n2", now - 10);  // its agent silent for 10 s, its slurmd gone; Slurm has not flagged it yet
  w.slurm.dead_slurmds = {"n2"};
  Calls calls = w.tick();
  CHECK(called(calls, "probe n2"));
  CHECK_FALSE(called(calls, "down n2"));  // DOWN now would make Slurm requeue the whole job
  Calls more = tick_until(w, [&] { return w.slurm.expanding.size() == 1; });
  calls.insert(calls.end(), more.begin(), more.end());
  auto at = [&](const std::string& prefix) {
    return std::find_if(calls.begin(), calls.end(), [&](const auto& c) { return c.rfind(prefix, 0) == 0; }) - calls.begin();
  };
  REQUIRE(called(calls, "shrink 1 n1"));
  REQUIRE(called(calls, "down n2 autoresume: heartbeats stopped, slurmd not answering"));
  CHECK(at("shrink 1") < at("down n2"));  // out of the job first: then Slurm hears of it
  CHECK_FALSE(called(calls, "requeue"));
  w.runs_on(1000, {"n3"});
  calls = tick_until(w, [&] { return w.record(1).phase == JobPhase::Running && w.record(1).attempts == 1; });
  CHECK(*swap_of(w, 1) == SwapState{1, SwapState::Stage::Ready, {0}});
  CHECK(w.slurm.jobs[1].restart_count == 0);
  CHECK(w.slurm.nodes["n2"].down());
}

TEST_CASE("in place: an allocation without a batch script (salloc) is not signalled, and a failed wake-up changes nothing",
          "[controller][in-place]") {
  World w;
  Job& j = in_place_job(w, 1, {"n1", "n2", "n3"});
  w.slurm.steps[1] = {JobStep{0, {"n1", "n2"}}};
  bool batch = GENERATE(false, true);
  j.batch = batch;
  w.tick();
  w.marked("n2", "autoresume: gpu0: xid 79");
  if (batch) w.slurm.batch_signal_error = Error{1, "Unable to contact slurm controller", false};
  Calls calls = tick_until(w, [&] { return w.record(1).phase == JobPhase::Running && w.record(1).attempts == 1; });
  CHECK(w.record(1).phase == JobPhase::Running);
  CHECK(*swap_of(w, 1) == SwapState{1, SwapState::Stage::Ready, {0}});
  CHECK_FALSE(called(calls, "signal_batch "));
  CHECK_FALSE(called(calls, "signal_batch_refused"));
  CHECK(called(calls, "signal_batch_failed") == batch);  // tried once for a batch job, never for an allocation
  CHECK(w.record(1).attempts == 1);
}

TEST_CASE("in place: a controller restarted between two stages goes on from the journaled one, nothing twice",
          "[controller][in-place]") {
  World w;
  in_place_job(w, 1, {"n1", "n2"});
  w.tick();
  w.marked("n2", "autoresume: gpu0: xid 79");
  tick_until(w, [&] { return w.record(1).swap_stage == SwapStage::Shrunk; });
  w.restart();
  REQUIRE(w.record(1).swap_stage == SwapStage::Shrunk);
  Calls calls = tick_until(w, [&] { return w.slurm.expanding.size() == 1; });
  CHECK_FALSE(called(calls, "shrink"));  // done before the restart: the job no longer has n2
  w.restart();
  w.runs_on(1000, {"n3"});
  calls = tick_until(w, [&] { return w.record(1).phase == JobPhase::Running; });
  CHECK(w.slurm.expansions.size() == 1);
  CHECK(swap_of(w, 1)->number == 1);
  CHECK(w.record(1).attempts == 1);
}

TEST_CASE("in place: an expansion asked for just before a crash (its id not journaled) is found by name, not asked again",
          "[controller][in-place]") {
  World w;
  in_place_job(w, 1, {"n1", "n2"});
  w.tick();
  w.marked("n2", "autoresume: gpu0: xid 79");
  tick_until(w, [&] { return w.slurm.expanding.size() == 1; });
  JobRecord r = w.record(1);
  REQUIRE(r.swap_stage == SwapStage::Expanding);
  r.swap_job = 0;  // the crash came between the allocation and the journal
  w.store->save_job(r);
  w.restart();
  w.runs_on(1000, {"n3"});
  Calls calls = tick_until(w, [&] { return w.record(1).phase == JobPhase::Running; });
  CHECK(w.slurm.expansions.size() == 1);
  CHECK(called(calls, "merge 1000"));
}
