// SPDX-License-Identifier: GPL-2.0-or-later
#include "checks/checks.hpp"

#include <sys/statvfs.h>

#include <fstream>
#include <sstream>

namespace autoresume::agent {
namespace {

using nvml::Return;

std::string gpu(unsigned i) { return "gpu" + std::to_string(i); }

std::string human_bytes(uint64_t b) {
  std::ostringstream s;
  s.precision(1);
  s << std::fixed << static_cast<double>(b) / (1ull << 30) << " GiB";
  return s.str();
}

// Records an NVML answer: success fills the value, NOT_SUPPORTED leaves it empty, GPU_IS_LOST marks the GPU.
template <typename T>
void take(const nvml::Library& lib, GpuReading& g, const char* what, Return r, std::optional<T>& slot, T value) {
  if (r == nvml::kSuccess) slot = value;
  else if (r == nvml::kErrorGpuIsLost) g.lost = true;
  else if (r != nvml::kErrorNotSupported) g.errors.push_back(std::string(what) + ": " + lib.error_string(r));
}

GpuReading read_gpu(const nvml::Library& lib, unsigned index) {
  GpuReading g;
  g.index = index;
  nvml::Device d = nullptr;
  Return r = lib.device(index, &d);
  if (r != nvml::kSuccess) {
    g.lost = r == nvml::kErrorGpuIsLost;
    if (!g.lost) g.errors.push_back("handle: " + lib.error_string(r));
    return g;
  }
  if (lib.name(d, &g.name) == nvml::kErrorGpuIsLost || lib.uuid(d, &g.uuid) == nvml::kErrorGpuIsLost) g.lost = true;

  // Each query runs before its value is taken (argument evaluation order is unspecified).
  unsigned temp = 0;
  Return r_temp = lib.temperature(d, &temp);
  take(lib, g, "temperature", r_temp, g.temperature, temp);
  unsigned long long ecc = 0;
  Return r_ecc = lib.uncorrected_ecc_volatile(d, &ecc);
  take(lib, g, "ecc", r_ecc, g.ecc_uncorrected_volatile, ecc);
  GpuReading::Remap remap{};
  Return r_remap = lib.remapped_rows(d, &remap.correctable, &remap.uncorrectable, &remap.pending, &remap.failed);
  take(lib, g, "row_remap", r_remap, g.remapped_rows, remap);
  bool pending = false;
  Return r_pending = lib.retired_pages_pending(d, &pending);
  take(lib, g, "retired_pages", r_pending, g.retired_pages_pending, pending);
  for (unsigned link = 0; link < nvml::kNvLinkMaxLinks; ++link) {
    bool active = false;
    Return lr = lib.nvlink_active(d, link, &active);
    if (lr == nvml::kErrorGpuIsLost) g.lost = true;
    if (lr != nvml::kSuccess) continue;
    ++g.nvlinks_supported;
    g.nvlinks_active += active;
  }
  return g;
}

CheckResult gpu_count_check(const nvml::Library& lib, size_t found, const Thresholds& t) {
  if (!lib.available()) {
    if (t.expected_gpus.value_or(0) > 0)
      return {"gpu_count", Verdict::Fail, "expected " + std::to_string(*t.expected_gpus) + " GPUs, NVML unavailable: " + lib.unavailable_reason()};
    return {"gpu_count", Verdict::NotApplicable, "no GPUs (" + lib.unavailable_reason() + ")"};
  }
  std::string detail = std::to_string(found) + " GPUs";
  if (!t.expected_gpus) return {"gpu_count", Verdict::Ok, detail};
  if (found != *t.expected_gpus)
    return {"gpu_count", Verdict::Fail, detail + ", expected " + std::to_string(*t.expected_gpus)};
  return {"gpu_count", Verdict::Ok, detail + " as expected"};
}

void one_gpu_checks(const GpuReading& g, const Thresholds& t, std::vector<CheckResult>& out) {
  std::string p = gpu(g.index) + ":";
  if (g.lost) {
    out.push_back({p + "lost", Verdict::Fail, "GPU is lost (NVML_ERROR_GPU_IS_LOST)"});
    return;
  }
  out.push_back({p + "lost", Verdict::Ok, g.name.empty() ? "answers" : g.name});

  if (!g.temperature) out.push_back({p + "temperature", Verdict::NotApplicable, "not supported"});
  else {
    std::string d = std::to_string(*g.temperature) + " C (max " + std::to_string(t.gpu_temp_max) + " C)";
    Verdict v = *g.temperature > t.gpu_temp_max ? Verdict::Fail
                : *g.temperature + 5 > t.gpu_temp_max ? Verdict::Warn : Verdict::Ok;
    out.push_back({p + "temperature", v, d});
  }

  if (!g.ecc_uncorrected_volatile) out.push_back({p + "ecc", Verdict::NotApplicable, "ECC not supported or off"});
  else
    out.push_back({p + "ecc", *g.ecc_uncorrected_volatile ? Verdict::Fail : Verdict::Ok,
                   std::to_string(*g.ecc_uncorrected_volatile) + " uncorrectable (volatile)"});

  if (!g.remapped_rows) out.push_back({p + "row_remap", Verdict::NotApplicable, "row remapping not supported"});
  else {
    const auto& r = *g.remapped_rows;
    std::string d = std::to_string(r.correctable) + " correctable, " + std::to_string(r.uncorrectable) +
                    " uncorrectable rows remapped" + (r.pending ? ", remap pending (reset needed)" : "") +
                    (r.failed ? ", remap FAILED" : "");
    out.push_back({p + "row_remap", (r.pending || r.failed) ? Verdict::Fail : Verdict::Ok, d});
  }

  if (!g.retired_pages_pending) out.push_back({p + "retired_pages", Verdict::NotApplicable, "page retirement not supported"});
  else
    out.push_back({p + "retired_pages", *g.retired_pages_pending ? Verdict::Fail : Verdict::Ok,
                   *g.retired_pages_pending ? "retirement pending (reset needed)" : "none pending"});

  if (g.nvlinks_supported == 0) out.push_back({p + "nvlink", Verdict::NotApplicable, "no NVLink"});
  else
    out.push_back({p + "nvlink", g.nvlinks_active < g.nvlinks_supported ? Verdict::Fail : Verdict::Ok,
                   std::to_string(g.nvlinks_active) + " of " + std::to_string(g.nvlinks_supported) + " links up"});

  for (const auto& e : g.errors) out.push_back({p + "nvml", Verdict::Warn, e});
}

std::optional<uint64_t> mem_available() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t kb = 0;
  std::string unit;
  while (in >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024;
  return std::nullopt;
}

}  // namespace

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::Ok: return "ok";
    case Verdict::Warn: return "warn";
    case Verdict::Fail: return "fail";
    case Verdict::NotApplicable: return "n/a";
  }
  return "n/a";
}

std::vector<GpuReading> read_gpus(const nvml::Library& lib) {
  std::vector<GpuReading> out;
  unsigned count = 0;
  if (!lib.available() || lib.device_count(&count) != nvml::kSuccess) return out;
  for (unsigned i = 0; i < count; ++i) out.push_back(read_gpu(lib, i));
  return out;
}

std::vector<CheckResult> gpu_checks(const nvml::Library& lib, const std::vector<GpuReading>& gpus, const Thresholds& t) {
  std::vector<CheckResult> out{gpu_count_check(lib, gpus.size(), t)};
  for (const auto& g : gpus) one_gpu_checks(g, t, out);
  return out;
}

std::vector<CheckResult> host_checks(const Thresholds& t) {
  std::vector<CheckResult> out;
  for (const auto& d : t.disks) {
    struct statvfs s {};
    if (statvfs(d.path.c_str(), &s) != 0) {
      out.push_back({"disk:" + d.path, Verdict::Fail, "cannot stat " + d.path, true});
      continue;
    }
    uint64_t free = static_cast<uint64_t>(s.f_bavail) * s.f_frsize;
    out.push_back({"disk:" + d.path, free < d.min_free_bytes ? Verdict::Fail : Verdict::Ok,
                   human_bytes(free) + " free (min " + human_bytes(d.min_free_bytes) + ")", true});
  }
  auto avail = mem_available();
  if (!avail) out.push_back({"memory", Verdict::NotApplicable, "no MemAvailable in /proc/meminfo", true});
  else
    out.push_back({"memory", *avail < t.min_memory_available ? Verdict::Fail : Verdict::Ok,
                   human_bytes(*avail) + " available (min " + human_bytes(t.min_memory_available) + ")", true});
  return out;
}

bool healthy(const std::vector<CheckResult>& results) {
  for (const auto& r : results)
    if (r.verdict == Verdict::Fail) return false;
  return true;
}

}  // namespace autoresume::agent
