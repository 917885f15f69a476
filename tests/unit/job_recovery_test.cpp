// SPDX-License-Identifier: GPL-2.0-or-later
#include "catch_compat.hpp"

#include "recovery/job_recovery.hpp"
#include "store/store.hpp"

using namespace autoresume;
using P = JobPhase;

TEST_CASE("the transition table: only the listed moves, terminal phases have no way out", "[recovery]") {
  CHECK(transition_allowed(P::Running, P::Requeueing));
  CHECK(transition_allowed(P::WaitingPending, P::Held));
  CHECK(transition_allowed(P::Held, P::Starting));
  CHECK(transition_allowed(P::Starting, P::Running));
  CHECK_FALSE(transition_allowed(P::Running, P::Starting));  // never start a job not requeued
  CHECK_FALSE(transition_allowed(P::Held, P::Requeueing));
  for (P t : {P::Exhausted, P::NotResumed, P::Finished})
    for (P to : {P::Running, P::Requeueing, P::Starting}) CHECK_FALSE(transition_allowed(t, to));
}

TEST_CASE("Ending: a node of the failed job failing within the window is a requeue, or a give-up on a spent budget",
          "[recovery]") {
  Config config;
  std::map<std::string, NodeFailure> failed;
  JobContext ctx{&failed, true, 1000, &config, ""};
  JobRecord r;
  r.phase = P::Running;
  r.max_attempts = 2;
  r.nodes = {"n1", "n2"};
  Job j;
  j.state = JobState::Failed;
  j.exit_code = 1u << 8;
  j.end_time = 995;
  JobDecision d = decide(r, j, ctx);
  CHECK(d.phase == P::Ending);
  CHECK(d.action == JobAction::None);
  r.phase = P::Ending;
  CHECK(decide(r, j, ctx).phase == P::Ending);
  failed.emplace("n2", NodeFailure{FailureSource::Slurm, "slurmd not responding", false});
  d = decide(r, j, ctx);
  CHECK(d.phase == P::Requeueing);
  CHECK(d.action == JobAction::Requeue);
  CHECK(d.failed_node == "n2");
  CHECK(d.failure_at == 995);  // the recovery is timed from the job's failure, not from the node's detection
  CHECK(d.why == "failed (exit 1) and its node n2 failed within FailedExitWindow: that node's failure");
  r.attempts = 2;
  d = decide(r, j, ctx);
  CHECK(d.phase == P::Exhausted);
  CHECK(d.action == JobAction::None);
  failed.clear();
  r.attempts = 0;
  JobContext late{&failed, true, 995 + 120, &config, ""};
  CHECK(decide(r, j, late).phase == P::Finished);
  config.failed_exit_window = std::chrono::seconds(0);  // off: a failed job is finished at once
  r.phase = P::Running;
  CHECK(decide(r, j, ctx).phase == P::Finished);
  CHECK(transition_allowed(P::Running, P::Ending));
  CHECK_FALSE(transition_allowed(P::Ending, P::Starting));
  CHECK_FALSE(transition_allowed(P::Finished, P::Ending));
}

TEST_CASE("a StartTime is only sent once the requeued job is PENDING and no longer COMPLETING", "[recovery]") {
  Config config;
  std::map<std::string, NodeFailure> failed;
  JobContext ctx{&failed, true, 1000, &config, ""};
  JobRecord r;
  r.phase = P::WaitingPending;
  Job j;
  j.state = JobState::Pending;
  j.completing = true;
  CHECK(decide(r, j, ctx).action == JobAction::None);
  j.completing = false;
  CHECK(decide(r, j, ctx).action == JobAction::StartNow);
  ctx.has_capacity = false;
  CHECK(decide(r, j, ctx).action == JobAction::Hold);
  CHECK(decide(r, std::nullopt, ctx).phase == P::Finished);
}

TEST_CASE("a job in Slurm's expedited requeue (EXPEDITING) is counted once and left to slurmctld to start",
          "[recovery]") {
  Config config;
  std::map<std::string, NodeFailure> failed{{"n2", NodeFailure{FailureSource::Slurm, "slurmd not responding", false}}};
  JobRecord r;
  r.phase = P::Running;
  r.max_attempts = 3;
  r.nodes = {"n1", "n2"};
  Job j;
  j.state = JobState::Pending;  // PENDING with JOB_EXPEDITING: slurmctld requeued it itself when n2 went DOWN
  j.expediting = true;
  j.restart_count = 1;
  JobContext ctx{&failed, false, 1000, &config, ""};
  JobDecision d = decide(r, j, ctx);
  CHECK(d.phase == P::WaitingPending);
  CHECK(d.action == JobAction::None);  // not requeued again
  CHECK(d.count_attempt);
  CHECK(d.failed_node == "n2");
  r.phase = P::WaitingPending;
  r.attempts = 1;
  r.restart_seen = 1;
  for (bool capacity : {false, true}) {
    JobContext c{&failed, capacity, 2000, &config, ""};
    JobDecision w = decide(r, j, c);
    CHECK(w.phase == P::WaitingPending);  // neither held (it would lose its place) nor given a BeginTime
    CHECK(w.action == JobAction::None);
  }
  j.expediting = false;
  j.state = JobState::Running;
  CHECK(decide(r, j, ctx).phase == P::Running);  // slurmctld started it: running again, one attempt counted
  // The same job PENDING without the flag (an ordinary requeue) is held while nothing can run it.
  j.state = JobState::Pending;
  CHECK(decide(r, j, ctx).action == JobAction::Hold);
}

TEST_CASE("a requeued job that does not come back PENDING is reported once after PendingTimeout", "[recovery]") {
  Config config;
  config.pending_timeout = std::chrono::seconds(300);
  std::map<std::string, NodeFailure> failed;
  JobRecord r;
  r.phase = P::WaitingPending;
  r.phase_since = 1000;
  Job j;
  j.state = JobState::Pending;
  j.completing = true;
  JobContext early{&failed, true, 1299, &config, ""};
  CHECK(decide(r, j, early).event.empty());
  JobContext late{&failed, true, 1300, &config, ""};
  JobDecision d = decide(r, j, late);
  CHECK(d.event == "pending_timeout");
  CHECK(d.phase == P::WaitingPending);
  CHECK(d.why == "requeued but still PENDING (completing) after 300 s");
  r.overdue_reported = true;
  CHECK(decide(r, j, late).event.empty());
}

TEST_CASE("the state database keeps job records across a restart", "[store]") {
  auto store = Store::open(":memory:");
  REQUIRE(store.ok());
  JobRecord r;
  r.job_id = 42;
  r.max_attempts = 3;
  r.attempts = 2;
  r.phase = P::Held;
  r.restart_seen = 2;
  r.nodes = {"n1", "n3"};
  r.failed_node = "n2";
  r.failure_at = 12.5;
  r.overdue_reported = true;
  store.value()->save_job(r);
  auto back = store.value()->load_jobs().at(42);
  CHECK(back.attempts == 2);
  CHECK(back.phase == P::Held);
  CHECK(back.nodes == std::vector<std::string>{"n1", "n3"});
  CHECK(back.failed_node == "n2");
  CHECK(back.failure_at == 12.5);
  CHECK(back.overdue_reported);
}

// slurmd refuses a launch credential made in the second its previous run was killed ("Job credential revoked"):
// seen on a real cluster when StartTime=now followed a requeue within the same second, failing the job.
TEST_CASE("a requeued job is started no sooner than the second after next from when its requeue was seen", "[recovery]") {
  Config config;  // restart_settle: 2 s by default
  std::map<std::string, NodeFailure> failed;
  JobRecord r;
  r.phase = P::WaitingPending;
  r.phase_since = 1000.6;  // the requeue seen
  Job j;
  j.state = JobState::Pending;
  j.end_time = 1000 + 365 * 86400;  // a pending job's end time is an estimate: not used
  for (double now : {1000.7, 1001.9}) {
    JobContext ctx{&failed, true, now, &config, ""};
    CHECK(decide(r, j, ctx).action == JobAction::None);
  }
  JobContext later{&failed, true, 1002.0, &config, ""};
  CHECK(decide(r, j, later).action == JobAction::StartNow);
}
