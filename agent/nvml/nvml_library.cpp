// SPDX-License-Identifier: GPL-2.0-or-later
#include "nvml/nvml_library.hpp"

#include <dlfcn.h>

namespace autoresume::nvml {
namespace {

template <typename F>
void resolve(void* handle, F& fn, const char* versioned, const char* plain = nullptr) {
  fn = reinterpret_cast<F>(dlsym(handle, versioned));
  if (!fn && plain) fn = reinterpret_cast<F>(dlsym(handle, plain));
}

template <typename F, typename... Args>
Return call(F fn, Args... args) {
  return fn ? fn(args...) : kErrorNotSupported;
}

}  // namespace

std::unique_ptr<Library> Library::load(const std::string& path) {
  std::unique_ptr<Library> lib(new Library());
  lib->handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib->handle_) {
    const char* err = dlerror();
    lib->reason_ = err ? err : (path + ": cannot be loaded");
    return lib;
  }
  void* h = lib->handle_;
  resolve(h, lib->init_, "nvmlInit_v2", "nvmlInit");
  resolve(h, lib->shutdown_, "nvmlShutdown");
  resolve(h, lib->error_string_, "nvmlErrorString");
  resolve(h, lib->get_count_, "nvmlDeviceGetCount_v2", "nvmlDeviceGetCount");
  resolve(h, lib->get_handle_, "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex");
  resolve(h, lib->get_name_, "nvmlDeviceGetName");
  resolve(h, lib->get_uuid_, "nvmlDeviceGetUUID");
  resolve(h, lib->get_temperature_, "nvmlDeviceGetTemperature");
  resolve(h, lib->get_ecc_, "nvmlDeviceGetTotalEccErrors");
  resolve(h, lib->get_remapped_, "nvmlDeviceGetRemappedRows");
  resolve(h, lib->get_retired_pending_, "nvmlDeviceGetRetiredPagesPendingStatus");
  resolve(h, lib->get_nvlink_, "nvmlDeviceGetNvLinkState");
  resolve(h, lib->event_set_create_, "nvmlEventSetCreate");
  resolve(h, lib->register_events_, "nvmlDeviceRegisterEvents");
  resolve(h, lib->event_wait_, "nvmlEventSetWait_v2", "nvmlEventSetWait");
  resolve(h, lib->event_set_free_, "nvmlEventSetFree");
  if (!lib->init_ || !lib->get_count_ || !lib->get_handle_) {
    lib->reason_ = path + ": not an NVML library (nvmlInit/nvmlDeviceGetCount missing)";
    return lib;
  }
  Return r = lib->init_();
  if (r != kSuccess) {
    lib->reason_ = "nvmlInit: " + lib->error_string(r);
    return lib;
  }
  lib->initialized_ = true;
  return lib;
}

Library::~Library() {
  if (initialized_ && shutdown_) shutdown_();
  if (handle_) dlclose(handle_);
}

std::string Library::error_string(Return r) const {
  if (error_string_) {
    const char* s = error_string_(r);
    if (s) return s;
  }
  return "NVML error " + std::to_string(r);
}

Return Library::device_count(unsigned* count) const { return call(get_count_, count); }
Return Library::device(unsigned index, Device* out) const { return call(get_handle_, index, out); }

Return Library::name(Device d, std::string* out) const {
  char buf[96] = {};
  Return r = call(get_name_, d, buf, static_cast<unsigned>(sizeof buf));
  if (r == kSuccess) *out = buf;
  return r;
}

Return Library::uuid(Device d, std::string* out) const {
  char buf[96] = {};
  Return r = call(get_uuid_, d, buf, static_cast<unsigned>(sizeof buf));
  if (r == kSuccess) *out = buf;
  return r;
}

Return Library::temperature(Device d, unsigned* celsius) const {
  return call(get_temperature_, d, kTemperatureGpu, celsius);
}

Return Library::uncorrected_ecc_volatile(Device d, unsigned long long* count) const {
  return call(get_ecc_, d, kMemoryErrorUncorrected, kVolatileEcc, count);
}

Return Library::remapped_rows(Device d, unsigned* correctable, unsigned* uncorrectable, unsigned* pending,
                              unsigned* failed) const {
  return call(get_remapped_, d, correctable, uncorrectable, pending, failed);
}

Return Library::retired_pages_pending(Device d, bool* pending) const {
  unsigned state = 0;
  Return r = call(get_retired_pending_, d, &state);
  *pending = state == kFeatureEnabled;
  return r;
}

Return Library::nvlink_active(Device d, unsigned link, bool* active) const {
  unsigned state = 0;
  Return r = call(get_nvlink_, d, link, &state);
  *active = state == kFeatureEnabled;
  return r;
}

Return Library::event_set_create(EventSet* set) const { return call(event_set_create_, set); }
Return Library::register_xid_events(Device d, EventSet set) const { return call(register_events_, d, kEventXidCritical, set); }
Return Library::event_wait(EventSet set, EventData* data, unsigned timeout_ms) const {
  return call(event_wait_, set, data, timeout_ms);
}
Return Library::event_set_free(EventSet set) const { return call(event_set_free_, set); }

}  // namespace autoresume::nvml
