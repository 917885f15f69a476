#include "model/cluster.hpp"

namespace autoresume {

const char* to_string(JobState s) {
  switch (s) {
    case JobState::Pending: return "PENDING";
    case JobState::Running: return "RUNNING";
    case JobState::Suspended: return "SUSPENDED";
    case JobState::Completed: return "COMPLETED";
    case JobState::Cancelled: return "CANCELLED";
    case JobState::Failed: return "FAILED";
    case JobState::Timeout: return "TIMEOUT";
    case JobState::NodeFail: return "NODE_FAIL";
    case JobState::Preempted: return "PREEMPTED";
    case JobState::BootFail: return "BOOT_FAIL";
    case JobState::Deadline: return "DEADLINE";
    case JobState::OutOfMemory: return "OUT_OF_MEMORY";
    case JobState::Unknown: break;
  }
  return "UNKNOWN";
}

const char* to_string(NodeBase b) {
  switch (b) {
    case NodeBase::Down: return "DOWN";
    case NodeBase::Idle: return "IDLE";
    case NodeBase::Allocated: return "ALLOCATED";
    case NodeBase::Mixed: return "MIXED";
    case NodeBase::Future: return "FUTURE";
    case NodeBase::Unknown: break;
  }
  return "UNKNOWN";
}

}  // namespace autoresume
