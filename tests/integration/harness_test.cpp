// SPDX-License-Identifier: GPL-2.0-or-later
// The local cluster harness on real daemons: nodes come up, jobs run, a killed slurmd is a real node failure.
#include <signal.h>

#include <algorithm>
#include "catch_compat.hpp"
#include <set>

#include "devcluster.hpp"

using namespace autoresume;
using namespace autoresume::testing;
using namespace std::chrono_literals;

namespace {

bool alive(int pid) {
  // A zombie counts as gone: this machine's init may be slow to reap the daemons' double-forked children.
  std::string status = read_file("/proc/" + std::to_string(pid) + "/status");
  return !status.empty() && status.find("State:\tZ") == std::string::npos;
}

}  // namespace

TEST_CASE("four nodes come up idle and a two-node batch job runs on two of them", "[harness]") {
  DevCluster c("harness-run");
  auto nodes = c.slurm().load_nodes();
  REQUIRE(nodes.ok());
  REQUIRE((*nodes)->size() == 4);
  for (const auto& n : **nodes) {
    INFO(n.name << " " << to_string(n.base));
    CHECK(n.base == NodeBase::Idle);
    CHECK_FALSE(n.unavailable());
  }

  uint32_t id = c.sbatch("-N2 -o names.out --wrap 'srun -l printenv SLURMD_NODENAME'");
  REQUIRE(wait_until(30s, [&] { return c.job(id).state == JobState::Completed; }));
  Job done = c.job(id);
  CHECK(done.nodes.size() == 2);

  std::string out = read_file(c.work_dir() + "/names.out");
  INFO(out);
  std::set<std::string> ran_on;
  for (const auto& n : done.nodes)
    if (out.find(n) != std::string::npos) ran_on.insert(n);
  CHECK(ran_on.size() == 2);
}

TEST_CASE("kill-node is a real node failure: node DOWN, a --requeue job requeued, start-node returns it", "[harness]") {
  DevCluster c("harness-kill");
  uint32_t id = c.sbatch("-N2 --requeue -o kill.out --wrap 'srun sleep 600'");
  REQUIRE(wait_until(30s, [&] { return c.job(id).state == JobState::Running; }));
  Job running = c.job(id);
  REQUIRE(running.nodes.size() == 2);
  std::string victim = running.nodes.back();

  c.kill_node(victim);
  // SlurmdTimeout=10: DOWN after ~10-30 s; the requeued job comes back PENDING with restart count 1.
  REQUIRE(wait_until(60s, [&] { return c.node(victim).down(); }));
  CHECK(c.node(victim).not_responding);
  REQUIRE(wait_until(60s, [&] {
    Job j = c.job(id);
    return j.state == JobState::Pending && !j.completing && j.restart_count == 1;
  }));

  c.start_node(victim);
  REQUIRE(wait_until(30s, [&] {
    Node n = c.node(victim);
    return !n.unavailable();
  }));
}

TEST_CASE("two clusters run side by side and down stops every process it started", "[harness]") {
  std::vector<int> first_pids;
  {
    ClusterOptions two;
    two.nodes = 2;
    DevCluster a("harness-a", two);
    DevCluster b("harness-b", two);
    auto sa = a.sh("sinfo -h -N -o '%N %T'");
    auto sb = b.sh("sinfo -h -N -o '%N %T'");
    CHECK(sa.out == "n1 idle\nn2 idle\n");
    CHECK(sb.out == "n1 idle\nn2 idle\n");
    CHECK(a.conf() != b.conf());

    // A job on a does not appear on b.
    uint32_t id = a.sbatch("-N1 --wrap 'sleep 30'");
    REQUIRE(wait_until(30s, [&] { return a.job(id).state == JobState::Running; }));
    first_pids = a.pids();
    CHECK(a.sh("squeue -h | wc -l").out == "1\n");
    CHECK(b.sh("squeue -h | wc -l").out == "0\n");

    auto b_pids = b.pids();
    REQUIRE(b_pids.size() >= 4);  // munged, slurmctld, 2 slurmd
    b.devcluster("down");
    CHECK(std::none_of(b_pids.begin(), b_pids.end(), alive));
    CHECK(a.sh("sinfo -h -o %T").out == "mixed\nidle\n");
    REQUIRE(first_pids.size() >= 5);  // munged, slurmctld, 2 slurmd, the job's slurmstepd
  }
  CHECK(std::none_of(first_pids.begin(), first_pids.end(), alive));
}
