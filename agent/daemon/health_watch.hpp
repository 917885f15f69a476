// What `autoresume-agent run` adds to the one-shot checks: time. A temperature above GpuTempMax fails only once it
// has lasted GpuTempFor (a short spike is a warn), and a host-resource shortage only once it has lasted
// resource_for; critical XIDs arrive through NVML's event set between polls,
// and one whose number is in the configured set fails its GPU for as long as the agent runs (the node is drained
// and replaced: a fresh agent starts clean). No Slurm and no network here: this builds on GPU machines too.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "checks/checks.hpp"
#include "nvml/nvml_library.hpp"

namespace autoresume::agent {

// XIDs that mean the hardware (or its driver state) is bad, after NVIDIA's XID catalogue: 48 DBE ECC, 63/64 row
// remapping, 74 NVLink, 79 fallen off the bus, 92 high SBE rate, 94/95 contained/uncontained ECC, 119/120 GSP.
inline const std::set<unsigned long long> kDefaultCriticalXids = {48, 63, 64, 74, 79, 92, 94, 95, 119, 120};

struct WatchSettings {
  Thresholds thresholds;
  std::chrono::milliseconds temp_for{std::chrono::seconds(30)};  // GpuTempFor
  // A host-resource check (memory, disk) fails only once its condition has lasted this long (a job that uses the
  // memory it asked for, a burst of output): before, it is a warn.
  std::chrono::milliseconds resource_for{std::chrono::seconds(60)};
  std::set<unsigned long long> critical_xids = kDefaultCriticalXids;
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
  void record_xid(const XidSeen& x);  // also what wait_xid does with what it got

  const std::vector<GpuReading>& last_readings() const { return readings_; }
  const std::map<unsigned, unsigned long long>& last_xid() const { return last_xid_; }
  bool events_available() const { return events_ != nullptr; }

 private:
  const nvml::Library& lib_;
  WatchSettings settings_;
  nvml::EventSet events_ = nullptr;
  std::map<std::string, unsigned> uuid_to_index_;
  std::map<unsigned, std::chrono::steady_clock::time_point> hot_since_;
  std::map<std::string, std::chrono::steady_clock::time_point> short_since_;  // resource check -> failing since
  std::map<unsigned, unsigned long long> last_xid_;      // gpu -> last XID (any)
  std::map<unsigned, unsigned long long> critical_xid_;  // gpu -> the critical XID that failed it
  std::vector<GpuReading> readings_;
};

}  // namespace autoresume::agent
