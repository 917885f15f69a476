// SPDX-License-Identifier: GPL-2.0-or-later
// /metrics at scale: the controller's metrics for a 10,000-node cluster (4 partitions, 2,000 watched jobs, 3% of
// nodes in a lifecycle), built by the same Metrics::update() and rendered by the same render() that serve a
// scrape. Prints the median and p99 over 50 scrapes, and the median against the 50 ms target.
//   bench/metrics_render [NODES]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "http/metrics.hpp"

using namespace autoresume;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  int nodes = argc > 1 ? std::atoi(argv[1]) : 10000;
  ControllerSnapshot s;
  s.taken_at = 1e9;
  s.slurm_reachable = true;
  const char* partitions[] = {"gpu", "gpu-long", "debug", "cpu"};
  const NodeBase bases[] = {NodeBase::Idle, NodeBase::Allocated, NodeBase::Mixed, NodeBase::Down};
  std::vector<Node> table;
  for (int i = 0; i < nodes; ++i) {
    Node n;
    n.name = "node" + std::to_string(i);
    n.base = bases[i % 4];
    n.drain = i % 17 == 0;
    n.partitions = {partitions[i % 4], partitions[(i + 1) % 4]};
    table.push_back(n);
    if (i % 33 == 0) {
      NodeRecord r;
      r.name = n.name;
      r.phase = static_cast<NodePhase>(1 + i % 5);
      s.node_records[n.name] = r;
    }
  }
  // A new node table each round (the worst case: slurmctld reported a change at every tick), made untimed.
  std::vector<NodeTablePtr> tables;
  for (int i = 0; i < 50; ++i) tables.push_back(std::make_shared<const NodeTable>(table));
  for (uint32_t id = 1; id <= 2000; ++id) {
    JobRecord r;
    r.job_id = id;
    r.phase = static_cast<JobPhase>(id % 6);
    s.job_records[id] = r;
    Job j;
    j.id = id;
    j.state = id % 3 == 0 ? JobState::Pending : JobState::Running;
    j.partition = partitions[id % 4];
    j.begin_time = static_cast<std::time_t>(s.taken_at - id);
    s.jobs.push_back(j);
    s.oldest_pending_since[j.partition] = j.begin_time;
  }
  Metrics m;
  for (int i = 0; i < 500; ++i) m.on_job_recovered(i % 120);
  std::vector<double> ms;
  size_t bytes = 0;
  for (int i = 0; i < 50; ++i) {
    s.nodes = tables[static_cast<size_t>(i)];
    auto t0 = Clock::now();
    m.update(s);
    bytes = m.render().size();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  double median = ms[ms.size() / 2], p99 = ms[ms.size() * 99 / 100];
  std::printf("/metrics for %d nodes, 2000 jobs: update+render median %.2f ms, p99 %.2f ms, %zu bytes\n", nodes, median,
              p99, bytes);
  std::printf("median / 50 ms target: %.3f\n", median / 50.0);
  return 0;
}
