// SPDX-License-Identifier: GPL-2.0-or-later
#include "recovery/breaker.hpp"

#include <cmath>
#include <cstdio>

#include "util/log.hpp"

namespace autoresume {

Breaker::Breaker(Store& store, const Config& config) : store_(store), config_(config) {}

void Breaker::load() {
  open_ = store_.meta("breaker_open") == "1";
  reason_ = store_.meta("breaker_reason");
}

bool Breaker::update(const std::map<std::string, bool>& failing_now, size_t total_nodes, double now) {
  // A failure counts from when it began for BreakerWindow, recovered or not: nodes that fail and come back one
  // after another within the window are as much a storm as nodes failing together.
  double window_start = now - static_cast<double>(config_.breaker_window.count());
  for (const auto& [node, _] : failing_now)
    if (!failing_.count(node)) failed_at_[node] = now;
  failing_.clear();
  for (const auto& [node, _] : failing_now) failing_.insert(node);
  std::erase_if(failed_at_, [&](const auto& entry) { return entry.second < window_start; });

  open_ = store_.meta("breaker_open") == "1";
  reason_ = store_.meta("breaker_reason");
  if (open_) return true;

  // Failures that began before the last reset were forgiven by it.
  double reset_at = std::atof(store_.meta("breaker_reset_at").c_str());
  size_t recent = 0;
  for (const auto& [node, at] : failed_at_)
    if (at >= window_start && at > reset_at) ++recent;
  double limit = config_.breaker_fraction * static_cast<double>(total_nodes);
  if (recent < 2 || static_cast<double>(recent) <= limit) return false;

  char why[160];
  std::snprintf(why, sizeof why, "%zu of %zu nodes failing within %llds (BreakerFraction=%.2f)", recent, total_nodes,
                static_cast<long long>(config_.breaker_window.count()), config_.breaker_fraction);
  trip(why);
  return true;
}

void Breaker::trip(const std::string& why) {
  if (open_) return;
  open_ = true;
  reason_ = why;
  store_.set_meta("breaker_open", "1");
  store_.set_meta("breaker_reason", reason_);
  store_.add_event("breaker_tripped", "cluster", reason_);
  log(LogLevel::Error, "breaker_tripped",
      {{"reason", reason_}, {"effect", "no automated probe, requeue, start or hold until reset"},
       {"reset", "autoresumed --reset-breaker"}});
}

void Breaker::reset(Store& store, const std::string& by) {
  char now[32];
  std::snprintf(now, sizeof now, "%.6f", unix_now());
  store.set_meta("breaker_open", "0");
  store.set_meta("breaker_reason", "");
  store.set_meta("breaker_reset_at", now);
  store.set_meta("replace_failures_in_a_row", "0");
  store.add_event("breaker_reset", "cluster", "by " + by);
}

}  // namespace autoresume
