// SPDX-License-Identifier: GPL-2.0-or-later
#include "recovery/node_failure.hpp"

#include <array>
#include <string_view>

namespace autoresume {
namespace {

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// Reasons slurmctld writes itself (node_mgr.c, job_mgr.c, ping_nodes.c). Anything else on a DOWN/FAIL node came
// from a person (or another tool) and is theirs.
bool is_slurm_reason(const std::string& r) {
  static constexpr std::array<std::string_view, 10> kSlurmReasons = {
      "Not responding", "Kill task failed", "Node unexpectedly rebooted", "Prolog error", "Epilog error",
      "batch job complete failure", "NO NETWORK ADDRESS FOUND", "Job credential expired",
      // A reboot or power-up (ours, or anyone's) that did not come back within ResumeTimeout.
      "reboot timed out", "ResumeTimeout reached"};
  if (r.empty()) return true;
  for (auto s : kSlurmReasons)
    if (starts_with(r, s)) return true;
  return false;
}

}  // namespace

std::optional<NodeFailure> classify_node(const Node& n) {
  // A reason is judged only on a node out of service: since 24.11 `state=RESUME` keeps the Reason, so a node the
  // controller returned to service still carries its old `autoresume:` words while it runs jobs.
  if (!n.out_of_service()) return std::nullopt;
  bool alive = !n.down() && !n.not_responding;
  // The agent's resource drain (sustained memory or disk pressure) is not a failure: nothing to requeue or
  // replace, and the agent undrains it. A node that also died is Slurm's verdict below.
  if (reason_class(n.reason) == ReasonClass::Resource) {
    if (!n.down() && !n.fail) return std::nullopt;
    return NodeFailure{FailureSource::Slurm, "slurmd not responding", false};
  }
  if (starts_with(n.reason, kReasonPrefix)) {
    std::string cause = n.reason.substr(std::string_view(kReasonPrefix).size());
    if (!cause.empty() && cause[0] == ' ') cause.erase(0, 1);
    return NodeFailure{FailureSource::AutoResume, cause, alive};
  }
  if (n.reason == kActionReplace || n.reason == kActionReboot)
    return NodeFailure{FailureSource::AdminAction, "admin " + n.reason, alive};
  // NOT_RESPONDING alone is a suspect (see is_suspect), not yet a failure; a person's reason is theirs.
  if (!(n.down() || n.fail) || !is_slurm_reason(n.reason)) return std::nullopt;  // DRAIN alone: a person's
  bool silent = n.reason.empty() || n.reason == "Not responding";
  return NodeFailure{FailureSource::Slurm, silent ? "slurmd not responding" : "slurm: " + n.reason, alive};
}

bool is_admin_owned(const Node& n) {
  if (!n.out_of_service()) return false;
  if (reason_class(n.reason) != ReasonClass::Foreign) return false;
  return !is_slurm_reason(n.reason);
}

bool is_suspect(const Node& n) { return n.not_responding && !n.down() && is_slurm_reason(n.reason); }

std::string drain_reason(const NodeFailure& f) { return std::string(kReasonPrefix) + " " + f.cause; }

bool needs_drain(const Node& n, const NodeFailure& f) {
  switch (f.source) {
    case FailureSource::AutoResume: return false;  // already ours
    // Action:Replace / Action:Reboot is a request addressed to the controller, in whichever state the admin set
    // (fail, drain, down): acting on it consumes it, and the node's state and reason are ours from then on, so
    // that validation can resume it (a FAIL flag an admin's request left would keep every job off the node).
    case FailureSource::AdminAction: return true;
    case FailureSource::Slurm: return !n.drain;
  }
  return false;
}

}  // namespace autoresume
