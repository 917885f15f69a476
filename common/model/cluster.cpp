#include "model/cluster.hpp"

#include <algorithm>

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

uint32_t Node::gpu_count() const {
  // Items split at top-level commas ("(S:0,2)" belongs to its item); each is NAME[:TYPE]:COUNT[(SOCKETS)].
  uint64_t total = 0;
  std::string item;
  int depth = 0;
  auto add = [&] {
    std::string plain = item.substr(0, item.find('('));
    item.clear();
    auto first = plain.find(':'), last = plain.rfind(':');
    if (first == std::string::npos || plain.substr(0, first) != "gpu") return;
    const std::string count = plain.substr(last + 1);
    if (count.empty() || count.find_first_not_of("0123456789") != std::string::npos || count.size() > 6) return;
    total += std::stoul(count);
  };
  for (char c : gres) {
    if (c == '(') ++depth;
    if (c == ')' && depth > 0) --depth;
    if (c == ',' && depth == 0) { add(); continue; }
    item += c;
  }
  add();
  return static_cast<uint32_t>(std::min<uint64_t>(total, UINT32_MAX));
}

}  // namespace autoresume
