// SPDX-License-Identifier: GPL-2.0-or-later
// Slurm's expedited requeue (25.11+, `sbatch --requeue=expedite` under SlurmctldParameters=enable_expedited_requeue):
// when slurmctld requeues the job itself, before the controller does, the job is PENDING with JOB_EXPEDITING
// ("EXPEDITING") and slurmctld restarts it at the top of the queue once its nodes can run it. The controller counts
// that requeue once and leaves the start to Slurm: no second requeue, no hold, no BeginTime.
#include <slurm/slurm_version.h>

#include "catch_compat.hpp"

#include "devcluster.hpp"
#include "resume_cluster.hpp"

using namespace autoresume;
using namespace autoresume::testing;
using namespace std::chrono_literals;

// The requeue exists only from 25.11: on older Slurm there is nothing to test (sbatch has no --requeue=expedite).
#if SLURM_VERSION_NUMBER >= SLURM_VERSION_NUM(25, 11, 0)
TEST_CASE("(expedite) a job slurmctld requeued itself (EXPEDITING) is counted once, neither requeued again nor held, "
          "and runs again on its replaced node",
          "[expedite]") {
  const std::string name = "expedite";
  ClusterOptions o = ResumeCluster::options(name, 2);  // no spare: the job waits for its node
  o.extra_conf = {"SlurmctldParameters=enable_expedited_requeue"};
  const std::vector<std::string> conf = {replace_program(name), "ValidationProgram=/bin/true", "BreakerSettle=0s"};
  ResumeCluster rc(o, name, conf);
  uint32_t id = rc.submit_counter("--auto-resume=1 --requeue=expedite", 40);
  rc.wait_stepping(id);
  REQUIRE(wait_until(30s, [&] { return rc.checkpoint() >= 8; }));
  REQUIRE(wait_until(10s, [&] { return !rc.events("job_watched").empty(); }));

  // The controller is away (restarting, say) while the node dies: slurmctld sets it DOWN and requeues the job first.
  rc.c.devcluster("stop-controller");
  rc.c.kill_node("n2");
  REQUIRE(wait_until(60s, [&] { return rc.c.job(id).expediting; }));
  Job waiting = rc.c.job(id);
  CHECK(waiting.state == JobState::Pending);
  CHECK(waiting.restart_count == 1);

  rc.c.start_controller(conf);
  // n2 replaced and validated; slurmctld then starts the job itself, first in line.
  REQUIRE(wait_until(90s, [&] { return rc.c.job(id).state == JobState::Running; }));
  Job again = rc.c.job(id);
  CHECK(again.restart_count == 1);  // one requeue: Slurm's
  CHECK(again.nodes == std::vector<std::string>{"n1", "n2"});
  CHECK(rc.events("node_validated").size() == 1);
  for (const char* kind : {"requeue", "requeue_hold", "hold", "release", "start_now"}) {
    INFO(kind);
    CHECK(rc.actions(kind).empty());
  }
  REQUIRE(wait_until(60s, [&] { return rc.c.job(id).state == JobState::Completed; }));
  check_steps_resumed_once(rc.steps_log(), read_file(rc.c.work_dir() + "/counter.out"), 40);
  auto store = Store::open(rc.c.controller_db());
  REQUIRE(store.ok());
  auto job = store.value()->find_job(id);
  REQUIRE(job);
  CHECK(job->attempts == 1);  // counted once, against its budget
}
#endif
