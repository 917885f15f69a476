// SPDX-License-Identifier: GPL-2.0-or-later
#include "engine/controller.hpp"

#include <algorithm>
#include <ctime>

#include "autoresume/intent.hpp"
#include "util/log.hpp"

namespace autoresume {
namespace {

constexpr double kProbeEvery = 5.0;  // seconds between two probes of one suspect slurmd
// The job-table sweep may take this share of the loop's time: its interval is its last cost divided by this
// (100,000 jobs, ~0.4 s a sweep: one a minute; 1,000 jobs, ~4 ms: about every second; fewer: every tick), never
// longer than kSweepAtMost. slurmctld packs that table under its job lock, so the same bound holds for what the
// sweep costs it. Recovery never waits for it: a node newly in trouble sweeps at once.
constexpr double kSweepShare = 0.005;
constexpr double kSweepAtMost = 60.0;
// A table this small is swept at every tick whatever a loaded machine makes one sweep cost (~6 ms of CPU for
// 1,000 jobs): a small cluster, and every integration test, sees each job from the tick it starts.
constexpr size_t kSweepEveryTickUpTo = 1000;
inline constexpr std::string_view kGaveUpKey = "autoresume_gaveup=";

std::string id(uint32_t job_id) { return std::to_string(job_id); }

// CPU seconds this thread has used (the loop's own cost, without the API's threads).
double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

// Job ids start again when slurmctld loses its state, and wrap at MaxJobId. A restart count never goes down for
// one job, and its user never changes; a requeue gives it a new submit time (a new accounting record) but also a
// higher restart count, so the submit time is compared only while the count is still the one recorded at 0.
bool same_job(const JobRecord& r, const Job& j) {
  if (j.restart_count < r.restart_seen) return false;
  if (r.submit_time == 0) return true;  // a record from an older version: the restart count is all it has
  if (j.user_id != r.user_id) return false;
  if (j.restart_count > r.restart_seen || r.restart_seen > 0) return true;
  return j.submit_time == r.submit_time;
}

}  // namespace

Controller::Controller(SlurmClient& slurm, Store& store, const Config& config)
    : slurm_(slurm), store_(store), config_(config), breaker_(store, config) {}

void Controller::recover() {
  for (const auto& a : store_.actions("intended")) {
    store_.finish_action(a.id, false, "interrupted by a controller restart; outcome read back from Slurm");
    log(LogLevel::Warning, "action_interrupted", {{"action", a.kind}, {"target", a.target}, {"journal_id", std::to_string(a.id)}});
  }
  load_state();
  log(LogLevel::Info, "state_loaded", {{"jobs", std::to_string(records_.size())}});
}

void Controller::load_state() {
  records_ = store_.load_jobs();
  node_records_ = store_.load_nodes();
  breaker_.load();
  breaker_was_open_ = breaker_.open();
  auto open = store_.nodes_with_open_failures();
  open_failures_ = std::set<std::string>(open.begin(), open.end());
}

void Controller::observe_standby() {
  double started = unix_now();
  load_state();  // what the active one journaled
  if (!observe()) return;
  last_poll_ = started;
  last_tick_seconds_ = unix_now() - started;
  if (cluster_.empty())
    if (auto name = slurm_.cluster_name()) cluster_ = *name;
}

void Controller::carry_counters(const Controller& from) {
  tick_cpu_ = from.tick_cpu_, sweep_cpu_ = from.sweep_cpu_, node_table_cpu_ = from.node_table_cpu_;
  ticks_ = from.ticks_, sweeps_ = from.sweeps_, node_tables_ = from.node_tables_;
  cluster_ = from.cluster_;
  job_flow_ = from.job_flow_, job_flow_totals_ = from.job_flow_totals_;
}

std::chrono::milliseconds Controller::next_delay() const {
  auto delay = config_.poll_interval;
  for (int i = 0; i < failed_polls_ && delay < std::chrono::seconds(30); ++i) delay *= 2;
  return std::min<std::chrono::milliseconds>(delay, std::chrono::seconds(30));
}

void Controller::record_event(const std::string& kind, const std::string& subject, const std::string& detail) {
  store_.add_event(kind, subject, detail);
  if (observer_) observer_->on_event(kind, subject, detail);
}

void Controller::report_breaker() {
  if (observer_ && breaker_.open() && !breaker_was_open_) observer_->on_event("breaker_tripped", "cluster", breaker_.reason());
  breaker_was_open_ = breaker_.open();
}

std::shared_ptr<const ControllerSnapshot> Controller::snapshot() const {
  auto s = std::make_shared<ControllerSnapshot>();
  s->taken_at = unix_now();
  s->last_poll = last_poll_;
  s->poll_seconds = last_tick_seconds_;
  s->slurm_reachable = reachable_;
  s->cluster = cluster_;
  s->breaker_open = breaker_.open();
  s->breaker_reason = breaker_.reason();
  s->nodes = nodes_;
  s->jobs.reserve(jobs_now_.size());
  for (const auto& [id, j] : jobs_now_) s->jobs.push_back(j);
  s->oldest_pending_since = oldest_pending_since_;
  s->job_flow = job_flow_totals_;
  s->last_sweep = last_sweep_;
  bool every_tick = jobs_in_slurm_ <= kSweepEveryTickUpTo ||
                    sweep_interval_ < static_cast<double>(config_.poll_interval.count()) / 2000.0;
  s->sweep_interval = every_tick ? 0 : sweep_interval_;
  s->jobs_in_slurm = jobs_in_slurm_;
  s->tick_cpu_seconds = tick_cpu_;
  s->ticks = ticks_;
  s->sweeps = sweeps_;
  s->sweep_cpu_seconds = sweep_cpu_;
  s->node_tables = node_tables_;
  s->node_table_cpu_seconds = node_table_cpu_;
  s->job_records = records_;
  s->node_records = node_records_;
  s->progress = progress_now_;
  s->role = role_;
  return s;
}

void Controller::tick() {
  double started = unix_now();
  struct Timer {
    Controller& c;
    double started;
    double cpu = thread_cpu_seconds();
    ~Timer() {
      c.last_tick_seconds_ = unix_now() - started;
      c.tick_cpu_ += thread_cpu_seconds() - cpu;
      ++c.ticks_;
    }
  } timer{*this, started};
  if (!observe()) return;
  last_poll_ = started;
  if (cluster_.empty())
    if (auto name = slurm_.cluster_name()) cluster_ = *name;
  prune_history(started);
  handle_nodes();
  double now = unix_now();
  auto silent = silent_agents(now);
  std::map<std::string, bool> failing;
  for (const auto& node : silent) failing[node] = true;  // a storm of silent agents must open the breaker too
  auto note_failing = [&](const std::string& name) {
    auto rec = node_records_.find(name);
    auto f = classified_.find(name);
    // An admin's replace (autoresumectl, or an Action:Replace/Reboot request not yet taken over) is not a failure.
    bool by_command = (rec != node_records_.end() && rec->second.manual) ||
                      (f != classified_.end() && f->second.source == FailureSource::AdminAction);
    if (!by_command) failing[name] = true;
  };
  for (const auto& [name, f] : failed_) note_failing(name);
  // A node only not responding counts once it stayed so for BreakerSettle: right after a slurmctld restart or
  // failover every node is NOT_RESPONDING until its slurmd registers again, which is no storm.
  std::erase_if(suspect_since_, [&](const auto& e) { return !suspects_.count(e.first); });
  for (const auto& name : suspects_) {
    double since = suspect_since_.emplace(name, now).first->second;
    if (now - since >= static_cast<double>(config_.breaker_settle.count())) note_failing(name);
  }
  bool open = breaker_.update(failing, nodes_->size(), unix_now());
  // Jobs before lifecycles: a validation job lost in a crash is found by name in the sweep. Any node in trouble
  // counts here, an admin's Action:Replace included: its jobs are requeued too.
  std::set<std::string> trouble(silent.begin(), silent.end());
  for (const auto& [name, f] : failed_) trouble.insert(name);
  trouble.insert(suspects_.begin(), suspects_.end());
  if (!sweep_if_due(trouble, now)) return;
  read_settings(now);   // before the lifecycles: the remediation method of a node that failed at start needs it
  handle_lifecycles();  // with the breaker open: failures recorded and drained, nothing replaced or validated
  report_breaker();
  if (open || breaker_.open()) return;  // jobs still adopted by the sweep; acted on once an admin resets it
  probe_suspects();
  probe_silent(silent, now);
  handle_jobs();
}

// What every tick reads: the node table (a tiny answer while unchanged) and each job it watches, by id.
bool Controller::observe() {
  swept_now_ = false;
  double cpu = thread_cpu_seconds();
  auto nodes = slurm_.load_nodes();
  bool new_table = nodes && *nodes != nodes_;
  double node_table_cpu = thread_cpu_seconds() - cpu;
  Status failed = nodes ? ok_status() : Status(nodes.error());
  std::map<uint32_t, Job> jobs;
  if (failed)
    for (uint32_t id : jobs_to_load()) {
      auto job = slurm_.load_job(id);
      if (!job) {
        failed = job.error();
        break;
      }
      if (*job) jobs.emplace(id, std::move(**job));
    }
  if (!failed) return unreachable(failed.error());
  if (!reachable_) log(LogLevel::Info, "slurmctld_reachable", {{"after_failed_polls", std::to_string(failed_polls_)}});
  reachable_ = true;
  failed_polls_ = 0;
  nodes_ = std::move(nodes).value();
  jobs_now_ = std::move(jobs);
  cpu = thread_cpu_seconds();
  classify_nodes();
  if (new_table) {
    ++node_tables_;
    node_table_cpu_ += node_table_cpu + thread_cpu_seconds() - cpu;
  }
  return true;
}

// slurmctld did not answer a read: counted (the poll backs off), logged once, nothing decided this tick.
bool Controller::unreachable(const Error& e) {
  ++failed_polls_;
  if (reachable_) log(LogLevel::Error, "slurmctld_unreachable", {{"error", e.message}, {"action", "no decisions until it answers"}});
  reachable_ = false;
  return false;
}

// Watched jobs still in recovery or running, and the validation jobs the controller submitted. A finished
// record is not read again: the sweep tells when Slurm has forgotten its job.
std::vector<uint32_t> Controller::jobs_to_load() const {
  std::vector<uint32_t> ids;
  for (const auto& [id, r] : records_)
    if (!is_terminal(r.phase)) ids.push_back(id);
  for (const auto& [name, r] : node_records_)
    if (r.validation_job != 0) ids.push_back(r.validation_job);
  for (const auto& [id, r] : records_)
    if (r.phase == JobPhase::Swapping && r.swap_job != 0) ids.push_back(r.swap_job);
  return ids;
}

void Controller::classify_nodes() {
  if (classified_for_ == nodes_) return;
  classified_for_ = nodes_;
  classified_.clear();
  suspects_.clear();
  for (const Node& n : *nodes_) {
    if (auto f = classify_node(n)) classified_.emplace(n.name, *f);
    else if (is_suspect(n)) suspects_.insert(n.name);
  }
}

bool Controller::sweep_if_due(const std::set<std::string>& trouble, double now) {
  bool new_trouble = std::any_of(trouble.begin(), trouble.end(), [&](const auto& n) { return !troubled_.count(n); });
  bool lost_validation = false;  // submitted, but the crash came before its id was journaled
  for (const auto& [name, r] : node_records_)
    lost_validation |= r.phase == NodePhase::Validating && r.validation_job == 0 && r.validation_started != 0;
  for (const auto& [id, r] : records_)  // an expansion allocation likewise
    lost_validation |= r.phase == JobPhase::Swapping && r.swap_stage == SwapStage::Expanding && r.swap_job == 0;
  // A sweep whose interval would be under half a poll interval (a few ms), or of a small table, runs at every tick.
  bool cheap = jobs_in_slurm_ <= kSweepEveryTickUpTo ||
               sweep_interval_ < static_cast<double>(config_.poll_interval.count()) / 2000.0;
  bool due = last_sweep_ == 0 || cheap || new_trouble || lost_validation || now - last_sweep_ >= sweep_interval_;
  if (!due) {
    troubled_ = trouble;
    return true;
  }
  JobSweepFilter filter;
  filter.admin_comment_contains = std::string(kIntentKey);
  filter.name_prefix = "autoresume-";  // validation jobs and expansion allocations (their own checks follow)
  // From 2 s before the first sweep: Slurm stamps starts and ends with slurmctld's time(), whose coarse clock can
  // be a second behind ours right after a second boundary (a job starting as we begin would be missed).
  if (job_flow_.since() == 0) job_flow_.begin(static_cast<std::time_t>(now) - 2);
  filter.transitions_since = job_flow_.since();
  double started = unix_now(), cpu = thread_cpu_seconds();
  auto swept = slurm_.sweep_jobs(filter);
  if (!swept) return unreachable(swept.error());
  double cost = unix_now() - started;
  sweep_cpu_ += thread_cpu_seconds() - cpu;
  ++sweeps_;
  troubled_ = trouble;  // only once swept: a failed sweep is tried again at the next tick
  last_sweep_ = now;
  sweep_interval_ = std::min(kSweepAtMost, cost / kSweepShare);
  swept_now_ = true;
  jobs_in_slurm_ = swept->total;
  oldest_pending_since_ = std::move(swept->oldest_pending_since);
  job_flow_.add(*swept);
  job_flow_totals_ = std::make_shared<const JobFlowTotals>(job_flow_.totals());
  for (const Job& j : swept->jobs) jobs_now_[j.id] = j;
  if (new_trouble) log(LogLevel::Debug, "job_sweep", {{"why", "a node newly failing"}, {"seconds", std::to_string(cost)}});
  adopt_new_jobs(swept->jobs);
  return true;
}

Status Controller::act(const std::string& kind, const std::string& target, const std::string& detail,
                       const std::function<Status()>& call) {
  std::string key = kind + " " + target;
  auto failing = failing_actions_.find(key);
  bool retry = failing != failing_actions_.end() && failing->second.detail == detail;
  int64_t row = retry ? failing->second.row : store_.begin_action(kind, target, detail);
  if (retry) store_.retry_action(row);
  Status s = call();
  if (s.ok() && after_action) after_action(kind);
  store_.finish_action(row, s.ok(), s.ok() ? "" : s.error().message);
  if (s.ok()) {
    log(LogLevel::Info, "action", {{"action", kind}, {"target", target}, {"detail", detail}});
    failing_actions_.erase(key);
    return s;
  }
  if (!retry || failing->second.error != s.error().message)
    log(LogLevel::Error, "action_failed", {{"action", kind}, {"target", target}, {"error", s.error().message},
                                           {"journal_id", std::to_string(row)}});
  failing_actions_[key] = {row, detail, s.error().message};
  return s;
}

// Hourly: history older than HistoryRetention goes (the store would otherwise grow without bound).
void Controller::prune_history(double now) {
  if (config_.history_retention.count() == 0 || now - last_prune_ < 3600) return;
  last_prune_ = now;
  PruneCounts n = store_.prune(now - static_cast<double>(config_.history_retention.count()));
  if (n.total() > 0)
    log(LogLevel::Info, "history_pruned", {{"events", std::to_string(n.events)}, {"actions", std::to_string(n.actions)},
                                           {"node_failures", std::to_string(n.node_failures)},
                                           {"jobs", std::to_string(n.jobs)}});
}

void Controller::handle_nodes() {
  for (auto it = open_failures_.begin(); it != open_failures_.end();) {
    if (classified_.count(*it)) {
      ++it;
      continue;
    }
    store_.clear_node_failure(*it);
    it = open_failures_.erase(it);
  }
  // The history of failures (events and logs come from the node's lifecycle, engine/node_engine.cpp).
  for (const auto& [name, f] : classified_)
    if (open_failures_.insert(name).second) store_.record_node_failure(name, f.cause, nodes_->find(name)->reason);
  failed_ = classified_;
  for (auto it = dead_suspects_.begin(); it != dead_suspects_.end();) {
    if (!suspects_.count(*it)) {
      it = dead_suspects_.erase(it);  // Slurm's verdict (DOWN) or back alive: the node table says
      continue;
    }
    failed_.emplace(*it, NodeFailure{FailureSource::Slurm, "slurmd not responding (probe refused)", false});
    ++it;
  }
  if (!dead_silent_.empty()) {
    std::map<std::string, double> beats = heartbeats_ ? heartbeats_->last() : std::map<std::string, double>{};
    double now = unix_now();
    std::erase_if(dead_silent_, [&](const std::string& name) {
      const Node* n = nodes_->find(name);
      auto beat = beats.find(name);
      // Slurm's verdict (DOWN), or the agent beats again
      return !n || n->down() || (beat != beats.end() && now - beat->second <= silent_after());
    });
  }
  for (const auto& name : dead_silent_)
    failed_.emplace(name, NodeFailure{FailureSource::AutoResume, kSilentDeadCause, false});
}

// The job's own healthy nodes that the node table still shows COMPLETING once the job itself no longer is: the
// table is read before the job in a tick, so a node freed in between is still completing there. They are free
// for this job in a moment: counted, so that a job with enough nodes is not held for the length of a tick.
int Controller::own_nodes_finishing(const JobRecord& r, const Job& job) const {
  if (job.completing || job.state != JobState::Pending) return 0;
  int n = 0;
  for (const auto& name : r.nodes) {
    const Node* node = nodes_->find(name);
    if (!node || !node->completing || node->unavailable() || failed_.count(name)) continue;
    auto rec = node_records_.find(name);
    if (rec != node_records_.end() && rec->second.phase != NodePhase::Healthy) continue;
    if (std::find(node->partitions.begin(), node->partitions.end(), job.partition) != node->partitions.end()) ++n;
  }
  return n;
}

bool Controller::in_place_job_on(const std::string& name) const {
  return std::any_of(jobs_now_.begin(), jobs_now_.end(), [&](const auto& entry) {
    const Job& j = entry.second;
    auto r = records_.find(j.id);
    if (j.state != JobState::Running || r == records_.end() || !retried_in_place(r->second)) return false;
    return std::find(j.nodes.begin(), j.nodes.end(), name) != j.nodes.end();
  });
}

// Slurm marks a dead node DOWN only after SlurmdTimeout; a node it already flags NOT_RESPONDING, under an
// auto-resume job, gets one cheap probe, and if nothing listens it is set DOWN now, so that Slurm requeues its
// jobs at once. Unless a job retried in place runs there: DOWN would make Slurm requeue that whole job, so the
// node is only failed for the controller (the swap takes it out of the job) and set DOWN once that job left it.
void Controller::probe_suspects() {
  double now = unix_now();
  auto runs_on = [&](const std::string& name, bool in_place_only) {
    if (in_place_only) return in_place_job_on(name);
    // A job that failed by itself is watched for its nodes' failure (Ending): as good as running there.
    if (std::any_of(records_.begin(), records_.end(), [&](const auto& entry) {
          const JobRecord& r = entry.second;
          return r.phase == JobPhase::Ending && std::find(r.nodes.begin(), r.nodes.end(), name) != r.nodes.end();
        }))
      return true;
    return std::any_of(jobs_now_.begin(), jobs_now_.end(), [&](const auto& entry) {
      const Job& j = entry.second;
      return j.state == JobState::Running && records_.count(j.id) &&
             std::find(j.nodes.begin(), j.nodes.end(), name) != j.nodes.end();
    });
  };
  std::string reason = std::string(kReasonPrefix) + " slurmd not responding (probe refused)";
  for (const std::string& name : suspects_) {
    if (dead_suspects_.count(name)) {
      if (!runs_on(name, true)) act("down", name, reason, [&] { return slurm_.down_node(name, reason); });
      continue;
    }
    if (failed_.count(name)) continue;
    if (!runs_on(name, false) || now - last_probe_[name] < kProbeEvery) continue;
    last_probe_[name] = now;
    auto answers = slurm_.slurmd_answers(name);
    if (!answers || *answers) continue;
    if (runs_on(name, true)) {
      dead_suspects_.insert(name);
      failed_.emplace(name, NodeFailure{FailureSource::Slurm, "slurmd not responding (probe refused)", false});
      log(LogLevel::Info, "node_dead", {{"node", name}, {"why", "probe refused; a job retried in place runs there: not set DOWN yet"}});
      continue;
    }
    act("down", name, reason, [&] { return slurm_.down_node(name, reason); });
  }
}

// What slurm.conf allows is read from slurmctld at the first tick and then once a minute (an admin may add
// permit_job_expansion, power saving or a RebootProgram and reconfigure); while it is unknown or lacking, steps that
// asked are recovered as whole jobs, and ReplaceMethod=auto means the site programs or nothing.
void Controller::read_settings(double now) {
  if (settings_read_ != 0 && now - settings_read_ < 60) return;
  auto settings = slurm_.load_settings();
  if (!settings) return;
  settings_read_ = now;
  settings_ = *settings;
  auto missing = settings->in_place_missing();
  std::string why;
  for (const auto& m : missing) why += (why.empty() ? "" : "; ") + m;
  in_place_unavailable_ = why;
}

bool Controller::retried_in_place(const JobRecord& r) const {
  return r.in_place && config_.in_place_retry && in_place_unavailable_.empty() && !is_terminal(r.phase);
}

// Counted again only when the node table or a node's lifecycle changed (a pass over every node).
const std::map<std::string, int>& Controller::free_nodes_by_partition() {
  std::set<std::string> not_healthy;  // a node being validated is idle, but not capacity yet
  for (const auto& [name, r] : node_records_)
    if (r.phase != NodePhase::Healthy) not_healthy.insert(name);
  if (free_nodes_.table == nodes_ && free_nodes_.not_healthy == not_healthy) return free_nodes_.by_partition;
  std::map<std::string, int> free;
  for (const Node& n : *nodes_) {
    if (n.unavailable() || n.base != NodeBase::Idle || n.completing || failed_.count(n.name)) continue;
    if (not_healthy.count(n.name)) continue;
    for (const auto& p : n.partitions) ++free[p];
  }
  free_nodes_ = {nodes_, std::move(not_healthy), std::move(free)};
  return free_nodes_.by_partition;
}

void Controller::adopt_new_jobs(const std::vector<Job>& swept) {
  for (const Job& j : swept) {
    auto known = records_.find(j.id);
    if (known != records_.end() && same_job(known->second, j)) continue;
    // A job that started and failed between two sweeps is adopted too while its FailedExitWindow lasts: a node
    // of it dying may be what ended it (recovery/job_recovery.cpp, Ending).
    bool failed_lately = j.state == JobState::Failed && config_.failed_exit_window.count() > 0 &&
                         static_cast<double>(j.end_time) + static_cast<double>(config_.failed_exit_window.count()) > unix_now();
    if (!j.active() && !failed_lately) continue;
    // Our own validation job's AdminComment carries a node's output (recovery/validation_report.hpp): never an intent.
    if (j.user_id == 0 && j.name.starts_with(validation_job_name(""))) continue;
    auto intent = parse_intent(j.admin_comment);
    if (!intent) continue;
    // A job whose record is history (an exhausted job left held) is known again, not adopted with a new budget.
    if (known == records_.end())
      if (auto old = store_.find_job(j.id); old && same_job(*old, j)) {
        records_[j.id] = *old;
        continue;
      }
    JobRecord r;
    r.job_id = j.id;
    r.user_id = j.user_id;
    r.submit_time = j.submit_time;
    r.max_attempts = std::min(intent->max_attempts, config_.max_attempts);
    r.in_place = intent->in_place;
    r.hang_timeout = intent->hang_timeout ? static_cast<int64_t>(*intent->hang_timeout) : -1;
    if (intent->max_attempts > config_.max_attempts)
      log(LogLevel::Warning, "budget_capped", {{"job", id(j.id)}, {"asked", std::to_string(intent->max_attempts)},
                                                {"max_attempts", std::to_string(config_.max_attempts)}});
    r.restart_seen = j.restart_count;
    r.nodes = j.nodes;
    r.phase_since = unix_now();
    records_[j.id] = r;
    store_.save_job(r);
    record_event("job_watched", id(j.id), "max_attempts=" + std::to_string(r.max_attempts) + (r.in_place ? " in_place" : ""));
    log(LogLevel::Info, "job_watched", {{"job", id(j.id)}, {"max_attempts", std::to_string(r.max_attempts)}});
  }
}

void Controller::handle_jobs() {
  std::optional<std::map<std::string, int>> free_nodes;  // counted if a job's decision needs it
  for (auto rec = records_.begin(); rec != records_.end();) {
    auto& [job_id, record] = *rec;
    auto it = jobs_now_.find(job_id);
    // A finished record is kept while Slurm still knows the job (an exhausted, held job must not be adopted
    // again as a new one), and dropped from memory once a sweep shows Slurm has purged it; the store keeps
    // the history.
    if (is_terminal(record.phase)) {
      forget_progress(job_id);
      rec = swept_now_ && it == jobs_now_.end() ? records_.erase(rec) : std::next(rec);
      continue;
    }
    ++rec;
    bool known = it != jobs_now_.end() && same_job(record, it->second);
    step_job(record, known ? std::optional<Job>(it->second) : std::nullopt, free_nodes);
  }
}

// Steps that send nothing to Slurm (a requeue observed, ...) are followed at once by the next decision on the
// same snapshot; a step that acts ends the job's turn: its effect is read back on the next tick.
void Controller::step_job(JobRecord& r, const std::optional<Job>& job, std::optional<std::map<std::string, int>>& free_nodes) {
  for (int i = 0; i < 4 && step_job_once(r, job, free_nodes); ++i) {
  }
}

bool Controller::step_job_once(JobRecord& r, const std::optional<Job>& job, std::optional<std::map<std::string, int>>& free_nodes) {
  JobContext ctx{&failed_, false, unix_now(), &config_, in_place_unavailable_};
  if (job && r.phase != JobPhase::Running) {  // capacity matters to a job in recovery only
    if (!free_nodes) free_nodes = free_nodes_by_partition();
    int need = static_cast<int>(std::max<uint32_t>(job->num_nodes, 1));
    ctx.has_capacity = (*free_nodes)[job->partition] + own_nodes_finishing(r, *job) >= need;
  }
  JobRecord before = r;
  if (job) observe_progress(r, *job);
  if (job && r.phase == JobPhase::Running && job->state == JobState::Running)
    ctx.hung_for = hang_of(r, *job, ctx.now, ctx.hang_timeout);
  bool swap_acted = false;
  JobDecision d = r.phase == JobPhase::Swapping ? swap_step(r, job, swap_acted) : decide(r, job, ctx);
  if (!transition_allowed(r.phase, d.phase)) {
    log(LogLevel::Error, "transition_refused", {{"job", id(r.job_id)}, {"from", to_string(r.phase)}, {"to", to_string(d.phase)}});
    return false;
  }
  bool acted = swap_acted;
  if (job && job->state == JobState::Running && r.phase != JobPhase::Swapping) r.nodes = job->nodes;
  if (job) r.submit_time = r.submit_time == 0 ? 0 : job->submit_time;  // renewed by a requeue
  if (job && !job->held) r.held_by_us = false;  // released, by us or by anyone
  if (!d.failed_node.empty() || d.hang) {
    r.failed_node = d.failed_node;  // none for a hang
    r.failure_at = d.failure_at > 0 ? d.failure_at : ctx.now;
    r.hangs += d.hang ? 1 : 0;
    account_failure(r, r.failure_at);
  }
  if (d.action != JobAction::None && job) {
    Status s = run_action(d.action, r, *job);
    acted = true;
    if (!s) {
      // Slurm's refusal of a requeue (not a batch job, requeue disabled) is final; anything else is retried.
      bool refused = s.error().refusal && (d.action == JobAction::Requeue || d.action == JobAction::RequeueHold);
      if (!refused) return false;
      d = JobDecision{};
      d.phase = JobPhase::NotResumed;
      d.why = "Slurm refused the requeue: " + s.error().message;
      d.event = "not_resumed";
    }
    if (d.action == JobAction::StartNow && free_nodes)
      (*free_nodes)[job->partition] -= static_cast<int>(std::max<uint32_t>(job->num_nodes, 1));
    if (d.action == JobAction::Signal) r.signal_at = ctx.now;
  }
  if (d.acknowledge_restart && job) r.restart_seen = job->restart_count;
  if (d.count_attempt) ++r.attempts;
  if (d.phase != r.phase) {
    log(LogLevel::Info, "job_phase", {{"job", id(r.job_id)}, {"from", to_string(r.phase)}, {"to", to_string(d.phase)},
                                      {"attempt", std::to_string(r.attempts)}, {"why", d.why}});
    if (observer_ && r.phase != JobPhase::Running) observer_->on_job_phase_left(r.phase, ctx.now - r.phase_since);
    r.phase = d.phase;
    r.phase_since = ctx.now;
    r.overdue_reported = false;
  }
  if (d.event == "pending_timeout") r.overdue_reported = true;
  if (!d.event.empty()) {
    std::string detail = d.why;
    if (d.event == "job_resumed") {
      char secs[32];
      std::snprintf(secs, sizeof secs, "%.1f", ctx.now - r.failure_at);
      detail = "attempt " + std::to_string(r.attempts) + " of " + std::to_string(r.max_attempts) +
               ", running again " + secs + " s after " +
               (r.failed_node.empty() ? std::string("its hang") : "the failure of " + r.failed_node);
    }
    if (d.event == "job_resumed" || d.event == "step_retried_in_place") {
      r.recovery += std::max(0.0, ctx.now - r.failure_at);
      if (observer_) observer_->on_job_recovered(ctx.now - r.failure_at);
    }
    record_event(d.event, id(r.job_id), detail);
    log(d.event == "job_resumed" ? LogLevel::Info : LogLevel::Warning, d.event, {{"job", id(r.job_id)}, {"detail", detail}});
    if (d.event == "budget_exhausted" && job) record_exhausted(r, *job);
  }
  if (r != before) store_.save_job(r);
  return !acted && r.phase != before.phase && !is_terminal(r.phase);
}

Status Controller::run_action(JobAction action, JobRecord& r, const Job& job) {
  std::string target = id(r.job_id);
  // A requeue starts the next attempt; a release or start belongs to the attempt already counted.
  auto attempt = [&](unsigned n) { return "attempt " + std::to_string(n) + " of " + std::to_string(r.max_attempts); };
  switch (action) {
    case JobAction::Signal:
      return act("signal", target, "signal " + std::to_string(config_.signal_before_requeue) + " before requeue",
                 [&] { return slurm_.signal_job(r.job_id, config_.signal_before_requeue); });
    case JobAction::Requeue:
      // Sent only while Slurm's restart count is still the one recorded: once it moves, the requeue happened.
      if (job.restart_count > r.restart_seen) return ok_status();
      return act("requeue", target, attempt(r.attempts + 1), [&] { return slurm_.requeue_job(r.job_id, false); });
    case JobAction::RequeueHold:
      if (job.restart_count > r.restart_seen) return ok_status();
      return act("requeue_hold", target, "budget spent", [&] { return slurm_.requeue_job(r.job_id, true); });
    case JobAction::Hold:
      r.held_by_us = true;  // journaled first: a crash after the hold still knows it is ours to release
      store_.save_job(r);
      return act("hold", target, "no healthy capacity, or budget spent", [&] { return slurm_.hold_job(r.job_id); });
    case JobAction::StartNow:
      if (job.held && r.held_by_us) {  // a hold its user or an admin placed is theirs to release
        Status s = act("release", target, attempt(r.attempts), [&] { return slurm_.release_job(r.job_id); });
        if (!s) return s;
        r.held_by_us = false;
      }
      return act("start_now", target, attempt(r.attempts) + ": StartTime=now, skipping the requeue BeginTime",
                 [&] { return slurm_.start_job_now(r.job_id); });
    case JobAction::None: break;
  }
  return ok_status();
}

// Left held, with the reason where users and admins look: the job's AdminComment (scontrol show job).
void Controller::record_exhausted(const JobRecord& r, const Job& job) {
  std::string token = std::string(kGaveUpKey) + "budget_" + std::to_string(r.attempts) + "/" + std::to_string(r.max_attempts);
  std::string comment = merge_token(job.admin_comment, kGaveUpKey, token);
  if (comment == job.admin_comment) return;
  act("admin_comment", id(r.job_id), token, [&] { return slurm_.set_admin_comment(r.job_id, comment); });
}

}  // namespace autoresume
