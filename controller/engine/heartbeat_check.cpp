// SPDX-License-Identifier: GPL-2.0-or-later
// Fast dead-node detection from the agents' heartbeats. Slurm notices a dead node only after SlurmdTimeout; a
// node whose agent stopped beating for HeartbeatMiss intervals gets one cheap probe of its slurmd (a bare
// connect makes slurmd log an error: only these nodes are probed, never every node every second). Nothing
// listening: the node is set DOWN with our reason, and Slurm requeues its jobs at once. slurmd answering: the
// agent died on a live node; that is reported, not treated as a node failure.
#include "engine/controller.hpp"
#include "util/log.hpp"

namespace autoresume {
namespace {
constexpr double kSilentProbeEvery = 2.0;  // seconds between two probes of one silent node
}
const char* const kSilentDeadCause = "heartbeats stopped, slurmd not answering";

std::set<std::string> Controller::silent_agents(double now) {
  std::set<std::string> silent;
  if (!heartbeats_) return silent;
  double limit = silent_after();
  auto beats = heartbeats_->last();
  for (const auto& [name, last] : beats) {  // a node whose agent never beat is left to Slurm's own detection
    const Node* node = nodes_->find(name);
    if (!node) continue;
    const Node& n = *node;
    if (now - last <= limit) {
      if (reported_silent_.erase(n.name)) {
        record_event("agent_back", n.name, "heartbeats again");
        log(LogLevel::Info, "agent_back", {{"node", n.name}});
      }
      continue;
    }
    if (n.down() || failed_.count(n.name)) continue;  // already known
    if (reported_silent_.count(n.name)) continue;      // its slurmd answered: Slurm's detection from here
    silent.insert(n.name);
  }
  return silent;
}

void Controller::probe_silent(const std::set<std::string>& silent, double now) {
  // A silent node held back from DOWN for a job retried in place: DOWN once no such job is left on it.
  for (const auto& node : dead_silent_) {
    if (in_place_job_on(node)) continue;
    std::string reason = std::string(kReasonPrefix) + " " + kSilentDeadCause;
    act("down", node, reason, [&] { return slurm_.down_node(node, reason); });
  }
  for (const auto& node : silent) {
    if (now - last_probe_[node] < kSilentProbeEvery) continue;
    last_probe_[node] = now;
    auto answers = slurm_.slurmd_answers(node);
    if (!answers) continue;
    if (*answers) {
      if (reported_silent_.insert(node).second) {
        record_event("agent_silent", node, "no heartbeat, but its slurmd answers: the agent is down, the node is not");
        log(LogLevel::Warning, "agent_silent", {{"node", node}, {"effect", "reported only; Slurm's detection still applies"}});
      }
      continue;
    }
    // DOWN would make Slurm requeue the whole of a job retried in place there: failed for the controller now (the
    // swap takes the node out of the job), DOWN once no such job is left on it.
    if (in_place_job_on(node)) {
      dead_silent_.insert(node);
      failed_.emplace(node, NodeFailure{FailureSource::AutoResume, kSilentDeadCause, false});
      log(LogLevel::Info, "node_dead", {{"node", node}, {"why", "heartbeats stopped, slurmd not answering; a job retried in "
                                                                 "place runs there: not set DOWN yet"}});
      continue;
    }
    std::string reason = std::string(kReasonPrefix) + " " + kSilentDeadCause;
    act("down", node, reason, [&] { return slurm_.down_node(node, reason); });
  }
}

}  // namespace autoresume
