// SPDX-License-Identifier: GPL-2.0-or-later
// libnvidia-ml loaded with dlopen. A node without the library, or whose driver is not loaded, has "no GPUs":
// host checks still run. Symbols resolve once; a missing optional symbol reads as NOT_SUPPORTED.
#pragma once

#include <memory>
#include <string>

#include "nvml/nvml_api.hpp"

namespace autoresume::nvml {

class Library {
 public:
  // Loads `path` (default libnvidia-ml.so.1) and initializes NVML. On failure, available() is false and
  // unavailable_reason() says why ("libnvidia-ml.so.1: cannot open shared object file", "driver not loaded").
  static std::unique_ptr<Library> load(const std::string& path = "libnvidia-ml.so.1");
  ~Library();
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;

  bool available() const { return initialized_; }
  const std::string& unavailable_reason() const { return reason_; }
  std::string error_string(Return r) const;

  Return device_count(unsigned* count) const;
  Return device(unsigned index, Device* out) const;
  Return name(Device d, std::string* out) const;
  Return uuid(Device d, std::string* out) const;
  Return temperature(Device d, unsigned* celsius) const;
  Return uncorrected_ecc_volatile(Device d, unsigned long long* count) const;
  Return remapped_rows(Device d, unsigned* correctable, unsigned* uncorrectable, unsigned* pending, unsigned* failed) const;
  Return retired_pages_pending(Device d, bool* pending) const;
  Return nvlink_active(Device d, unsigned link, bool* active) const;

  // XID events: one set, every GPU registered for critical XIDs; wait returns kErrorTimeout when none came.
  Return event_set_create(EventSet* set) const;
  Return register_xid_events(Device d, EventSet set) const;
  Return event_wait(EventSet set, EventData* data, unsigned timeout_ms) const;
  Return event_set_free(EventSet set) const;

 private:
  Library() = default;
  void* handle_ = nullptr;
  bool initialized_ = false;
  std::string reason_;
  InitFn init_ = nullptr;
  ShutdownFn shutdown_ = nullptr;
  ErrorStringFn error_string_ = nullptr;
  DeviceGetCountFn get_count_ = nullptr;
  DeviceGetHandleByIndexFn get_handle_ = nullptr;
  DeviceGetNameFn get_name_ = nullptr;
  DeviceGetUuidFn get_uuid_ = nullptr;
  DeviceGetTemperatureFn get_temperature_ = nullptr;
  DeviceGetTotalEccErrorsFn get_ecc_ = nullptr;
  DeviceGetRemappedRowsFn get_remapped_ = nullptr;
  DeviceGetRetiredPagesPendingStatusFn get_retired_pending_ = nullptr;
  DeviceGetNvLinkStateFn get_nvlink_ = nullptr;
  EventSetCreateFn event_set_create_ = nullptr;
  DeviceRegisterEventsFn register_events_ = nullptr;
  EventSetWaitFn event_wait_ = nullptr;
  EventSetFreeFn event_set_free_ = nullptr;
};

}  // namespace autoresume::nvml
