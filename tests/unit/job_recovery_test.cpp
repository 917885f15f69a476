#include <catch2/catch.hpp>

#include "recovery/job_recovery.hpp"

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

TEST_CASE("a StartTime is only sent once the requeued job is PENDING and no longer COMPLETING", "[recovery]") {
  Config config;
  std::map<std::string, NodeFailure> failed;
  JobContext ctx{&failed, true, 1000, &config};
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
