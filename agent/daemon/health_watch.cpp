// SPDX-License-Identifier: GPL-2.0-or-later
#include "daemon/health_watch.hpp"

#include <ctime>

namespace autoresume::agent {

HealthWatch::HealthWatch(const nvml::Library& lib, WatchSettings settings)
    : lib_(lib), settings_(std::move(settings)), ladder_(settings_.ladder_state, settings_.ladder_window_s) {
  if (settings_.critical_xids.empty())
    for (const auto& [xid, rung] : settings_.xid_table) settings_.critical_xids.insert(xid);
  open_events();
}

void HealthWatch::open_events() {
  if (!lib_.available() || events_) return;
  unsigned count = 0;
  if (lib_.device_count(&count) != nvml::kSuccess || lib_.event_set_create(&events_) != nvml::kSuccess) {
    events_ = nullptr;
    return;
  }
  for (unsigned i = 0; i < count; ++i) {
    nvml::Device d = nullptr;
    // NOT_SUPPORTED on a GPU (some virtualized ones): that GPU's XIDs are not watched; the polls still are.
    if (lib_.device(i, &d) == nvml::kSuccess) lib_.register_xid_events(d, events_);
  }
}

void HealthWatch::close_events() {
  if (events_) lib_.event_set_free(events_);
  events_ = nullptr;
}

HealthWatch::~HealthWatch() { close_events(); }

std::optional<XidSeen> HealthWatch::wait_xid(std::chrono::milliseconds timeout) {
  if (!events_) return std::nullopt;
  nvml::EventData data{};
  nvml::Return r = lib_.event_wait(events_, &data, static_cast<unsigned>(timeout.count()));
  if (r != nvml::kSuccess || !(data.event_type & nvml::kEventXidCritical)) return std::nullopt;
  XidSeen x;
  unsigned count = 0;
  lib_.device_count(&count);
  for (unsigned i = 0; i < count; ++i) {
    nvml::Device d = nullptr;
    if (lib_.device(i, &d) == nvml::kSuccess && d == data.device) x.gpu = i;
  }
  x.xid = data.event_data;
  x.critical = settings_.critical_xids.count(x.xid) != 0;
  record_xid(x);
  return x;
}

void HealthWatch::record_xid(const XidSeen& x, double wall_now) {
  last_xid_[x.gpu] = x.xid;
  if (!x.critical || critical_xid_.count(x.gpu)) return;  // a burst of XIDs is one fault
  Latched l{x.xid, std::nullopt};
  auto rung = settings_.xid_table.find(x.xid);
  if (rung != settings_.xid_table.end())
    l.rung = ladder_.choose(x.gpu, rung->second, wall_now != 0 ? wall_now : static_cast<double>(std::time(nullptr)));
  critical_xid_[x.gpu] = l;
}

std::vector<CheckResult> HealthWatch::poll(std::chrono::steady_clock::time_point now) {
  readings_ = read_gpus(lib_);
  auto results = gpu_checks(lib_, readings_, settings_.thresholds);
  for (auto& r : results) {
    auto colon = r.name.find(':');
    if (r.name.rfind("gpu", 0) != 0 || colon == std::string::npos || r.name.substr(colon + 1) != "temperature") continue;
    unsigned gpu = static_cast<unsigned>(std::stoul(r.name.substr(3, colon - 3)));
    if (r.verdict != Verdict::Fail) {
      hot_since_.erase(gpu);
      continue;
    }
    auto since = hot_since_.emplace(gpu, now).first->second;
    auto hot_for = std::chrono::duration_cast<std::chrono::milliseconds>(now - since);
    if (hot_for < settings_.temp_for) {
      r.verdict = Verdict::Warn;  // a spike: fails only if it lasts GpuTempFor
      r.detail += ", for " + std::to_string(hot_for.count() / 1000) + " s of " +
                  std::to_string(settings_.temp_for.count() / 1000) + " s";
    } else {
      r.detail += " for " + std::to_string(hot_for.count() / 1000) + " s";
    }
  }
  for (const auto& [gpu, l] : critical_xid_)
    results.push_back({"gpu" + std::to_string(gpu), Verdict::Fail,
                       "xid " + std::to_string(l.xid) + (l.rung ? std::string(" [") + to_string(*l.rung) + "]" : "")});
  auto host = host_checks(settings_.thresholds);
  for (auto& r : host) {
    if (!r.resource || r.verdict != Verdict::Fail) {
      short_since_.erase(r.name);
      continue;
    }
    auto since = short_since_.emplace(r.name, now).first->second;
    auto lasted = std::chrono::duration_cast<std::chrono::milliseconds>(now - since);
    if (lasted < settings_.resource_for) {
      r.verdict = Verdict::Warn;
      r.detail += ", for " + std::to_string(lasted.count() / 1000) + " s of " +
                  std::to_string(settings_.resource_for.count() / 1000) + " s";
    } else {
      r.detail += " for " + std::to_string(lasted.count() / 1000) + " s";
    }
  }
  results.insert(results.end(), host.begin(), host.end());
  return results;
}

}  // namespace autoresume::agent
