// SPDX-License-Identifier: GPL-2.0-or-later
// What `autoresume-agent run` adds to the one-shot checks: time. A temperature above GpuTempMax fails only once it
// has lasted GpuTempFor (a short spike is a warn), and a host-resource shortage only once it has lasted
// resource_for; critical XIDs arrive through NVML's event set between polls,
// and one whose number is in the configured set fails its GPU, with the rung of the remediation ladder it calls
// for (remediation/xid_ladder.hpp), until that rung has been carried out (release()) or for as long as the agent
// runs (a reboot or a replacement starts a fresh agent). No Slurm and no network here: this builds on GPU machines.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "checks/checks.hpp"
#include "nvml/nvml_library.hpp"
#include "remediation/xid_ladder.hpp"

namespace autoresume::agent {

struct WatchSettings {
  Thresholds thresholds;
  std::chrono::milliseconds temp_for{std::chrono::seconds(30)};  // GpuTempFor
  // A host-resource check (memory, disk) fails only once its condition has lasted this long (a job that uses the
  // memory it asked for, a burst of output): before, it is a warn.
  std::chrono::milliseconds resource_for{std::chrono::seconds(60)};
  XidTable xid_table = default_xid_table();  // XID -> rung (--xid-ladder FILE over the compiled table)
  std::set<unsigned long long> critical_xids;  // the XIDs that fail their GPU; empty: the table's
  std::string ladder_state;                    // where the rungs tried per GPU are kept; empty: memory only
  double ladder_window_s = 24 * 3600;          // a rung tried longer ago than this is forgotten
};

// A critical XID that failed its GPU, and the rung chosen for it (none: an XID the table does not name, which the
// controller handles with its DefaultAction).
struct Latched {
  unsigned long long xid = 0;
  std::optional<Rung> rung;
};

struct XidSeen {
  unsigned gpu = 0;
  unsigned long long xid = 0;
  bool critical = false;
};

class HealthWatch {
 public:
  HealthWatch(const nvml::Library& lib, WatchSettings settings);
  ~HealthWatch();

  // One poll: every check (GPU and host), with the temperature verdicts adjusted for how long each GPU has been hot and the XIDs
  // seen so far added. `now` is steady-clock time (tests pass their own).
  std::vector<CheckResult> poll(std::chrono::steady_clock::time_point now);
  // Waits up to `timeout` for one XID event (returns at once when one arrives).
  std::optional<XidSeen> wait_xid(std::chrono::milliseconds timeout);
  void record_xid(const XidSeen& x, double wall_now = 0);  // also what wait_xid does with what it got (0: now)
  // The GPU's rung has been carried out (an application restart asked, a reset done): it no longer fails.
  void release(unsigned gpu) { critical_xid_.erase(gpu); }
  const std::map<unsigned, Latched>& latched() const { return critical_xid_; }
  const std::string& ladder_save_error() const { return ladder_.save_error(); }

  const std::vector<GpuReading>& last_readings() const { return readings_; }
  const std::map<unsigned, unsigned long long>& last_xid() const { return last_xid_; }
  bool events_available() const { return events_ != nullptr; }
  // Around a GPU reset: the event set lets go of the devices, then watches them again.
  void close_events();
  void open_events();

 private:
  const nvml::Library& lib_;
  WatchSettings settings_;
  nvml::EventSet events_ = nullptr;
  std::map<std::string, unsigned> uuid_to_index_;
  std::map<unsigned, std::chrono::steady_clock::time_point> hot_since_;
  std::map<std::string, std::chrono::steady_clock::time_point> short_since_;  // resource check -> failing since
  std::map<unsigned, unsigned long long> last_xid_;      // gpu -> last XID (any)
  std::map<unsigned, Latched> critical_xid_;             // gpu -> the critical XID that failed it
  LadderState ladder_;
  std::vector<GpuReading> readings_;
};

}  // namespace autoresume::agent
