#include "engine/controller.hpp"

#include <algorithm>

#include "autoresume/intent.hpp"
#include "util/log.hpp"

namespace autoresume {
namespace {

constexpr double kProbeEvery = 5.0;  // seconds between two probes of one suspect slurmd
inline constexpr std::string_view kGaveUpKey = "autoresume_gaveup=";

std::string id(uint32_t job_id) { return std::to_string(job_id); }

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
  records_ = store_.load_jobs();
  node_records_ = store_.load_nodes();
  breaker_was_open_ = store_.meta("breaker_open") == "1";
  auto open = store_.nodes_with_open_failures();
  open_failures_ = std::set<std::string>(open.begin(), open.end());
  log(LogLevel::Info, "state_loaded", {{"jobs", std::to_string(records_.size())}});
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
  s->jobs = jobs_now_;
  s->job_records = records_;
  s->node_records = node_records_;
  return s;
}

void Controller::tick() {
  double started = unix_now();
  struct Timer {
    double started;
    double& out;
    ~Timer() { out = unix_now() - started; }
  } timer{started, last_tick_seconds_};
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
  for (const Node& n : nodes_) {
    auto rec = node_records_.find(n.name);
    // An admin's replace (autoresumectl, or an Action:Replace/Reboot request not yet taken over) is not a failure.
    auto f = classify_node(n);
    bool by_command = (rec != node_records_.end() && rec->second.manual) || (f && f->source == FailureSource::AdminAction);
    if (!by_command && (failed_.count(n.name) || is_suspect(n))) failing[n.name] = true;
  }
  bool open = breaker_.update(failing, nodes_.size(), unix_now());
  handle_lifecycles();  // with the breaker open: failures recorded and drained, nothing replaced or validated
  report_breaker();
  if (open || breaker_.open()) {
    adopt_new_jobs();  // keep watching; act on nothing until an admin resets the breaker
    return;
  }
  probe_suspects();
  probe_silent(silent, now);
  handle_jobs();
}

bool Controller::observe() {
  auto nodes = slurm_.load_nodes();
  auto jobs = nodes ? slurm_.load_jobs() : Result<std::vector<Job>>(nodes.error());
  if (!nodes || !jobs) {
    ++failed_polls_;
    if (reachable_)
      log(LogLevel::Error, "slurmctld_unreachable",
          {{"error", (nodes ? jobs.error() : nodes.error()).message}, {"action", "no decisions until it answers"}});
    reachable_ = false;
    return false;
  }
  if (!reachable_) log(LogLevel::Info, "slurmctld_reachable", {{"after_failed_polls", std::to_string(failed_polls_)}});
  reachable_ = true;
  failed_polls_ = 0;
  nodes_ = std::move(nodes).value();
  jobs_now_ = std::move(jobs).value();
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
  std::map<std::string, NodeFailure> failed;
  for (const Node& n : nodes_) {
    auto f = classify_node(n);
    if (!f) {
      if (open_failures_.erase(n.name)) store_.clear_node_failure(n.name);
      continue;
    }
    // The history of failures (events and logs come from the node's lifecycle, engine/node_engine.cpp).
    if (open_failures_.insert(n.name).second) store_.record_node_failure(n.name, f->cause, n.reason);
    failed.emplace(n.name, *f);
  }
  failed_ = std::move(failed);
}

// Slurm marks a dead node DOWN only after SlurmdTimeout; a node it already flags NOT_RESPONDING, under an
// auto-resume job, gets one cheap probe, and if nothing listens it is set DOWN now, so that Slurm requeues its
// jobs at once.
void Controller::probe_suspects() {
  double now = unix_now();
  for (const Node& n : nodes_) {
    if (!is_suspect(n) || failed_.count(n.name)) continue;
    bool carries_watched_job = std::any_of(jobs_now_.begin(), jobs_now_.end(), [&](const Job& j) {
      return j.state == JobState::Running && records_.count(j.id) &&
             std::find(j.nodes.begin(), j.nodes.end(), n.name) != j.nodes.end();
    });
    if (!carries_watched_job || now - last_probe_[n.name] < kProbeEvery) continue;
    last_probe_[n.name] = now;
    auto answers = slurm_.slurmd_answers(n.name);
    if (!answers || *answers) continue;
    std::string reason = std::string(kReasonPrefix) + " slurmd not responding (probe refused)";
    act("down", n.name, reason, [&] { return slurm_.down_node(n.name, reason); });
  }
}

std::map<std::string, int> Controller::free_nodes_by_partition() const {
  std::map<std::string, int> free;
  for (const Node& n : nodes_) {
    if (n.unavailable() || n.base != NodeBase::Idle || n.completing || failed_.count(n.name)) continue;
    auto lifecycle = node_records_.find(n.name);  // a node being validated is idle, but not capacity yet
    if (lifecycle != node_records_.end() && lifecycle->second.phase != NodePhase::Healthy) continue;
    for (const auto& p : n.partitions) ++free[p];
  }
  return free;
}

void Controller::adopt_new_jobs() {
  for (const Job& j : jobs_now_) {
    auto known = records_.find(j.id);
    if (known != records_.end() && same_job(known->second, j)) continue;
    if (!j.active()) continue;
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
    if (intent->max_attempts > config_.max_attempts)
      log(LogLevel::Warning, "budget_capped", {{"job", id(j.id)}, {"asked", std::to_string(intent->max_attempts)},
                                                {"max_attempts", std::to_string(config_.max_attempts)}});
    r.restart_seen = j.restart_count;
    r.nodes = j.nodes;
    r.phase_since = unix_now();
    records_[j.id] = r;
    store_.save_job(r);
    record_event("job_watched", id(j.id), "max_attempts=" + std::to_string(r.max_attempts));
    log(LogLevel::Info, "job_watched", {{"job", id(j.id)}, {"max_attempts", std::to_string(r.max_attempts)}});
  }
}

void Controller::handle_jobs() {
  adopt_new_jobs();
  std::map<uint32_t, const Job*> by_id;
  for (const Job& j : jobs_now_) by_id[j.id] = &j;
  auto free_nodes = free_nodes_by_partition();
  for (auto rec = records_.begin(); rec != records_.end();) {
    auto& [job_id, record] = *rec;
    auto it = by_id.find(job_id);
    // A finished record is kept while Slurm still knows the job (an exhausted, held job must not be adopted
    // again as a new one), and dropped from memory once Slurm has purged it; the store keeps the history.
    if (is_terminal(record.phase)) {
      rec = it == by_id.end() ? records_.erase(rec) : std::next(rec);
      continue;
    }
    ++rec;
    bool known = it != by_id.end() && same_job(record, *it->second);
    step_job(record, known ? std::optional<Job>(*it->second) : std::nullopt, free_nodes);
  }
}

// Steps that send nothing to Slurm (a requeue observed, ...) are followed at once by the next decision on the
// same snapshot; a step that acts ends the job's turn: its effect is read back on the next tick.
void Controller::step_job(JobRecord& r, const std::optional<Job>& job, std::map<std::string, int>& free_nodes) {
  for (int i = 0; i < 4 && step_job_once(r, job, free_nodes); ++i) {
  }
}

bool Controller::step_job_once(JobRecord& r, const std::optional<Job>& job, std::map<std::string, int>& free_nodes) {
  JobContext ctx{&failed_, false, unix_now(), &config_};
  if (job) {
    int need = static_cast<int>(std::max<uint32_t>(job->num_nodes, 1));
    ctx.has_capacity = free_nodes[job->partition] >= need;
  }
  JobDecision d = decide(r, job, ctx);
  JobRecord before = r;
  if (!transition_allowed(r.phase, d.phase)) {
    log(LogLevel::Error, "transition_refused", {{"job", id(r.job_id)}, {"from", to_string(r.phase)}, {"to", to_string(d.phase)}});
    return false;
  }
  bool acted = false;
  if (job && job->state == JobState::Running) r.nodes = job->nodes;
  if (job) r.submit_time = r.submit_time == 0 ? 0 : job->submit_time;  // renewed by a requeue
  if (job && !job->held) r.held_by_us = false;  // released, by us or by anyone
  if (!d.failed_node.empty()) {
    r.failed_node = d.failed_node;
    r.failure_at = ctx.now;
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
    if (d.action == JobAction::StartNow) free_nodes[job->partition] -= static_cast<int>(std::max<uint32_t>(job->num_nodes, 1));
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
               ", running again " + secs + " s after the failure of " + r.failed_node;
    }
    if (d.event == "job_resumed" && observer_) observer_->on_job_recovered(ctx.now - r.failure_at);
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
