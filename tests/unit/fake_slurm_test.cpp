// SPDX-License-Identifier: GPL-2.0-or-later
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

TEST_CASE("a sweep keeps the jobs its filter names, and every pending job's age per partition", "[fake]") {
  FakeSlurm s;
  s.add_job(1, {"n1"}).admin_comment = "autoresume=1:max=3";
  Job& other = s.add_job(2, {}, JobState::Pending);
  other.partition = "gpu,cpu";
  other.submit_time = 500;
  Job& older = s.add_job(3, {}, JobState::Pending);
  older.partition = "gpu";
  older.begin_time = 300;
  s.add_job(4, {"n1"}).name = "autoresume-validate-n1";
  JobSweepFilter filter;
  filter.admin_comment_contains = "autoresume=";
  filter.name_prefix = "autoresume-validate-";
  auto swept = s.sweep_jobs(filter);
  REQUIRE(swept.ok());
  REQUIRE(swept->jobs.size() == 2);
  CHECK(swept->jobs[0].id == 1);
  CHECK(swept->jobs[1].id == 4);
  CHECK(swept->total == 4);
  CHECK(swept->oldest_pending_since == std::map<std::string, std::time_t>{{"cpu", 500}, {"gpu", 300}});
  CHECK(s.sweep_jobs(JobSweepFilter{})->jobs.empty());
  JobSweepFilter all;
  all.all = true;
  CHECK(s.sweep_jobs(all)->jobs.size() == 4);
}
