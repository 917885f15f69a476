// SPDX-License-Identifier: GPL-2.0-or-later
#include "http/metrics.hpp"

#include <pwd.h>

#include <cctype>

#include "model/goodput.hpp"

#include "util/strings.hpp"

#include <prometheus/text_serializer.h>

#include <algorithm>

namespace autoresume {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using prometheus::Histogram;
using Labels = std::map<std::string, std::string>;

// Recoveries take seconds to many minutes (a replaced and validated node): buckets to an hour.
const Histogram::BucketBoundaries kRecoveryBuckets = {1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600};
const Histogram::BucketBoundaries kPollBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

const char* slurm_state(const Node& n) {
  if (n.down()) return n.drain ? "down_drain" : "down";
  if (n.fail) return "fail";
  if (n.drain) return n.base == NodeBase::Idle ? "drained" : "draining";
  if (n.not_responding) return "not_responding";
  if (n.maint) return "maint";
  if (n.completing) return "completing";
  switch (n.base) {
    case NodeBase::Idle: return "idle";
    case NodeBase::Allocated: return "allocated";
    case NodeBase::Mixed: return "mixed";
    case NodeBase::Future: return "future";
    default: return "unknown";
  }
}

}  // namespace

void Metrics::DynamicGauges::set(const std::map<Labels, double>& values) {
  for (auto it = live.begin(); it != live.end();) {
    if (values.count(it->first)) {
      ++it;
      continue;
    }
    family->Remove(it->second);
    it = live.erase(it);
  }
  for (const auto& [labels, value] : values) {
    auto& g = live[labels];
    if (!g) g = &family->Add(labels);
    g->Set(value);
  }
}

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  auto& r = *registry_;
  node_phases_.family = &BuildGauge().Name("autoresume_nodes").Help("Nodes by lifecycle phase (healthy, failed, draining, replacing, validating, quarantined)").Register(r);
  job_phases_.family = &BuildGauge().Name("autoresume_jobs").Help("Jobs under auto-resume by phase").Register(r);
  slurm_nodes_.family = &BuildGauge().Name("autoresume_slurm_nodes").Help("Nodes by Slurm state, per partition").Register(r);
  oldest_pending_.family = &BuildGauge().Name("autoresume_oldest_pending_job_age_seconds").Help("Age of the oldest pending job (any job) per partition, since it became eligible").Register(r);
  breaker_open_ = &BuildGauge().Name("autoresume_breaker_open").Help("1 while the circuit breaker stops automated recovery").Register(r).Add({});
  active_ = &BuildGauge().Name("autoresume_active").Help("1 while this autoresumed acts (holds the lease), 0 while standby").Register(r).Add({});
  lease_generation_ = &BuildGauge().Name("autoresume_lease_generation").Help("The state lease's generation as this autoresumed last read it: raised by every takeover").Register(r).Add({});
  slurmctld_up_ = &BuildGauge().Name("autoresume_slurmctld_up").Help("1 if slurmctld answered the last poll").Register(r).Add({});
  last_poll_ = &BuildGauge().Name("autoresume_last_poll_timestamp_seconds").Help("When slurmctld last answered a poll (unix time)").Register(r).Add({});
  auto& loop_cpu = BuildCounter().Name("autoresume_loop_cpu_seconds_total").Help("CPU time of the control loop's thread: in all ticks (part=tick), and of that in job-table sweeps (part=sweep) and in reading changed node tables (part=node_table)").Register(r);
  tick_cpu_ = &loop_cpu.Add({{"part", "tick"}});
  sweep_cpu_ = &loop_cpu.Add({{"part", "sweep"}});
  node_table_cpu_ = &loop_cpu.Add({{"part", "node_table"}});
  node_tables_ = &BuildCounter().Name("autoresume_node_tables_total").Help("Ticks that got a changed node table from slurmctld (read and converted whole)").Register(r).Add({});
  job_sweeps_ = &BuildCounter().Name("autoresume_job_sweeps_total").Help("Reads of Slurm's whole job table (docs/architecture.md)").Register(r).Add({});
  poll_duration_ = &BuildHistogram().Name("autoresume_poll_duration_seconds").Help("Duration of one control loop tick").Register(r).Add({}, kPollBuckets);
  resumes_ = &BuildCounter().Name("autoresume_resumes_total").Help("Jobs running again after an infrastructure failure").Register(r);
  resumes_->Add({});
  in_place_ = &BuildCounter().Name("autoresume_in_place_total")
                   .Help("Steps that asked for in-place retry after a node failure: retried in the same job, or the whole job requeued instead (fallback)")
                   .Register(r);
  for (const char* result : {"retried", "fallback"}) in_place_->Add({{"result", result}});
  give_ups_ = &BuildCounter().Name("autoresume_give_ups_total").Help("Jobs not resumed, by reason (budget_exhausted, not_resumed)").Register(r);
  for (const char* reason : {"budget_exhausted", "not_resumed"}) give_ups_->Add({{"reason", reason}});
  node_failures_ = &BuildCounter().Name("autoresume_node_failures_total").Help("Node failures seen, by cause").Register(r);
  replacements_ = &BuildCounter().Name("autoresume_replacements_total").Help("Replace or reboot programs finished, by result").Register(r);
  validations_ = &BuildCounter().Name("autoresume_validations_total").Help("Validation jobs finished, by result").Register(r);
  for (const char* result : {"success", "failure"}) {
    replacements_->Add({{"result", result}});
    validations_->Add({{"result", result}});
  }
  remediation_ = &BuildCounter()
                      .Name("autoresume_remediation_total")
                      .Help("Node remediations by action (replace, reboot, reset_gpu, restart_app), method (program, "
                            "power_cycle, reboot, none, gpu_reset, restart) and outcome (started, succeeded, failed)")
                      .Register(r);
  quarantines_ = &BuildCounter().Name("autoresume_quarantines_total").Help("Nodes quarantined for a human").Register(r);
  quarantines_->Add({});
  breaker_trips_ = &BuildCounter().Name("autoresume_breaker_trips_total").Help("Times the circuit breaker opened").Register(r);
  breaker_trips_->Add({});
  recovery_ = &BuildHistogram().Name("autoresume_recovery_duration_seconds").Help("From a job's node failure to the job running again").Register(r).Add({}, kRecoveryBuckets);
  job_phase_ = &BuildHistogram().Name("autoresume_recovery_phase_duration_seconds").Help("Time a recovering job spent in each phase").Register(r);
  node_phase_ = &BuildHistogram().Name("autoresume_node_phase_duration_seconds").Help("Time a node spent in each lifecycle phase").Register(r);
  job_goodput_.family = &BuildGauge().Name("autoresume_job_goodput_ratio").Help("A watched job's goodput: productive time over its time since its first run started (docs/hangs-and-goodput.md)").Register(r);
  job_lost_work_.family = &BuildGauge().Name("autoresume_job_lost_work_seconds").Help("A watched job's work lost to failures: from its last checkpoint to each failure").Register(r);
  goodput_ = &BuildGauge().Name("autoresume_goodput_ratio").Help("Productive time over total time of the jobs the controller holds records of (watched, and ended ones until Slurm forgets them)").Register(r).Add({});
  goodput_->Set(1);
  lost_work_ = &BuildCounter().Name("autoresume_lost_work_seconds_total").Help("Work lost to failures by jobs that report progress: from the last checkpoint to each failure").Register(r).Add({});
  redone_steps_ = &BuildCounter().Name("autoresume_redone_steps_total").Help("Steps done again after failures (the step at the failure less the checkpoint's)").Register(r).Add({});
  recovery_seconds_ = &BuildCounter().Name("autoresume_recovery_seconds_total").Help("Time jobs spent between a failure and running again").Register(r).Add({});
  hangs_ = &BuildCounter().Name("autoresume_job_hangs_total").Help("Jobs requeued as hung: no progress for their hang timeout on healthy nodes").Register(r).Add({});
  nodes_out_.family = &BuildGauge().Name("autoresume_node_out_of_service").Help("1 for each node auto-resume has taken out of service (failed, draining, replacing, validating, quarantined), with its phase and the failure's cause").Register(r);
  slurm_jobs_.family = &BuildGauge().Name("autoresume_slurm_jobs").Help("Slurm's pending, running and suspended jobs (all jobs, not only auto-resume's) by state, partition and user, as of the last sweep of the job table").Register(r);
  jobs_ended_ = &BuildCounter().Name("autoresume_slurm_jobs_ended_total").Help("Slurm jobs (all jobs) seen ended since autoresumed started, by end state, partition and user").Register(r);
  queue_wait_ = &BuildHistogram().Name("autoresume_slurm_job_queue_wait_seconds").Help("Slurm jobs (all jobs) that started since autoresumed started: time from eligible to start, per partition").Register(r);
  BuildGauge().Name("autoresume_build_info").Help("The controller's version").Register(r).Add({{"version", AUTORESUME_VERSION}}).Set(1);
}

void Metrics::update(const ControllerSnapshot& s) {
  std::lock_guard lock(mutex_);
  std::map<Labels, double> nodes, jobs, slurm, pending;
  for (auto p : {NodePhase::Healthy, NodePhase::Failed, NodePhase::Draining, NodePhase::Replacing, NodePhase::Validating, NodePhase::Quarantined})
    nodes[{{"phase", to_string(p)}}] = 0;
  // Every node is healthy but those with a lifecycle record: counted from the records, not node by node.
  nodes[{{"phase", to_string(NodePhase::Healthy)}}] = static_cast<double>(s.nodes->size());
  for (const auto& [name, r] : s.node_records) {
    if (r.phase == NodePhase::Healthy || !s.node(name)) continue;
    nodes[{{"phase", to_string(NodePhase::Healthy)}}] -= 1;
    nodes[{{"phase", to_string(r.phase)}}] += 1;
  }
  // Slurm's states, per partition: counted again only when slurmctld sent a new node table (a pass over every
  // node, under plain keys: one label set per distinct value, not per node).
  if (s.nodes != slurm_counted_for_) {
    std::map<std::pair<std::string_view, std::string_view>, double> by_state;
    for (const auto& n : *s.nodes)
      for (const auto& part : n.partitions) by_state[{part, slurm_state(n)}] += 1;
    slurm_counts_.clear();
    for (const auto& [key, count] : by_state)
      slurm_counts_[{{"partition", std::string(key.first)}, {"state", std::string(key.second)}}] = count;
    slurm_counted_for_ = s.nodes;
  }
  slurm = slurm_counts_;
  for (auto p : {JobPhase::Running, JobPhase::Signalled, JobPhase::Swapping, JobPhase::Requeueing, JobPhase::WaitingPending, JobPhase::Held, JobPhase::Starting, JobPhase::Ending})
    jobs[{{"phase", to_string(p)}}] = 0;
  for (const auto& [id, r] : s.job_records)
    if (!is_terminal(r.phase)) jobs[{{"phase", to_string(r.phase)}}] += 1;
  for (const auto& [part, since] : s.oldest_pending_since)
    pending[{{"partition", part}}] = std::max(0.0, s.taken_at - static_cast<double>(since));
  std::map<Labels, double> goodput, lost;
  double productive = 0, elapsed = 0;
  for (const auto& [id, r] : s.job_records) {
    Goodput g = goodput_of(r, is_terminal(r.phase) ? r.phase_since : s.taken_at);
    productive += g.productive;
    elapsed += g.elapsed;
    if (is_terminal(r.phase) || r.first_start == 0) continue;
    goodput[{{"job", std::to_string(id)}}] = g.ratio;
    lost[{{"job", std::to_string(id)}}] = g.lost_work;
  }
  goodput_->Set(elapsed > 0 ? productive / elapsed : 1);
  job_goodput_.set(goodput);
  job_lost_work_.set(lost);
  node_phases_.set(nodes);
  job_phases_.set(jobs);
  slurm_nodes_.set(slurm);
  oldest_pending_.set(pending);
  std::map<Labels, double> out;
  for (const auto& [name, r] : s.node_records)
    if (r.phase != NodePhase::Healthy && s.node(name))
      out[{{"node", name}, {"phase", to_string(r.phase)}, {"cause", cause_label(r.cause)}}] = 1;
  nodes_out_.set(out);
  update_jobs(s.job_flow, s.role.active);
  breaker_open_->Set(s.breaker_open ? 1 : 0);
  active_->Set(s.role.active ? 1 : 0);
  lease_generation_->Set(static_cast<double>(s.role.lease.generation));
  slurmctld_up_->Set(s.slurm_reachable ? 1 : 0);
  last_poll_->Set(s.last_poll);
  if (s.last_poll != last_poll_seen_ && s.poll_seconds > 0) poll_duration_->Observe(s.poll_seconds);
  last_poll_seen_ = s.last_poll;
  // Cumulative in the snapshot; a counter only goes up, so it gets what was added since the last update.
  tick_cpu_->Increment(std::max(0.0, s.tick_cpu_seconds - tick_cpu_->Value()));
  sweep_cpu_->Increment(std::max(0.0, s.sweep_cpu_seconds - sweep_cpu_->Value()));
  job_sweeps_->Increment(std::max(0.0, static_cast<double>(s.sweeps) - job_sweeps_->Value()));
  node_table_cpu_->Increment(std::max(0.0, s.node_table_cpu_seconds - node_table_cpu_->Value()));
  node_tables_->Increment(std::max(0.0, static_cast<double>(s.node_tables) - node_tables_->Value()));
}

std::string Metrics::render() const {
  std::lock_guard lock(mutex_);
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

namespace {

// The user's name from the system's user database (as squeue shows it), else the uid as a number.
std::string user_name_of(uint32_t uid) {
  std::vector<char> buf(16384);
  passwd pw{}, *found = nullptr;
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found && found->pw_name) return found->pw_name;
  return std::to_string(uid);
}

}  // namespace

const std::string& Metrics::user_name(uint32_t uid) {
  auto it = user_names_.find(uid);
  if (it != user_names_.end()) return it->second;
  if (user_names_.size() > 100000) user_names_.clear();  // bounded however many uids come and go
  return user_names_[uid] = user_name_of(uid);
}

// The Slurm jobs metrics: gauges as the last sweep counted them; the totals since the start are cumulative in
// the snapshot, so counters and histograms get what was added since the last update.
// Counters and histograms only from the acting controller's totals (one source, carried across its changes of
// role); a standby's observer counts from its own start and shows only the gauges. What was seen is kept per
// label set as the highest total: a lower one (another source) adds nothing and does not lower it.
void Metrics::update_jobs(const std::shared_ptr<const JobFlowTotals>& totals, bool acting) {
  const JobFlowTotals& flow = *totals;
  auto labels = [&](const JobKey& k) {
    std::string state = to_string(std::get<0>(k));
    std::transform(state.begin(), state.end(), state.begin(), [](unsigned char c) { return std::tolower(c); });
    return Labels{{"state", state}, {"partition", std::get<1>(k)}, {"user", user_name(std::get<2>(k))}};
  };
  std::map<Labels, double> active;
  for (const auto& [k, n] : flow.active) active[labels(k)] += n;
  slurm_jobs_.set(active);
  if (!acting || totals == job_flow_seen_) return;
  job_flow_seen_ = totals;
  for (const auto& [k, n] : flow.ended) {
    uint64_t& seen = ended_seen_[k];
    if (n > seen) jobs_ended_->Add(labels(k)).Increment(static_cast<double>(n - seen)), seen = n;
  }
  const auto& bounds = JobFlow::wait_bounds();
  for (const auto& [part, w] : flow.queue_waits) {
    auto before = waits_seen_.find(part);
    const QueueWaits* b = before == waits_seen_.end() ? nullptr : &before->second;
    if (b && (w.count <= b->count || w.sum < b->sum)) continue;
    bool fewer = false;
    for (size_t i = 0; b && i < bounds.size(); ++i) fewer = fewer || w.buckets[i] < b->buckets[i];
    if (fewer) continue;
    // ObserveMultiple takes per-bucket (not cumulative) increments, the last for +Inf.
    std::vector<double> add(bounds.size() + 1, 0);
    uint64_t below = 0;
    for (size_t i = 0; i < bounds.size(); ++i) {
      uint64_t now = w.buckets[i] - (b ? b->buckets[i] : 0);
      add[i] = static_cast<double>(now - below);
      below = now;
    }
    add[bounds.size()] = static_cast<double>((w.count - (b ? b->count : 0)) - below);
    queue_wait_->Add({{"partition", part}}, bounds).ObserveMultiple(add, w.sum - (b ? b->sum : 0));
    waits_seen_[part] = w;
  }
}

std::string Metrics::cause_label(const std::string& cause) {
  if (cause.rfind("slurmd not responding", 0) == 0) return "not_responding";
  if (cause.rfind("admin Action:", 0) == 0) return "admin_action";
  if (cause.rfind("slurm: ", 0) == 0) return "slurm";
  if (cause.rfind("drain timed out", 0) == 0) return "drain_timeout";
  return "health_check";  // the agent's reasons: "gpu0: xid 79", "gpu1:temperature: ..."
}

void Metrics::on_event(const std::string& kind, const std::string&, const std::string& detail) {
  std::lock_guard lock(mutex_);
  if (kind == "job_resumed") resumes_->Add({}).Increment();
  else if (kind == "step_retried_in_place") {
    resumes_->Add({}).Increment();
    in_place_->Add({{"result", "retried"}}).Increment();
  } else if (kind == "in_place_fallback") in_place_->Add({{"result", "fallback"}}).Increment();
  else if (kind == "budget_exhausted" || kind == "not_resumed") give_ups_->Add({{"reason", kind}}).Increment();
  else if (kind == "node_failed") node_failures_->Add({{"cause", cause_label(detail)}}).Increment();
  else if (kind == "node_replaced") replacements_->Add({{"result", "success"}}).Increment();
  else if (kind == "replace_failed") replacements_->Add({{"result", "failure"}}).Increment();
  else if (kind == "node_validated") validations_->Add({{"result", "success"}}).Increment();
  else if (kind == "validation_failed") validations_->Add({{"result", "failure"}}).Increment();
  else if (kind == "node_quarantined") quarantines_->Add({}).Increment();
  else if (kind == "breaker_tripped") breaker_trips_->Add({}).Increment();
  else if (kind == "job_hung") hangs_->Increment();
}

void Metrics::on_job_phase_left(JobPhase phase, double seconds) {
  std::lock_guard lock(mutex_);
  job_phase_->Add({{"phase", to_string(phase)}}, kRecoveryBuckets).Observe(seconds);
}

void Metrics::on_job_recovered(double seconds) {
  std::lock_guard lock(mutex_);
  recovery_->Observe(seconds);
  recovery_seconds_->Increment(std::max(0.0, seconds));
}

void Metrics::on_lost_work(double seconds, uint64_t steps) {
  std::lock_guard lock(mutex_);
  lost_work_->Increment(std::max(0.0, seconds));
  redone_steps_->Increment(static_cast<double>(steps));
}

void Metrics::on_remediation(const std::string& action, const std::string& method, const std::string& outcome) {
  std::lock_guard lock(mutex_);
  remediation_->Add({{"action", action}, {"method", method}, {"outcome", outcome}}).Increment();
}

void Metrics::on_node_phase_left(NodePhase phase, double seconds) {
  std::lock_guard lock(mutex_);
  node_phase_->Add({{"phase", to_string(phase)}}, kRecoveryBuckets).Observe(seconds);
}

}  // namespace autoresume
