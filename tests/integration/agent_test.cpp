// SPDX-License-Identifier: GPL-2.0-or-later
// The agent on a real cluster: a failing GPU check drains the agent's own node with its reason, and the
// controller moves the auto-resume job on it to healthy nodes.
#include "catch_compat.hpp"
#include <fstream>

#include "devcluster.hpp"

using namespace autoresume;
using namespace autoresume::testing;
using namespace std::chrono_literals;

TEST_CASE("agent check --drain: a GPU over its temperature limit drains the node, the job runs elsewhere",
          "[agent]") {
  ClusterOptions o;
  o.plugstack = plugstack_with_plugin("agent-drain");
  DevCluster c("agent-drain", o);
  c.start_controller();
  uint32_t id = c.sbatch("-N2 -o /dev/null --auto-resume=1 --wrap 'srun sleep 300'");
  REQUIRE(wait_until(30s, [&] { return c.job(id).state == JobState::Running; }));
  std::string node = c.job(id).nodes.back();

  std::string state = c.dir() + "/gpus.json";
  std::string agent = "env FAKE_NVML_STATE=" + state + " " + binary_dir() + "/agent/autoresume-agent check --drain --nvml-lib " +
                      AUTORESUME_FAKE_NVML + " --node " + node;
  std::ofstream(state) << R"({"gpus": [{"name": "Fake H200", "temperature": 80}]})";
  auto warm = c.sh(agent + " --gpu-temp-max 83");  // within 5 C of the limit: a warn, which never drains
  INFO(warm.out);
  CHECK(warm.rc == 0);
  CHECK_FALSE(c.node(node).drain);

  std::ofstream(state) << R"({"gpus": [{"name": "Fake H200", "temperature": 91}]})";
  auto hot = c.sh(agent);
  INFO(hot.out);
  CHECK(hot.rc == 1);
  CHECK(hot.out.find("drained " + node + ": autoresume: gpu0:temperature: 91 C (max 85 C)") != std::string::npos);
  CHECK(c.node(node).reason == "autoresume: gpu0:temperature: 91 C (max 85 C)");

  REQUIRE(wait_until(30s, [&] {
    Job j = c.job(id);
    return j.state == JobState::Running && j.restart_count == 1;
  }));
  auto nodes = c.job(id).nodes;
  CHECK(std::count(nodes.begin(), nodes.end(), node) == 0);
  CHECK(c.node(node).reason == "autoresume: gpu0:temperature: 91 C (max 85 C)");  // left for the node lifecycle
}
