// SPDX-License-Identifier: GPL-2.0-or-later
#include "metrics/gpu_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace autoresume::agent {

std::string render_metrics(const std::string& node, const std::vector<GpuReading>& gpus,
                           const std::vector<CheckResult>& checks, bool nvml_available,
                           const std::map<unsigned, unsigned long long>& last_xid,
                           const std::map<std::pair<std::string, std::string>, uint64_t>& remediation) {
  using prometheus::BuildGauge;
  prometheus::Registry r;
  auto& temperature = BuildGauge().Name("autoresume_gpu_temperature_celsius").Help("GPU temperature (DCGM_FI_DEV_GPU_TEMP)").Register(r);
  auto& ecc = BuildGauge().Name("autoresume_gpu_ecc_uncorrectable_volatile_errors").Help("Uncorrectable ECC errors since the driver loaded (DCGM_FI_DEV_ECC_DBE_VOL_TOTAL)").Register(r);
  auto& remapped = BuildGauge().Name("autoresume_gpu_remapped_rows").Help("Rows remapped, by kind (DCGM_FI_DEV_CORRECTABLE/UNCORRECTABLE_REMAPPED_ROWS)").Register(r);
  auto& remap_pending = BuildGauge().Name("autoresume_gpu_row_remap_pending").Help("1 if a row remapping waits for a GPU reset").Register(r);
  auto& remap_failed = BuildGauge().Name("autoresume_gpu_row_remap_failed").Help("1 if a row remapping failed (DCGM_FI_DEV_ROW_REMAP_FAILURE)").Register(r);
  auto& lost = BuildGauge().Name("autoresume_gpu_lost").Help("1 if NVML reports the GPU lost").Register(r);
  auto& links = BuildGauge().Name("autoresume_gpu_nvlinks_active").Help("NVLink links up").Register(r);
  auto& xid = BuildGauge().Name("autoresume_gpu_last_xid").Help("The last critical XID seen by the agent's event wait, 0 if none (DCGM_FI_DEV_XID_ERRORS)").Register(r);
  auto& check = BuildGauge().Name("autoresume_health_check").Help("1 for each check's current verdict (ok, warn, fail, n/a)").Register(r);
  BuildGauge().Name("autoresume_gpus").Help("GPUs NVML sees on the node").Register(r).Add({{"node", node}}).Set(static_cast<double>(gpus.size()));
  BuildGauge().Name("autoresume_nvml_available").Help("1 if the NVML library loaded").Register(r).Add({{"node", node}}).Set(nvml_available ? 1 : 0);
  for (const auto& g : gpus) {
    std::map<std::string, std::string> l = {{"node", node}, {"gpu", std::to_string(g.index)}, {"uuid", g.uuid}};
    lost.Add(l).Set(g.lost ? 1 : 0);
    links.Add(l).Set(g.nvlinks_active);
    auto seen = last_xid.find(g.index);
    xid.Add(l).Set(seen == last_xid.end() ? 0 : static_cast<double>(seen->second));
    if (g.temperature) temperature.Add(l).Set(*g.temperature);
    if (g.ecc_uncorrected_volatile) ecc.Add(l).Set(static_cast<double>(*g.ecc_uncorrected_volatile));
    if (g.remapped_rows) {
      auto with_kind = [&](const char* kind) {
        auto k = l;
        k["kind"] = kind;
        return k;
      };
      remapped.Add(with_kind("correctable")).Set(g.remapped_rows->correctable);
      remapped.Add(with_kind("uncorrectable")).Set(g.remapped_rows->uncorrectable);
      remap_pending.Add(l).Set(g.remapped_rows->pending ? 1 : 0);
      remap_failed.Add(l).Set(g.remapped_rows->failed ? 1 : 0);
    }
  }
  auto& rungs = prometheus::BuildCounter()
                    .Name("autoresume_agent_remediation_total")
                    .Help("The GPU ladder's rungs this agent chose or carried out, by rung and outcome (requested: left to "
                          "the controller; done / failed: the agent's own GPU reset)")
                    .Register(r);
  for (const auto& [key, n] : remediation)
    rungs.Add({{"node", node}, {"rung", key.first}, {"outcome", key.second}}).Increment(static_cast<double>(n));
  for (const auto& c : checks) check.Add({{"node", node}, {"check", c.name}, {"verdict", to_string(c.verdict)}}).Set(1);
  return prometheus::TextSerializer().Serialize(r.Collect());
}

}  // namespace autoresume::agent
