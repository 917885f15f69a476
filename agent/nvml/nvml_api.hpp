// SPDX-License-Identifier: GPL-2.0-or-later
// The subset of NVML the agent uses, declared here: there is no nvml.h on the machines this builds on, and the
// library is loaded at run time (dlopen), never linked. Values and signatures follow NVIDIA's nvml.h.
#pragma once

#include <cstdint>

namespace autoresume::nvml {

using Return = int;
using Device = struct nvmlDevice_st*;
using EventSet = struct nvmlEventSet_st*;

// nvmlEventData_t
struct EventData {
  Device device;
  unsigned long long event_type;
  unsigned long long event_data;  // the XID, for XID events
  unsigned gpu_instance_id;
  unsigned compute_instance_id;
};

enum : Return {
  kSuccess = 0,
  kErrorUninitialized = 1,
  kErrorNotSupported = 3,
  kErrorNoPermission = 4,
  kErrorNotFound = 6,
  kErrorDriverNotLoaded = 9,
  kErrorTimeout = 10,
  kErrorLibraryNotFound = 12,
  kErrorGpuIsLost = 15,
  kErrorUnknown = 999,
};

inline constexpr unsigned kTemperatureGpu = 0;            // NVML_TEMPERATURE_GPU
inline constexpr unsigned kMemoryErrorUncorrected = 1;    // NVML_MEMORY_ERROR_TYPE_UNCORRECTED
inline constexpr unsigned kVolatileEcc = 0;               // NVML_VOLATILE_ECC
inline constexpr unsigned kNvLinkMaxLinks = 18;           // NVML_NVLINK_MAX_LINKS
inline constexpr unsigned kFeatureEnabled = 1;            // NVML_FEATURE_ENABLED
inline constexpr unsigned long long kEventXidCritical = 0x8;  // nvmlEventTypeXidCriticalError

// Function types, one per symbol resolved from libnvidia-ml.so.1.
using InitFn = Return (*)();
using ShutdownFn = Return (*)();
using ErrorStringFn = const char* (*)(Return);
using DeviceGetCountFn = Return (*)(unsigned*);
using DeviceGetHandleByIndexFn = Return (*)(unsigned, Device*);
using DeviceGetNameFn = Return (*)(Device, char*, unsigned);
using DeviceGetUuidFn = Return (*)(Device, char*, unsigned);
using DeviceGetTemperatureFn = Return (*)(Device, unsigned, unsigned*);
using DeviceGetTotalEccErrorsFn = Return (*)(Device, unsigned, unsigned, unsigned long long*);
using DeviceGetRemappedRowsFn = Return (*)(Device, unsigned*, unsigned*, unsigned*, unsigned*);
using DeviceGetRetiredPagesPendingStatusFn = Return (*)(Device, unsigned*);
using DeviceGetNvLinkStateFn = Return (*)(Device, unsigned, unsigned*);
using EventSetCreateFn = Return (*)(EventSet*);
using DeviceRegisterEventsFn = Return (*)(Device, unsigned long long, EventSet);
using EventSetWaitFn = Return (*)(EventSet, EventData*, unsigned);
using EventSetFreeFn = Return (*)(EventSet);

}  // namespace autoresume::nvml
