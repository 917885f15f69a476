// SPDX-License-Identifier: GPL-2.0-or-later
// What the HTTP API and the metrics read: a copy of the controller's view taken by the loop thread after each
// tick, published under a mutex and never changed afterwards (readers share it through a shared_ptr).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "model/cluster.hpp"
#include "engine/job_flow.hpp"
#include "engine/progress.hpp"
#include "model/records.hpp"
#include "store/store.hpp"

namespace autoresume {

// This autoresumed's part in a high-availability pair (engine/lease.hpp); a lone one is always active.
struct RoleView {
  bool active = true;
  bool high_availability = false;
  std::string host;     // the SlurmctldHost it runs beside
  std::string why;      // why it is standby, or how it became active
  Lease lease;          // as last read
};

struct ControllerSnapshot {
  double taken_at = 0;
  double last_poll = 0;          // when slurmctld last answered
  double poll_seconds = 0;       // how long the last tick took
  bool slurm_reachable = false;
  std::string cluster;           // Slurm's ClusterName, once learned: what API credentials must name
  bool breaker_open = false;
  std::string breaker_reason;
  NodeTablePtr nodes = std::make_shared<const NodeTable>();  // shared with the loop until the table changes
  std::vector<Job> jobs;  // the jobs the controller looks at: watched and validation jobs
  std::map<std::string, std::time_t> oldest_pending_since;  // every job's, per partition, as of the last sweep
  std::shared_ptr<const JobFlowTotals> job_flow = std::make_shared<const JobFlowTotals>();  // engine/job_flow.hpp
  double last_sweep = 0;       // when the whole job table was last read (docs/architecture.md)
  double sweep_interval = 0;   // seconds between two sweeps, from the last one's cost (0: every tick)
  size_t jobs_in_slurm = 0;    // jobs in Slurm's table at the last sweep
  // Since the start: the loop thread's CPU time in ticks, and the sweeps with their share of it.
  double tick_cpu_seconds = 0;
  uint64_t ticks = 0;
  uint64_t sweeps = 0;
  double sweep_cpu_seconds = 0;
  uint64_t node_tables = 0;  // ticks that got a changed node table from slurmctld
  double node_table_cpu_seconds = 0;  // their loading and what is derived from it
  std::map<uint32_t, JobRecord> job_records;
  std::map<uint32_t, JobProgressView> progress;  // running jobs that report progress, in their current run
  std::map<std::string, NodeRecord> node_records;
  RoleView role;

  const Node* node(const std::string& name) const;
  const Job* job(uint32_t id) const;
  NodePhase phase_of(const std::string& node) const;
};

class SnapshotBoard {
 public:
  void publish(std::shared_ptr<const ControllerSnapshot> s) {
    std::lock_guard lock(mutex_);
    current_ = std::move(s);
  }
  std::shared_ptr<const ControllerSnapshot> current() const {
    std::lock_guard lock(mutex_);
    return current_ ? current_ : std::make_shared<const ControllerSnapshot>();
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const ControllerSnapshot> current_;
};

// Told of what the controller does, as it does it (the metrics).
class ControllerObserver {
 public:
  virtual ~ControllerObserver() = default;
  virtual void on_event(const std::string& kind, const std::string& subject, const std::string& detail) = 0;
  // A job left a recovery phase after `seconds`; a recovered job is running again `seconds` after its failure.
  virtual void on_job_phase_left(JobPhase phase, double seconds) = 0;
  virtual void on_job_recovered(double seconds) = 0;
  virtual void on_node_phase_left(NodePhase phase, double seconds) = 0;
  // A failure of a job that reports progress cost it `seconds` of work since its last checkpoint and `steps`.
  virtual void on_lost_work(double /*seconds*/, uint64_t /*steps*/) {}
  // A node's remediation: `action` (replace, reboot, reset_gpu, restart_app) by `method` (recovery/remediation.hpp)
  // started, succeeded or failed.
  virtual void on_remediation(const std::string& /*action*/, const std::string& /*method*/, const std::string& /*outcome*/) {}
};

// Several observers behind one (the metrics and the notifier).
class ObserverList final : public ControllerObserver {
 public:
  void add(ControllerObserver* o) { observers_.push_back(o); }
  void on_event(const std::string& kind, const std::string& subject, const std::string& detail) override {
    for (auto* o : observers_) o->on_event(kind, subject, detail);
  }
  void on_job_phase_left(JobPhase phase, double seconds) override {
    for (auto* o : observers_) o->on_job_phase_left(phase, seconds);
  }
  void on_job_recovered(double seconds) override {
    for (auto* o : observers_) o->on_job_recovered(seconds);
  }
  void on_node_phase_left(NodePhase phase, double seconds) override {
    for (auto* o : observers_) o->on_node_phase_left(phase, seconds);
  }
  void on_lost_work(double seconds, uint64_t steps) override {
    for (auto* o : observers_) o->on_lost_work(seconds, steps);
  }
  void on_remediation(const std::string& action, const std::string& method, const std::string& outcome) override {
    for (auto* o : observers_) o->on_remediation(action, method, outcome);
  }

 private:
  std::vector<ControllerObserver*> observers_;
};

}  // namespace autoresume
