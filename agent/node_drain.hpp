// SPDX-License-Identifier: GPL-2.0-or-later
// The agent's one action on Slurm: drain its own node on a fail verdict, through the project's Slurm adapter.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "checks/checks.hpp"
#include "slurm/slurm_client.hpp"

namespace autoresume::agent {

// "autoresume: gpu0:temperature: 34 C (max 29 C)" for the first failing hardware check; empty when none failed (a
// warn never drains).
std::string drain_reason(const std::vector<CheckResult>& results);
// "autoresume: resource: memory: 100 MiB available (min 512 MiB)" for the first failing host-resource check.
std::string resource_drain_reason(const std::vector<CheckResult>& results);

// Resumes `node` if it is drained with a resource reason (auto-resume's, include/autoresume/reasons.hpp): the
// condition cleared. Any other reason is left alone. Returns what it did, empty when there was nothing to do.
std::string undrain_resource(SlurmClient& slurm, const std::string& node);

// Drains `node` with `reason` unless it is already drained or down for a reason that is not ours (an admin's or
// Slurm's: never overwritten) or already carries ours. Returns what it did, for the log.
std::string drain_own_node(SlurmClient& slurm, const std::string& node, const std::string& reason);

// GPUs in a node's configured gres ("gpu:h200:8(S:0-1)" -> 8, "gpu:a100:2,gpu:h200:2" -> 4); nullopt when it
// names no gpu.
std::optional<unsigned> gpu_count_in_gres(const std::string& gres);
// The node's GPU count from Slurm (its gpu GRES), for the GPU count check when none is configured.
std::optional<unsigned> expected_gpus_from_slurm(SlurmClient& slurm, const std::string& node);

}  // namespace autoresume::agent
