// SPDX-License-Identifier: GPL-2.0-or-later
// In-place retry on a real cluster (docs/in-place.md): `srun --auto-resume=1` inside a batch job without the flag.
// A node under the step dies; the node is swapped inside the same job (a real slurmdbd on a real MariaDB gives the
// resized job its accounting record) and only the step runs again, from its checkpoint.
#include "catch_compat.hpp"
#include <regex>

#include "autoresume/intent.hpp"
#include "devcluster.hpp"
#include "resume_cluster.hpp"
#include "store/store.hpp"

using namespace autoresume;
using namespace autoresume::testing;
using namespace std::chrono_literals;

namespace {

struct InPlaceCluster : ResumeCluster {
  // Three nodes: the job's two and one spare. `expansion`: the settings in-place retry needs.
  InPlaceCluster(const std::string& name, bool expansion, int gpus = 0, const std::string& controller_env = "")
      : ResumeCluster(options(name, expansion, gpus), name, controller_env) {}

  static ClusterOptions options(const std::string& name, bool expansion, int gpus) {
    ClusterOptions o = ResumeCluster::options(name, 3);
    o.accounting = expansion;
    if (expansion) o.extra_conf.push_back("SchedulerParameters=permit_job_expansion");
    o.gpus = gpus;
    return o;
  }

  uint32_t submit(const std::string& sbatch_flags = "", const std::string& srun_flags = "") {
    return c.sbatch_as(as_user("env STEP_COUNTER=" + source_dir() + "/examples/step_counter.py STEPS=30 " +
                               "STEP_SECONDS=0.4 SRUN_FLAGS='" + srun_flags + "' sbatch --parsable -o counter.out " +
                               sbatch_flags + " " + source_dir() + "/examples/in_place.sbatch " + c.work_dir()));
  }

  std::string stages() { return read_file(c.work_dir() + "/stages.log"); }

  CommandResult check_slurm() {
    return c.sh(binary_dir() + "/controller/autoresumed --check-slurm --config " + c.dir() + "/autoresume.conf");
  }

  static int count(const std::string& text, const std::string& what) {
    int n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  }

  // A node of the job that is not its batch host (the batch script itself would be lost with that one).
  std::string victim(uint32_t id) {
    Job j = c.job(id);
    for (const auto& n : j.nodes)
      if (n != j.batch_host) return n;
    FAIL("no node besides the batch host in job " << id);
    return "";
  }

  void kill_under_step(uint32_t id, std::string& node) {
    wait_running(id);
    REQUIRE(wait_until(30s, [&] { return parse_intent(c.job(id).admin_comment).has_value(); }));
    REQUIRE(parse_intent(c.job(id).admin_comment)->in_place);
    REQUIRE(wait_until(30s, [&] { return checkpoint() >= 8; }));
    node = victim(id);
    c.kill_node(node);
  }
};

}  // namespace

TEST_CASE("(in-place a) a node under an srun --auto-resume=1 step dies: swapped in the same job, only the step runs again",
          "[in-place]") {
  InPlaceCluster ic("inplace-a", true);
  auto check = ic.check_slurm();
  INFO(check.out);
  CHECK(check.rc == 0);
  CHECK(check.out.find("in-place retry of srun --auto-resume=1 steps: available") != std::string::npos);
  uint32_t id = ic.submit();
  std::string dead;
  ic.kill_under_step(id, dead);
  REQUIRE(wait_until(90s, [&] {
    auto swap = parse_swap(ic.c.job(id).admin_comment);
    return swap && swap->stage == SwapState::Stage::Ready;
  }));
  Job swapped = ic.c.job(id);
  CHECK(swapped.state == JobState::Running);
  CHECK(swapped.num_nodes == 2);
  CHECK(std::count(swapped.nodes.begin(), swapped.nodes.end(), dead) == 0);
  REQUIRE(wait_until(90s, [&] { return ic.c.job(id).state == JobState::Completed; }));
  Job done = ic.c.job(id);
  CHECK(done.restart_count == 0);  // never requeued: the same job, its place and its id
  std::string stages = ic.stages();
  INFO(stages);
  CHECK(InPlaceCluster::count(stages, "stage:") == 1);
  CHECK(InPlaceCluster::count(stages, "post: train exited 0") == 1);
  std::string out = read_file(ic.c.work_dir() + "/counter.out");
  INFO(out);
  CHECK(out.find("node swapped in place, running the step again") != std::string::npos);
  CHECK(out.find("attempt=1 done: 30 steps") != std::string::npos);
  check_steps_resumed_once(ic.steps_log(), out, 30);
  CHECK(ic.events("step_retried_in_place").size() == 1);
  CHECK(ic.events("in_place_fallback").empty());
  CHECK(ic.actions("requeue").empty());
  CHECK(ic.actions("merge").size() == 1);
  // The srun was woken by the controller (the batch script's process group got the signal, which the script
  // itself ignored: its last line ran) and ran the step again without sitting out srun's wait for the dead node's
  // tasks, which ends with this line.
  CHECK(ic.actions("wake_sruns").size() == 1);
  CHECK(out.find("Timed out waiting for job step to complete") == std::string::npos);
}

// Slurm merges no allocation into a job that holds GRES (select/cons_tres refuses, on every release): a GRES step
// is retried on a node of its job that no step used, its GPUs with it.
TEST_CASE("(in-place b) the same with a gpu GRES on every node: the step runs again on the job's spare node and its GPUs",
          "[in-place]") {
  InPlaceCluster ic("inplace-b", true, 2);
  uint32_t id = ic.submit("-N3 --gres=gpu:2", "-N2 -n2 --gres=gpu:2");
  std::string dead;
  ic.kill_under_step(id, dead);
  REQUIRE(wait_until(90s, [&] {
    auto swap = parse_swap(ic.c.job(id).admin_comment);
    return swap && swap->stage == SwapState::Stage::Ready;
  }));
  auto shown = ic.c.sh("scontrol show job " + std::to_string(id));
  INFO(shown.out);
  CHECK(shown.out.find("gres/gpu=4") != std::string::npos);  // two nodes, two GPUs each, after the swap
  CHECK(ic.c.job(id).num_nodes == 2);
  CHECK(ic.actions("expand").empty());
  REQUIRE(wait_until(90s, [&] { return ic.c.job(id).state == JobState::Completed; }));
  CHECK(ic.c.job(id).restart_count == 0);
  CHECK(InPlaceCluster::count(ic.stages(), "stage:") == 1);
  CHECK(InPlaceCluster::count(ic.stages(), "post: train exited 0") == 1);
  std::string out = read_file(ic.c.work_dir() + "/counter.out");
  check_steps_resumed_once(ic.steps_log(), out, 30);
  CHECK(ic.events("step_retried_in_place").size() == 1);
}

TEST_CASE("(in-place c) no job expansion configured: the whole job is requeued instead, and the event says why",
          "[in-place]") {
  InPlaceCluster ic("inplace-c", false);
  auto check = ic.check_slurm();  // what the admin is told to add
  INFO(check.out);
  CHECK(check.rc == 3);
  CHECK(check.out.find("SchedulerParameters lacks permit_job_expansion") != std::string::npos);
  CHECK(check.out.find("AccountingStorageType is not accounting_storage/slurmdbd") != std::string::npos);
  CHECK(ic.c.controller_log().find("event=in_place_unavailable") != std::string::npos);
  uint32_t id = ic.submit();
  std::string dead;
  ic.kill_under_step(id, dead);
  REQUIRE(wait_until(60s, [&] {
    Job j = ic.c.job(id);
    return j.state == JobState::Running && j.restart_count == 1;
  }));
  auto fallback = ic.events("in_place_fallback");
  REQUIRE(fallback.size() == 1);
  CHECK(fallback[0].detail.find("permit_job_expansion") != std::string::npos);
  REQUIRE(wait_until(90s, [&] { return ic.c.job(id).state == JobState::Completed; }));
  CHECK(InPlaceCluster::count(ic.stages(), "stage:") == 2);  // the script ran again from its first line
  check_steps_resumed_once(ic.steps_log(), read_file(ic.c.work_dir() + "/counter.out"), 30);
  CHECK(ic.events("step_retried_in_place").empty());
  CHECK(ic.actions("expand").empty());
}

TEST_CASE("(in-place d) the controller SIGKILLed right after it asked for the expansion, and restarted: one swap, one retry",
          "[in-place]") {
  InPlaceCluster ic("inplace-d", true, 0, "AUTORESUME_CRASH_AFTER=expand");
  uint32_t id = ic.submit();
  std::string dead;
  ic.kill_under_step(id, dead);
  REQUIRE(wait_until(60s, [&] { return ic.c.controller_log().find("event=crash_hook after=expand") != std::string::npos; }));
  REQUIRE(wait_until(10s, [&] {
    return ic.c.sh(source_dir() + "/scripts/devcluster status --dir " + ic.c.dir()).out.find("autoresumed    not running") !=
           std::string::npos;
  }));
  ic.c.start_controller();
  REQUIRE(wait_until(90s, [&] { return ic.c.job(id).state == JobState::Completed; }));
  Job done = ic.c.job(id);
  CHECK(done.restart_count == 0);
  auto swap = parse_swap(done.admin_comment);
  REQUIRE(swap);
  CHECK(swap->number == 1);
  CHECK(swap->stage == SwapState::Stage::Ready);
  CHECK(ic.actions("expand").size() == 1);  // the allocation asked for before the crash was found, not asked again
  CHECK(ic.events("step_retried_in_place").size() == 1);
  CHECK(InPlaceCluster::count(ic.stages(), "stage:") == 1);
  CHECK(InPlaceCluster::count(ic.stages(), "post: train exited 0") == 1);
  check_steps_resumed_once(ic.steps_log(), read_file(ic.c.work_dir() + "/counter.out"), 30);
}
