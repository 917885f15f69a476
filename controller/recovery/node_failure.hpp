// SPDX-License-Identifier: GPL-2.0-or-later
// Which nodes count as failed, and whose word that is. The controller acts only on its own reasons, on the
// health agent's (both "autoresume: ..."), on HyperPod's admin requests (exactly "Action:Replace" /
// "Action:Reboot") and on Slurm's own verdicts (not responding, DOWN with Slurm's reason). A drain or down with
// any other reason is an admin's, and is never acted on, rewritten or cleared.
#pragma once

#include <optional>
#include <string>

#include "autoresume/reasons.hpp"
#include "model/cluster.hpp"

namespace autoresume {

enum class FailureSource {
  AutoResume,   // our reason or the agent's
  AdminAction,  // Action:Replace / Action:Reboot
  Slurm,        // slurmctld's own: DOWN / NOT_RESPONDING / FAIL with one of Slurm's reasons
};

struct NodeFailure {
  FailureSource source;
  std::string cause;  // short, for the drain reason and events: "slurmd not responding", "admin Action:Replace"
  bool alive;         // its slurmd still answers Slurm (jobs there are not killed by Slurm on their own)
};

std::optional<NodeFailure> classify_node(const Node& node);

// A node Slurm flags NOT_RESPONDING but has not yet marked DOWN: possibly dead, possibly a hiccup. Worth one
// cheap probe of its slurmd (only these nodes are probed: a bare connect makes slurmd log an error).
bool is_suspect(const Node& node);

// Drained, down or failed with a reason that is neither ours, HyperPod's Action:*, nor Slurm's: a person's.
bool is_admin_owned(const Node& node);

// The reason the controller drains a failed node with, unless it already carries ours or an admin request.
std::string drain_reason(const NodeFailure& f);
bool needs_drain(const Node& node, const NodeFailure& f);

}  // namespace autoresume
