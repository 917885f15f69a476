// SPDX-License-Identifier: GPL-2.0-or-later
// /metrics: prometheus-cpp's registry, filled two ways. Gauges are set from each tick's snapshot (states,
// counts, ages); counters and histograms are fed as things happen (ControllerObserver). Names start with
// autoresume_, in base units; counters end in _total, durations in _seconds.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "engine/snapshot.hpp"

namespace autoresume {

class Metrics final : public ControllerObserver {
 public:
  Metrics();
  void update(const ControllerSnapshot& s);
  std::string render() const;

  void on_event(const std::string& kind, const std::string& subject, const std::string& detail) override;
  void on_job_phase_left(JobPhase phase, double seconds) override;
  void on_job_recovered(double seconds) override;
  void on_node_phase_left(NodePhase phase, double seconds) override;
  void on_lost_work(double seconds, uint64_t steps) override;
  void on_remediation(const std::string& action, const std::string& method, const std::string& outcome) override;

  // The failure cause as a bounded label value.
  static std::string cause_label(const std::string& cause);

 private:
  // A gauge family whose label sets change from tick to tick: sets not seen in this update are removed.
  struct DynamicGauges {
    prometheus::Family<prometheus::Gauge>* family;
    std::map<std::map<std::string, std::string>, prometheus::Gauge*> live;
    void set(const std::map<std::map<std::string, std::string>, double>& values);
  };

  std::shared_ptr<prometheus::Registry> registry_;
  mutable std::mutex mutex_;  // update() against render()
  DynamicGauges node_phases_, job_phases_, slurm_nodes_, oldest_pending_, job_goodput_, job_lost_work_;
  DynamicGauges nodes_out_, slurm_jobs_;
  prometheus::Family<prometheus::Counter>* jobs_ended_;
  prometheus::Family<prometheus::Histogram>* queue_wait_;
  std::shared_ptr<const JobFlowTotals> job_flow_seen_ = std::make_shared<const JobFlowTotals>();
  std::map<JobKey, uint64_t> ended_seen_;            // the highest total seen, per label set
  std::map<std::string, QueueWaits> waits_seen_;     // likewise, per partition
  std::map<uint32_t, std::string> user_names_;  // uid -> name, looked up once
  const std::string& user_name(uint32_t uid);
  void update_jobs(const std::shared_ptr<const JobFlowTotals>& totals, bool acting);
  prometheus::Gauge* goodput_;
  prometheus::Counter* lost_work_;
  prometheus::Family<prometheus::Counter>* remediation_;
  prometheus::Counter* redone_steps_;
  prometheus::Counter* recovery_seconds_;
  prometheus::Counter* hangs_;
  prometheus::Gauge* breaker_open_;
  prometheus::Gauge* active_;
  prometheus::Gauge* lease_generation_;
  prometheus::Gauge* slurmctld_up_;
  prometheus::Gauge* last_poll_;
  prometheus::Histogram* poll_duration_;
  prometheus::Family<prometheus::Counter>* resumes_;
  prometheus::Family<prometheus::Counter>* in_place_;
  prometheus::Family<prometheus::Counter>* give_ups_;
  prometheus::Family<prometheus::Counter>* node_failures_;
  prometheus::Family<prometheus::Counter>* replacements_;
  prometheus::Family<prometheus::Counter>* validations_;
  prometheus::Family<prometheus::Counter>* quarantines_;
  prometheus::Family<prometheus::Counter>* breaker_trips_;
  prometheus::Histogram* recovery_;
  prometheus::Family<prometheus::Histogram>* job_phase_;
  prometheus::Family<prometheus::Histogram>* node_phase_;
  double last_poll_seen_ = 0;
  prometheus::Counter* tick_cpu_ = nullptr;
  prometheus::Counter* sweep_cpu_ = nullptr;
  prometheus::Counter* job_sweeps_ = nullptr;
  prometheus::Counter* node_table_cpu_ = nullptr;
  prometheus::Counter* node_tables_ = nullptr;
  NodeTablePtr slurm_counted_for_;  // the node table slurm_counts_ was counted from
  std::map<prometheus::Labels, double> slurm_counts_;
};

}  // namespace autoresume
