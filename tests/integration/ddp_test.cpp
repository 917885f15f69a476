// SPDX-License-Identifier: GPL-2.0-or-later
// The training side end to end on CPU: a 2-node PyTorch DDP job (gloo) loses a node mid-training, is resumed by the
// controller from its checkpoint, and ends with exactly the model an uninterrupted run of the same job produces.
#include "catch_compat.hpp"
#include <regex>

#include "devcluster.hpp"

using namespace autoresume;
using namespace autoresume::testing;
using namespace std::chrono_literals;

namespace {

std::string model_hash(const std::string& log) {
  std::smatch m;
  INFO(log);
  REQUIRE(std::regex_search(log, m, std::regex("model sha256=([0-9a-f]{64})")));
  return m[1];
}

}  // namespace

TEST_CASE("a DDP job that loses a node resumes from its checkpoint and ends with the uninterrupted run's model",
          "[ddp]") {
  REQUIRE(run("/usr/bin/python3 -c 'import torch.distributed as d; assert d.is_gloo_available()'").rc == 0);
  ClusterOptions o;
  o.nodes = 6;
  o.plugstack = plugstack_with_plugin("ddp");
  DevCluster c("ddp", o);
  c.start_controller();
  c.sh("mkdir -p baseline resumed && chmod 1777 baseline resumed");
  std::string env = "env TRAIN_PY=" + source_dir() + "/examples/pytorch_ddp/train.py PYTHON=/usr/bin/python3 ";
  std::string script = source_dir() + "/examples/pytorch_ddp/train.sbatch";
  std::string args = " --steps 60 --checkpoint-every 10 --step-seconds 0.25";
  // --exclusive: the two jobs never share a node, so the baseline is never touched by the failure.
  uint32_t baseline = c.sbatch_as(as_user(env + "sbatch --parsable --exclusive --auto-resume=0 -o baseline/out.log " +
                                          script + " " + c.work_dir() + "/baseline" + args));
  uint32_t resumed = c.sbatch_as(as_user(env + "sbatch --parsable --exclusive -o resumed/out.log " + script + " " +
                                         c.work_dir() + "/resumed" + args));
  REQUIRE(wait_until(60s, [&] { return c.job(resumed).state == JobState::Running; }));
  std::string log = c.work_dir() + "/resumed/out.log";
  REQUIRE(wait_until(60s, [&] { return run("test -s " + c.work_dir() + "/resumed/ddp.ckpt").rc == 0; }));
  c.kill_node(c.job(resumed).nodes.back());

  REQUIRE(wait_until(150s, [&] { return c.job(resumed).state == JobState::Completed; }));
  REQUIRE(wait_until(60s, [&] { return c.job(baseline).state == JobState::Completed; }));
  std::string resumed_log = read_file(log);
  std::string baseline_log = read_file(c.work_dir() + "/baseline/out.log");
  INFO("resumed:\n" << resumed_log << "\nbaseline:\n" << baseline_log);
  CHECK(c.job(resumed).restart_count == 1);
  CHECK(c.job(baseline).restart_count == 0);
  std::smatch m;
  REQUIRE(std::regex_search(resumed_log, m, std::regex("attempt=1 gloo world=2 resuming at step ([0-9]+) of 60")));
  CHECK(std::stoi(m[1]) >= 10);
  CHECK(model_hash(resumed_log) == model_hash(baseline_log));
}
