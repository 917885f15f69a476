#include "recovery/breaker.hpp"

#include <cmath>
#include <cstdio>

#include "util/log.hpp"

namespace autoresume {

Breaker::Breaker(Store& store, const Config& config) : store_(store), config_(config) {}

bool Breaker::update(const std::map<std::string, bool>& failing_now, size_t total_nodes, double now) {
  for (auto it = failing_since_.begin(); it != failing_since_.end();)
    it = failing_now.count(it->first) ? std::next(it) : failing_since_.erase(it);
  for (const auto& [node, _] : failing_now) failing_since_.emplace(node, now);

  open_ = store_.meta("breaker_open") == "1";
  reason_ = store_.meta("breaker_reason");
  if (open_) return true;

  // Failures that began before the last reset were forgiven by it.
  double reset_at = std::atof(store_.meta("breaker_reset_at").c_str());
  double window_start = now - static_cast<double>(config_.breaker_window.count());
  size_t recent = 0;
  for (const auto& [node, at] : failing_since_)
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
