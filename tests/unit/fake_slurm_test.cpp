// The fake must refuse what Slurm refuses, or state-machine tests would pass against a kinder Slurm.
#include "catch_compat.hpp"

#include "slurm/fake_slurm.hpp"

using namespace autoresume;

TEST_CASE("fake Slurm requeues like Slurm: batch, requeue-able, running jobs only", "[fake]") {
  FakeSlurm s;
  s.add_node("n1");
  Job& j = s.add_job(7, {"n1"});
  REQUIRE(s.requeue_job(7, true).ok());
  CHECK(s.jobs[7].state == JobState::Pending);
  CHECK(s.jobs[7].held);
  CHECK(s.jobs[7].restart_count == 1);
  CHECK_FALSE(s.requeue_job(7, false).ok());  // already pending

  Job& interactive = s.add_job(8, {"n1"});
  interactive.batch = false;
  CHECK_FALSE(s.requeue_job(8, false).ok());
  j.requeue_allowed = false;
  CHECK(s.calls == std::vector<std::string>{"requeue 7 hold"});
}

TEST_CASE("fake Slurm can be unreachable", "[fake]") {
  FakeSlurm s;
  s.add_node("n1");
  s.unreachable = true;
  CHECK_FALSE(s.load_nodes().ok());
  CHECK_FALSE(s.drain_node("n1", "x").ok());
  s.unreachable = false;
  s.fail_next = Error{1, "boom"};
  CHECK(s.load_nodes().error().message == "boom");
  CHECK(s.load_nodes().ok());
}
