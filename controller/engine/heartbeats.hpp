// SPDX-License-Identifier: GPL-2.0-or-later
// Agents' heartbeats, written by the HTTP threads (POST /v1/nodes/NAME/heartbeat) and read by the loop thread:
// node -> when it last beat (unix seconds). A node that never beat is not in it, and keeps Slurm's own detection.
#pragma once

#include <map>
#include <mutex>
#include <string>

namespace autoresume {

class HeartbeatBoard {
 public:
  void beat(const std::string& node, double at) {
    std::lock_guard lock(mutex_);
    last_[node] = at;
  }
  std::map<std::string, double> last() const {
    std::lock_guard lock(mutex_);
    return last_;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, double> last_;
};

}  // namespace autoresume
