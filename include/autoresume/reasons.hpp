// Node reasons that carry meaning between the agent, the controller and admins, in one place.
//
//   autoresume: <check>: <detail>   the agent's or the controller's drain: a hardware failure, acted on (requeue,
//                                   replace, validate)
//   Action:Replace / Action:Reboot  an admin's request to the controller (HyperPod's convention), exact and
//                                   case-sensitive; taken over once acted on
//   anything else                   a person's (or another tool's): never acted on, rewritten or cleared
#pragma once

namespace autoresume {

inline constexpr const char* kReasonPrefix = "autoresume:";
inline constexpr const char* kActionReplace = "Action:Replace";
inline constexpr const char* kActionReboot = "Action:Reboot";

}  // namespace autoresume
