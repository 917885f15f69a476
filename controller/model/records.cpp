#include "model/records.hpp"

#include <array>
#include <utility>

namespace autoresume {
namespace {

constexpr std::array<std::pair<JobPhase, const char*>, 9> kPhaseNames = {{
    {JobPhase::Running, "running"},
    {JobPhase::Signalled, "signalled"},
    {JobPhase::Requeueing, "requeueing"},
    {JobPhase::WaitingPending, "waiting_pending"},
    {JobPhase::Held, "held"},
    {JobPhase::Starting, "starting"},
    {JobPhase::Exhausted, "exhausted"},
    {JobPhase::NotResumed, "not_resumed"},
    {JobPhase::Finished, "finished"},
}};

constexpr std::array<std::pair<NodePhase, const char*>, 6> kNodePhaseNames = {{
    {NodePhase::Healthy, "healthy"},
    {NodePhase::Failed, "failed"},
    {NodePhase::Draining, "draining"},
    {NodePhase::Replacing, "replacing"},
    {NodePhase::Validating, "validating"},
    {NodePhase::Quarantined, "quarantined"},
}};

}  // namespace

const char* to_string(NodePhase p) {
  for (const auto& [phase, name] : kNodePhaseNames)
    if (phase == p) return name;
  return "unknown";
}

bool parse_node_phase(const std::string& s, NodePhase& out) {
  for (const auto& [phase, name] : kNodePhaseNames)
    if (s == name) return out = phase, true;
  return false;
}

const char* to_string(JobPhase p) {
  for (const auto& [phase, name] : kPhaseNames)
    if (phase == p) return name;
  return "unknown";
}

bool parse_job_phase(const std::string& s, JobPhase& out) {
  for (const auto& [phase, name] : kPhaseNames)
    if (s == name) return out = phase, true;
  return false;
}

bool is_terminal(JobPhase p) {
  return p == JobPhase::Exhausted || p == JobPhase::NotResumed || p == JobPhase::Finished;
}

}  // namespace autoresume
