// SPDX-License-Identifier: GPL-2.0-or-later
// A stand-in for libnvidia-ml.so.1 for tests: the same symbols, answering from a JSON file that the test writes
// (path in FAKE_NVML_STATE), re-read on every call so a test can change a GPU while the agent runs:
//   {"gpus": [{"name": "Fake H200", "uuid": "GPU-0", "temperature": 40, "ecc_uncorrected": 0,
//              "remapped": {"correctable": 0, "uncorrectable": 0, "pending": 0, "failure": 0},
//              "retired_pending": false, "nvlink": [true, true], "lost": false,
//              "not_supported": ["ecc"]}],
//    "init_error": 0,
//    "xids": [{"id": 1, "gpu": 0, "xid": 79}]}
// Each entry of "xids" added after an event set was created is delivered once through it, to a waiter
// registered on that GPU (in "id" order; the set remembers the last id it delivered).
// A missing "nvlink" (or a name in "not_supported") answers NVML_ERROR_NOT_SUPPORTED, "lost" answers
// NVML_ERROR_GPU_IS_LOST for everything about that GPU.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "nvml/nvml_api.hpp"

using nlohmann::json;
using namespace autoresume::nvml;

namespace {

json state() {
  const char* path = std::getenv("FAKE_NVML_STATE");
  if (!path) return json{{"gpus", json::array()}};
  std::ifstream in(path);
  json j = json::parse(in, nullptr, false);
  return j.is_discarded() ? json{{"gpus", json::array()}} : j;
}

Device handle_of(unsigned index) { return reinterpret_cast<Device>(static_cast<uintptr_t>(index) + 1); }

// The GPU's state, or the error to answer (lost, unsupported query, bad handle).
Return gpu(Device d, const char* query, json* out) {
  json s = state();
  auto index = static_cast<size_t>(reinterpret_cast<uintptr_t>(d)) - 1;
  if (!s.contains("gpus") || index >= s["gpus"].size()) return 2;  // NVML_ERROR_INVALID_ARGUMENT
  json g = s["gpus"][index];
  if (g.value("lost", false)) return kErrorGpuIsLost;
  auto ns = g.value("not_supported", json::array());
  if (std::find(ns.begin(), ns.end(), query) != ns.end()) return kErrorNotSupported;
  *out = g;
  return kSuccess;
}

Return copy(const std::string& s, char* buf, unsigned len) {
  if (len == 0) return 7;  // NVML_ERROR_INSUFFICIENT_SIZE
  std::strncpy(buf, s.c_str(), len - 1);
  buf[len - 1] = '\0';
  return kSuccess;
}

}  // namespace

#define FAKE_EXPORT extern "C" __attribute__((visibility("default")))

FAKE_EXPORT Return nvmlInit_v2() { return state().value("init_error", 0); }
FAKE_EXPORT Return nvmlShutdown() { return kSuccess; }
FAKE_EXPORT const char* nvmlErrorString(Return r) {
  switch (r) {
    case kSuccess: return "Success";
    case kErrorNotSupported: return "Not Supported";
    case kErrorDriverNotLoaded: return "Driver Not Loaded";
    case kErrorGpuIsLost: return "GPU is lost";
    default: return "Unknown Error";
  }
}
FAKE_EXPORT Return nvmlDeviceGetCount_v2(unsigned* count) {
  *count = static_cast<unsigned>(state().value("gpus", json::array()).size());
  return kSuccess;
}
FAKE_EXPORT Return nvmlDeviceGetHandleByIndex_v2(unsigned index, Device* d) {
  json g;
  *d = handle_of(index);
  return gpu(*d, "handle", &g);
}
FAKE_EXPORT Return nvmlDeviceGetName(Device d, char* buf, unsigned len) {
  json g;
  Return r = gpu(d, "name", &g);
  return r == kSuccess ? copy(g.value("name", "Fake GPU"), buf, len) : r;
}
FAKE_EXPORT Return nvmlDeviceGetUUID(Device d, char* buf, unsigned len) {
  json g;
  Return r = gpu(d, "uuid", &g);
  return r == kSuccess ? copy(g.value("uuid", "GPU-fake"), buf, len) : r;
}
FAKE_EXPORT Return nvmlDeviceGetTemperature(Device d, unsigned, unsigned* t) {
  json g;
  Return r = gpu(d, "temperature", &g);
  if (r == kSuccess) *t = g.value("temperature", 35u);
  return r;
}
FAKE_EXPORT Return nvmlDeviceGetTotalEccErrors(Device d, unsigned, unsigned, unsigned long long* n) {
  json g;
  Return r = gpu(d, "ecc", &g);
  if (r == kSuccess) *n = g.value("ecc_uncorrected", 0ull);
  return r;
}
FAKE_EXPORT Return nvmlDeviceGetRemappedRows(Device d, unsigned* corr, unsigned* unc, unsigned* pending, unsigned* failed) {
  json g;
  Return r = gpu(d, "row_remap", &g);
  if (r != kSuccess) return r;
  json m = g.value("remapped", json::object());
  *corr = m.value("correctable", 0u);
  *unc = m.value("uncorrectable", 0u);
  *pending = m.value("pending", 0u);
  *failed = m.value("failure", 0u);
  return kSuccess;
}
FAKE_EXPORT Return nvmlDeviceGetRetiredPagesPendingStatus(Device d, unsigned* pending) {
  json g;
  Return r = gpu(d, "retired_pages", &g);
  if (r == kSuccess) *pending = g.value("retired_pending", false) ? kFeatureEnabled : 0;
  return r;
}
FAKE_EXPORT Return nvmlDeviceGetNvLinkState(Device d, unsigned link, unsigned* active) {
  json g;
  Return r = gpu(d, "nvlink", &g);
  if (r != kSuccess) return r;
  if (!g.contains("nvlink") || link >= g["nvlink"].size()) return kErrorNotSupported;
  *active = g["nvlink"][link].get<bool>() ? kFeatureEnabled : 0;
  return kSuccess;
}

namespace {
struct FakeEventSet {
  long long delivered = 0;  // the last "id" of "xids" handed out
  unsigned long long registered = 0;  // bit per GPU index
};
}  // namespace

// Like the driver's, a new set sees only events that happen after it was created.
FAKE_EXPORT Return nvmlEventSetCreate(EventSet* set) {
  auto* es = new FakeEventSet;
  for (const auto& x : state().value("xids", json::array())) es->delivered = std::max(es->delivered, x.value("id", 0ll));
  *set = reinterpret_cast<EventSet>(es);
  return kSuccess;
}
FAKE_EXPORT Return nvmlDeviceRegisterEvents(Device d, unsigned long long types, EventSet set) {
  json g;
  Return r = gpu(d, "events", &g);
  if (r != kSuccess) return r;
  if (!(types & kEventXidCritical)) return kErrorNotSupported;
  reinterpret_cast<FakeEventSet*>(set)->registered |= 1ull << (reinterpret_cast<uintptr_t>(d) - 1);
  return kSuccess;
}
// Re-reads the state every 10 ms until an undelivered XID of a registered GPU appears or the timeout passes.
FAKE_EXPORT Return nvmlEventSetWait_v2(EventSet set, EventData* data, unsigned timeout_ms) {
  auto* es = reinterpret_cast<FakeEventSet*>(set);
  for (unsigned waited = 0;; waited += 10) {
    json s = state();
    for (const auto& x : s.value("xids", json::array())) {
      long long id = x.value("id", 0ll);
      unsigned index = x.value("gpu", 0u);
      if (id <= es->delivered || !(es->registered & (1ull << index))) continue;
      es->delivered = id;
      *data = EventData{handle_of(index), kEventXidCritical, x.value("xid", 0ull), 0xFFFFFFFFu, 0xFFFFFFFFu};
      return kSuccess;
    }
    if (waited >= timeout_ms) return kErrorTimeout;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}
FAKE_EXPORT Return nvmlEventSetFree(EventSet set) {
  delete reinterpret_cast<FakeEventSet*>(set);
  return kSuccess;
}
