// SPDX-License-Identifier: GPL-2.0-or-later
// What the job's tasks see, on the first run and after a requeue, and the intent across requeue and a
// slurmctld restart.
#include "catch_compat.hpp"

#include "autoresume/intent.hpp"
#include "devcluster.hpp"

using namespace autoresume;
using namespace autoresume::testing;
using namespace std::chrono_literals;

TEST_CASE("tasks see AUTO_RESUME, the attempt and the budget, and the intent survives requeue and slurmctld restart",
          "[plugin]") {
  ClusterOptions o;
  o.plugstack = plugstack_with_plugin("plugin-env", "default_max_attempts=2");
  DevCluster c("plugin-env", o);
  const std::string log = c.work_dir() + "/env.log";
  uint32_t id = c.sbatch_as(as_user(
      "sbatch --parsable -o /dev/null -N2 --auto-resume=1 --wrap '"
      "echo batch $AUTO_RESUME $AUTO_RESUME_ATTEMPT $AUTO_RESUME_MAX_ATTEMPTS >> env.log; "
      "srun -N1 bash -c \"echo step \\$AUTO_RESUME \\$AUTO_RESUME_ATTEMPT \\$AUTO_RESUME_MAX_ATTEMPTS\" >> env.log; "
      "sleep 300'"));
  REQUIRE(wait_until(30s, [&] { return read_file(log).find("step") != std::string::npos; }));
  CHECK(read_file(log) == "batch 1 0 2\nstep 1 0 2\n");
  REQUIRE(parse_intent(c.job(id).admin_comment) == Intent{2});

  REQUIRE(c.slurm().requeue_job(id, false).ok());
  // A StartTime update sent before the job is PENDING again is overwritten by the requeue.
  REQUIRE(wait_until(30s, [&] {
    Job j = c.job(id);
    return j.state == JobState::Pending && !j.completing;
  }));
  REQUIRE(c.slurm().start_job_now(id).ok());
  REQUIRE(wait_until(30s, [&] { return read_file(log).find("step 1 1") != std::string::npos; }));
  CHECK(read_file(log) == "batch 1 0 2\nstep 1 0 2\nbatch 1 1 2\nstep 1 1 2\n");
  CHECK(c.job(id).restart_count == 1);
  CHECK(parse_intent(c.job(id).admin_comment) == Intent{2});

  c.devcluster("restart-ctld");
  REQUIRE(wait_until(30s, [&] { return c.slurm().load_job(id).ok(); }));
  Job after = c.job(id);
  CHECK(parse_intent(after.admin_comment) == Intent{2});
  CHECK(after.restart_count == 1);
  CHECK(after.state == JobState::Running);
  c.sh("scancel " + std::to_string(id));
}
