// SPDX-License-Identifier: GPL-2.0-or-later
// The agent's readings in Prometheus' text format (prometheus-cpp), named autoresume_gpu_* / autoresume_health_*
// with meanings that mirror dcgm-exporter's (temperature, uncorrectable ECC, remapped rows, XID), so that a site
// without DCGM still gets GPU health. `check --metrics` prints it once (for node_exporter's textfile collector).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "checks/checks.hpp"

namespace autoresume::agent {

std::string render_metrics(const std::string& node, const std::vector<GpuReading>& gpus,
                           const std::vector<CheckResult>& checks, bool nvml_available,
                           const std::map<unsigned, unsigned long long>& last_xid = {},
                           const std::map<std::pair<std::string, std::string>, uint64_t>& remediation = {});

}  // namespace autoresume::agent
