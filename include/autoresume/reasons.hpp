// SPDX-License-Identifier: GPL-2.0-or-later
// Node reasons that carry meaning between the agent, the controller and admins, in one place: the classes.
//
//   hardware  "autoresume: <check>: <detail>"   the agent's or the controller's drain: the node is broken; its
//                                              auto-resume jobs are requeued, the node replaced and validated
//   resource  "autoresume: resource: <check>: <detail>"
//                                              the agent's drain for a sustained host-resource condition (memory,
//                                              disk): a job using what it asked for is not a broken node. Nothing
//                                              is requeued or replaced; the agent undrains it once it clears
//   admin     "Action:Replace" / "Action:Reboot"  an admin's request to the controller (HyperPod's convention),
//                                              exact and case-sensitive; taken over once acted on
//   foreign   anything else                    a person's, Slurm's or another tool's: never rewritten or cleared
//                                              (Slurm's own verdicts on DOWN/FAIL nodes are judged separately)
#pragma once

#include <string_view>

namespace autoresume {

inline constexpr const char* kReasonPrefix = "autoresume:";
inline constexpr const char* kResourceReasonPrefix = "autoresume: resource:";
inline constexpr const char* kActionReplace = "Action:Replace";
inline constexpr const char* kActionReboot = "Action:Reboot";

enum class ReasonClass { Hardware, Resource, Admin, Foreign };

inline ReasonClass reason_class(std::string_view reason) {
  if (reason.substr(0, std::string_view(kResourceReasonPrefix).size()) == kResourceReasonPrefix)
    return ReasonClass::Resource;
  if (reason.substr(0, std::string_view(kReasonPrefix).size()) == kReasonPrefix) return ReasonClass::Hardware;
  if (reason == kActionReplace || reason == kActionReboot) return ReasonClass::Admin;
  return ReasonClass::Foreign;
}

}  // namespace autoresume
