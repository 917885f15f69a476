// SPDX-License-Identifier: GPL-2.0-or-later
// The circuit breaker: when more than BreakerFraction of the nodes begin failing within BreakerWindow (whether
// they recovered since or not), something
// bigger than a node is wrong (a switch, the power, slurmctld itself), and automated recovery would only make a
// storm. The breaker then stops every automated probe, requeue, start and hold, while observation, drains and the
// journal go on; it says so loudly and stays open, across controller restarts, until an admin resets it
// (`autoresumed --reset-breaker`). Nodes merely NOT_RESPONDING count as failing, so a slurmctld hiccup that makes
// every node look unresponsive trips it. At least two nodes must be failing: one failure never trips it.
#pragma once

#include <map>
#include <set>
#include <string>

#include "config/config.hpp"
#include "store/store.hpp"

namespace autoresume {

class Breaker {
 public:
  Breaker(Store& store, const Config& config);

  // Called each tick with every node now failing or suspect, and the cluster's node count. Returns whether the
  // breaker is open (re-read from the store: a reset from another process takes effect on the next tick).
  bool update(const std::map<std::string, bool>& failing_now, size_t total_nodes, double now);
  bool open() const { return open_; }
  void load();  // its state as the store has it (a standby's view)
  const std::string& reason() const { return reason_; }

  // Opens it for a reason other than failing nodes (replace programs failing in a row).
  void trip(const std::string& why);

  // What `autoresumed --reset-breaker` does: close it, and forgive failures that began before now.
  static void reset(Store& store, const std::string& by);

 private:
  Store& store_;
  const Config& config_;
  std::set<std::string> failing_;                // nodes failing at the last update
  std::map<std::string, double> failed_at_;      // node -> when its latest failure began, within the window
  bool open_ = false;
  std::string reason_;
};

}  // namespace autoresume
