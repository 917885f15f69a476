// SPDX-License-Identifier: GPL-2.0-or-later
// The agent's health checks. Each has a name ("gpu0:temperature", "disk:/tmp"), a verdict, a detail string and a
// threshold from the configuration. NVML_ERROR_NOT_SUPPORTED means "not applicable" (a single H200 has no NVLink
// peers; ECC may be off), never a fault; NVML_ERROR_GPU_IS_LOST from any query fails that GPU.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nvml/nvml_library.hpp"

namespace autoresume::agent {

enum class Verdict { Ok, Warn, Fail, NotApplicable };
const char* to_string(Verdict v);

struct CheckResult {
  std::string name;
  Verdict verdict;
  std::string detail;
  bool resource = false;  // a host-resource check (memory, disk): its fail is a resource drain, never hardware
};

struct DiskRule {
  std::string path;
  uint64_t min_free_bytes = 0;
};

struct Thresholds {
  unsigned gpu_temp_max = 85;            // GpuTempMax (Celsius): above it, fail
  std::optional<unsigned> expected_gpus; // ExpectedGpus (or the node's gpu GRES count); unset: any count is fine
  std::vector<DiskRule> disks;           // DiskFree=PATH:SIZE
  uint64_t min_memory_available = 512ull << 20;  // MemoryAvailableMin
};

// What NVML said of one GPU; an absent value was NOT_SUPPORTED (or another non-fatal error, noted in `errors`).
struct GpuReading {
  unsigned index = 0;
  std::string name, uuid;
  bool lost = false;
  std::optional<unsigned> temperature;
  std::optional<unsigned long long> ecc_uncorrected_volatile;
  struct Remap { unsigned correctable, uncorrectable, pending, failed; };
  std::optional<Remap> remapped_rows;
  std::optional<bool> retired_pages_pending;
  unsigned nvlinks_supported = 0, nvlinks_active = 0;
  std::vector<std::string> errors;  // unexpected NVML errors, e.g. "temperature: Insufficient Permissions"
};

std::vector<GpuReading> read_gpus(const nvml::Library& lib);

std::vector<CheckResult> gpu_checks(const nvml::Library& lib, const std::vector<GpuReading>& gpus, const Thresholds& t);
std::vector<CheckResult> host_checks(const Thresholds& t);

bool healthy(const std::vector<CheckResult>& results);  // no Fail

}  // namespace autoresume::agent
