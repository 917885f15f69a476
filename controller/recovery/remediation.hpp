// SPDX-License-Identifier: GPL-2.0-or-later
// How a failed node is remediated in phase Replacing: which method carries out the lifecycle's action (replace,
// reboot, or a rung the agent's GPU ladder chose), chosen per node by ReplaceMethod= / RebootMethod=.
//
//   program      the site's ReplaceProgram / RebootProgram (actions/site_program.hpp)
//   reboot       Slurm's own reboot: `scontrol reboot ASAP nextstate=DOWN` (slurm.conf's RebootProgram, run by
//                the node's slurmd: `auto` does not pick it for a node whose slurmd is not answering); done when
//                the node registers with a boot time after the request; "reboot timed out" (ResumeTimeout) is a
//                failed action
//   power_cycle  power saving: POWER_DOWN_FORCE, then POWER_UP once Slurm says powered down (SuspendProgram,
//                ResumeProgram: on a cloud cluster a new instance); done when a slurmd registers after the
//                power-up; "ResumeTimeout reached" is a failed action. The node is inside the controller's
//                maintenance reservation first: POWER_DOWN_FORCE clears DRAIN, and nothing else may start it up
//   none         nothing: wait for a slurmd to register again (a person or another tool brings it back)
//   gpu_reset    the agent's rung: it resets the GPU on the drained, idle node and says how it went in the reason
//   restart      the agent's rung for an application-level XID: the jobs are requeued, the node is not touched
//   auto         ReplaceProgram if set, else power_cycle where slurm.conf has power saving (and, on 22.05,
//                PrivateData=cloud: SlurmSettings::power_cycle_missing), else reboot where it
//                has a RebootProgram, else none (for a reboot: RebootProgram, then Slurm's reboot, power cycle,
//                ReplaceProgram, none)
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "autoresume/result.hpp"
#include "model/cluster.hpp"

namespace autoresume {

enum class Method { Auto, Program, Reboot, PowerCycle, None, GpuReset, Restart };

const char* to_string(Method m);
std::optional<Method> parse_method(const std::string& text);

// "auto" or "METHOD[,NODEGLOB:METHOD]...": the first glob (fnmatch) that matches a node's name wins, else the
// first item (`power_cycle,gpu-onprem*:reboot`).
struct MethodChoice {
  Method fallback = Method::Auto;
  std::vector<std::pair<std::string, Method>> rules;
  Method for_node(const std::string& node) const;
};
Result<MethodChoice> parse_method_choice(const std::string& text);

// The agent's GPU ladder names its rung at the end of its drain reason: "autoresume: gpu0: xid 62 [reset_gpu]".
// The lifecycle's action for it ("restart_app", "reset_gpu", "reboot", "replace"), or nullopt when it names none.
std::optional<std::string> ladder_rung(const std::string& reason);
// What the agent writes once it has tried the reset: "... [reset_gpu: done]" or "... [reset_gpu: failed: WHY]".
inline constexpr const char* kResetDone = "[reset_gpu: done]";
inline constexpr const char* kResetFailed = "[reset_gpu: failed";

struct Config;
// The method for `action` on `node`: what the configuration says, `auto` resolved with slurm.conf's machinery
// (nullptr: not read yet; Auto is returned where the answer depends on it).
Method resolve_method(const std::string& action, const std::string& node, const Config& config, const SlurmSettings* slurm);

// The next action when `action` failed or did not hold (the node failed again): restart_app -> reset_gpu ->
// reboot -> replace; replace stays replace.
std::string escalate(const std::string& action);

}  // namespace autoresume
