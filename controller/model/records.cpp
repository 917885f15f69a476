// SPDX-License-Identifier: GPL-2.0-or-later
#include "model/records.hpp"

#include <array>
#include <utility>

namespace autoresume {
namespace {

constexpr std::array<std::pair<JobPhase, const char*>, 11> kPhaseNames = {{
    {JobPhase::Swapping, "swapping"},
    {JobPhase::Ending, "ending"},
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

// One lookup for both phase tables, each way.
template <typename Phase, size_t N>
const char* name_of(const std::array<std::pair<Phase, const char*>, N>& table, Phase p) {
  for (const auto& [phase, name] : table)
    if (phase == p) return name;
  return "unknown";
}

template <typename Phase, size_t N>
bool phase_named(const std::array<std::pair<Phase, const char*>, N>& table, const std::string& s, Phase& out) {
  for (const auto& [phase, name] : table)
    if (s == name) return out = phase, true;
  return false;
}

}  // namespace

const char* to_string(NodePhase p) { return name_of(kNodePhaseNames, p); }
bool parse_node_phase(const std::string& s, NodePhase& out) { return phase_named(kNodePhaseNames, s, out); }
constexpr std::array<std::pair<SwapStage, const char*>, 5> kSwapStageNames = {{
    {SwapStage::None, "none"},
    {SwapStage::Marked, "marked"},
    {SwapStage::Shrunk, "shrunk"},
    {SwapStage::Expanding, "expanding"},
    {SwapStage::Merging, "merging"},
}};

const char* to_string(SwapStage s) { return name_of(kSwapStageNames, s); }
bool parse_swap_stage(const std::string& s, SwapStage& out) { return phase_named(kSwapStageNames, s, out); }

const char* to_string(JobPhase p) { return name_of(kPhaseNames, p); }
bool parse_job_phase(const std::string& s, JobPhase& out) { return phase_named(kPhaseNames, s, out); }

bool is_terminal(JobPhase p) {
  return p == JobPhase::Exhausted || p == JobPhase::NotResumed || p == JobPhase::Finished;
}

}  // namespace autoresume
