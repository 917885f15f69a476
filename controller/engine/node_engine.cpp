// SPDX-License-Identifier: GPL-2.0-or-later
// The engine half of node lifecycles: builds each node's observation, journals and sends the step that
// recovery/node_lifecycle.cpp decided, and keeps the record. Only nodes that failed (or are in a lifecycle) have
// a record; a healthy node costs one classify_node() per tick.
#include <cstdlib>
#include <filesystem>

#include "engine/controller.hpp"
#include "util/log.hpp"

namespace autoresume {
namespace {

constexpr const char* kReplaceFailuresKey = "replace_failures_in_a_row";

// The slurm.conf this daemon was pointed at, for the validation job's scontrol; "" for Slurm's default place.
std::string explicit_slurm_conf() {
  const char* conf = std::getenv("SLURM_CONF");
  return conf && *conf ? conf : "";
}

// After a crash between the submit and the journal, the job is found by what only the controller's own
// validation job has together: its name, root as its user, the controller's reservation, submitted after the
// journaled start. A user's job named autoresume-validate-NODE is none of these (it cannot run as root, nor in a
// reservation whose only user is root). The submit time is whole seconds from time(), which reads a coarse clock
// that can lag the journal's clock across a second boundary: 2 s of slack, not 1 (a unit test met that edge).
bool is_our_validation_job(const Job& j, const NodeRecord& r) {
  return r.validation_started != 0 && j.name == validation_job_name(r.name) && j.user_id == 0 &&
         j.reservation == validation_reservation_name(r.name) && static_cast<double>(j.submit_time) + 2 >= r.validation_started;
}

const Job* find_validation_job(const std::map<uint32_t, Job>& jobs, const NodeRecord& r) {
  if (r.validation_job != 0) {
    auto it = jobs.find(r.validation_job);
    return it == jobs.end() ? nullptr : &it->second;
  }
  for (const auto& [id, j] : jobs)
    if (is_our_validation_job(j, r)) return &j;
  return nullptr;
}

// The agent's GPU ladder names its rung in its reason; an admin's Action:* names theirs; else DefaultAction.
std::string action_for(const Node& n, const Config& config) {
  if (n.reason == kActionReboot) return "reboot";
  if (n.reason == kActionReplace) return "replace";
  if (auto rung = ladder_rung(n.reason)) return *rung;
  return config.default_action;
}

int rung_rank(const std::string& action) {
  if (action == "restart_app") return 0;
  if (action == "reset_gpu") return 1;
  if (action == "reboot") return 2;
  return 3;
}

bool built_in(const std::string& method) { return method == "reboot" || method == "power_cycle"; }

}  // namespace

const std::vector<Reservation>* Controller::reservations() {
  if (!reservations_) {
    auto loaded = slurm_.load_reservations();
    if (!loaded) {
      log(LogLevel::Warning, "reservations_unavailable", {{"error", loaded.error().message}});
      return nullptr;
    }
    reservations_ = std::move(loaded).value();
  }
  return &*reservations_;
}

// The nodes with a lifecycle, and the failed ones that start one; a healthy node that never failed costs nothing.
void Controller::handle_lifecycles() {
  reservations_.reset();
  std::set<std::string> names;
  for (const auto& [name, r] : node_records_) names.insert(name);
  for (const auto& [name, f] : failed_) names.insert(name);
  for (const auto& name : names) {
    const Node* n = nodes_->find(name);
    if (!n) continue;  // gone from Slurm's configuration
    auto it = node_records_.find(name);
    if (it == node_records_.end()) {
      NodeRecord fresh;
      fresh.name = name;
      fresh.phase_since = unix_now();
      it = node_records_.emplace(name, fresh).first;
    }
    step_node(it->second, *n);
  }
}

// Like jobs: steps that send nothing are followed at once by the next decision on the same snapshot.
void Controller::step_node(NodeRecord& r, const Node& n) {
  for (int i = 0; i < 4 && step_node_once(r, n); ++i) {
  }
}

NodeObservation Controller::observe_node(NodeRecord& r, const Node& n) {
  NodeObservation seen;
  seen.node = n;
  seen.has_jobs = n.base == NodeBase::Allocated || n.base == NodeBase::Mixed || n.completing;
  bool needs_reservations = r.phase == NodePhase::Validating || r.phase == NodePhase::Replacing || r.owns_reservation;
  if (needs_reservations) {
    const auto* resv = reservations();
    if (!resv) seen.reservation_exists = true;  // unknown: assume it is there (no duplicate create, no delete)
    else
      for (const auto& x : *resv) seen.reservation_exists |= x.name == validation_reservation_name(r.name);
  }
  if (r.phase == NodePhase::Validating) {
    if (const Job* j = find_validation_job(jobs_now_, r)) {
      seen.validation_job = *j;
      r.validation_job = j->id;  // found by name after a crash: remembered from now on
    }
  }
  if (r.phase == NodePhase::Replacing && r.program_pid > 0)
    seen.program = poll_site_program({r.program_pid, r.program_start_ticks});
  return seen;
}

bool Controller::step_node_once(NodeRecord& r, const Node& n) {
  NodeContext ctx{unix_now(), &config_, breaker_.open(), settings_ ? &*settings_ : nullptr};
  NodeRecord before = r;
  NodeObservation seen = observe_node(r, n);
  NodeDecision d = decide_node(r, seen, ctx);
  if (!node_transition_allowed(r.phase, d.phase)) {
    log(LogLevel::Error, "node_transition_refused", {{"node", r.name}, {"from", to_string(r.phase)}, {"to", to_string(d.phase)}});
    return false;
  }
  bool acted = d.action != NodeAction::None;
  if (acted && !run_node_action(d, r, n)) {
    if (r != before) store_.save_node(r);
    return false;  // the phase stays; decided again next tick
  }
  apply_node_decision(d, r, n, ctx.now);
  if (r != before) store_.save_node(r);
  return !acted && r.phase != before.phase;
}

Status Controller::run_node_action(const NodeDecision& d, NodeRecord& r, const Node& n) {
  const std::string& node = r.name;
  if (!d.method.empty() && r.method.empty() && observer_) observer_->on_remediation(r.action, d.method, "started");
  if (!d.method.empty()) r.method = d.method;
  switch (d.action) {
    case NodeAction::Drain:
      if (n.drain && n.reason == d.detail) return ok_status();
      return act("drain", node, d.detail, [&] { return slurm_.drain_node(node, d.detail); });
    case NodeAction::Down:
      return act("down", node, d.detail, [&] { return slurm_.down_node(node, d.detail); });
    case NodeAction::StartProgram: {
      const std::string command = r.method == "program" ? program_command(r, config_) : "";
      r.program_started = unix_now();
      r.program_pid = 0, r.program_start_ticks = 0;
      if (command.empty()) {
        const char* why = r.method == "gpu_reset" ? "the agent resets the GPU on the idle node and says how it went"
                        : r.method == "restart"   ? "an application fault: its jobs are requeued, the node is kept"
                                                  : "no program configured: waiting for its slurmd to come back";
        log(LogLevel::Info, "replace_waiting", {{"node", node}, {"method", r.method}, {"why", why}});
        return ok_status();
      }
      store_.save_node(r);  // the start time is on disk before the program runs
      std::error_code ec;
      std::filesystem::create_directories(config_.state_dir + "/programs", ec);
      std::string log_path = config_.state_dir + "/programs/" + node + ".log";
      return act(r.action, node, command, [&]() -> Status {
        // Its identity is on disk before it runs: a crash at any point leaves no program unwatched.
        auto started = start_site_program(command, node, log_path, [&](const ProgramId& id) {
          r.program_pid = id.pid, r.program_start_ticks = id.start_ticks;
          store_.save_node(r);
        });
        if (!started) return started.error();
        return ok_status();
      });
    }
    case NodeAction::Reboot: {
      r.program_started = unix_now();
      store_.save_node(r);  // journaled: a crash after the request waits for the boot, never reboots twice
      std::string reason = std::string(kReasonPrefix) + " reboot: " + r.cause;
      return act("reboot", node, "scontrol reboot ASAP nextstate=DOWN", [&] { return slurm_.reboot_node(node, reason); });
    }
    case NodeAction::PowerDown: {
      r.program_started = r.remedy_at = unix_now();
      r.remedy_stage = 1;
      store_.save_node(r);
      std::string reason = std::string(kReasonPrefix) + " power cycle: " + r.cause;
      return act("power_down", node, "POWER_DOWN_FORCE", [&] { return slurm_.power_down_node(node, reason); });
    }
    case NodeAction::PowerUp:
      if (r.program_started == 0) r.program_started = unix_now();
      r.remedy_at = unix_now();
      r.remedy_stage = 2;
      store_.save_node(r);
      return act("power_up", node, "POWER_UP", [&] { return slurm_.power_up_node(node); });
    case NodeAction::KillProgram:
      return act("kill_program", node, std::to_string(r.program_pid), [&] {
        kill_site_program({r.program_pid, r.program_start_ticks});
        return ok_status();
      });
    case NodeAction::Reserve:
      r.owns_reservation = true;  // journaled first: a crash after the create still knows the reservation is ours
      store_.save_node(r);
      return act("reserve", node, validation_reservation_name(node), [&] {
        return slurm_.create_maintenance_reservation(validation_reservation_name(node), node, config_.validation_timeout * 2);
      });
    case NodeAction::Resume:
      return act("resume", node, "inside " + validation_reservation_name(node), [&] { return slurm_.resume_node(node); });
    case NodeAction::SubmitValidation: {
      r.validation_started = unix_now();
      r.validation_job = 0;
      store_.save_node(r);  // a crash after the submit finds the job by name, submitted after this time
      ValidationJobSpec spec;
      spec.name = validation_job_name(node);
      spec.node = node;
      spec.partition = n.partitions.empty() ? "" : n.partitions.front();
      spec.reservation = validation_reservation_name(node);
      spec.gpus = n.gpu_count();  // all of them requested, and the program told how many (0: a node without GPUs)
      spec.script = validation_script(node, spec.gpus, config_.validation_program, explicit_slurm_conf());
      spec.time_limit_minutes = static_cast<uint32_t>((config_.validation_timeout.count() + 59) / 60);
      return act("validate", node, config_.validation_program, [&]() -> Status {
        auto id = slurm_.submit_validation_job(spec);
        if (!id) return id.error();
        r.validation_job = *id;
        return ok_status();
      });
    }
    case NodeAction::CancelValidation:
      return act("cancel_validation", node, std::to_string(r.validation_job), [&] { return slurm_.cancel_job(r.validation_job); });
    case NodeAction::Unreserve: {
      Status s = act("unreserve", node, validation_reservation_name(node),
                     [&] { return slurm_.delete_reservation(validation_reservation_name(node)); });
      if (s) r.owns_reservation = false;
      return s;
    }
    case NodeAction::None: break;
  }
  return ok_status();
}

void Controller::apply_node_decision(const NodeDecision& d, NodeRecord& r, const Node& n, double now) {
  if (d.count_failure) {
    if (r.phase == NodePhase::Healthy) {
      r.cause = d.why;
      std::string action = action_for(n, config_);
      // The ladder: a node that fails again within QuarantineWindow after a lifecycle whose action did not hold gets
      // the next rung (an admin's request is taken as asked).
      if (!d.admin_request && !r.action.empty() && failures_in_window(r, now, config_) > 0 &&
          rung_rank(action) <= rung_rank(r.action) && rung_rank(r.action) < 3) {
        std::string next = escalate(r.action);
        log(LogLevel::Info, "remediation_escalated", {{"node", r.name}, {"from", action}, {"to", next}, {"why", "failed again after " + r.action}});
        action = next;
      }
      r.action = action;
    }
    if (!d.admin_request) r.failures.push_back(now);
    r.manual = d.admin_request;  // else a failure now drives it, counted like any other
    std::erase_if(r.failures, [&](double at) { return now - at > static_cast<double>(config_.quarantine_window.count()); });
  }
  if (d.replace_failed && r.action != "replace" && !r.manual) {
    // Each rung once: a reboot or GPU reset that failed is followed by the next one.
    std::string next = escalate(r.action);
    log(LogLevel::Info, "remediation_escalated", {{"node", r.name}, {"from", r.action}, {"to", next}, {"why", d.why}});
    r.action = next;
  }
  if (d.replace_failed && (r.program_pid > 0 || built_in(r.method))) {
    int in_a_row = std::atoi(store_.meta(kReplaceFailuresKey).c_str()) + 1;
    store_.set_meta(kReplaceFailuresKey, std::to_string(in_a_row));
    if (in_a_row >= config_.breaker_replace_failures)
      breaker_.trip(std::to_string(in_a_row) + " replace programs failed in a row (BreakerReplaceFailures=" +
                    std::to_string(config_.breaker_replace_failures) + "), last on " + r.name);
  }
  if (d.replace_succeeded) store_.set_meta(kReplaceFailuresKey, "0");
  if ((d.replace_succeeded || d.replace_failed) && observer_ && !r.method.empty())
    observer_->on_remediation(r.action, r.method, d.replace_succeeded ? "succeeded" : "failed");
  if (d.validation_failed) {
    ++r.validation_failures;
    r.validation_job = 0;
    r.validation_started = 0;
  }
  if (d.report)
    if (Status kept = ValidationReports(validation_reports_dir(config_)).save(r.name, *d.report); !kept)
      log(LogLevel::Warning, "validation_report_not_kept", {{"node", r.name}, {"error", kept.error().message}});
  if (!d.event.empty()) {
    record_event(d.event, r.name, d.why);
    bool bad = d.event == "node_failed" || d.event == "node_quarantined" || d.event == "replace_failed" ||
               d.event == "validation_failed";
    log(bad ? LogLevel::Warning : LogLevel::Info, d.event, {{"node", r.name}, {"detail", d.why}, {"slurm_reason", n.reason}});
  }
  if (d.phase == r.phase) return;
  log(LogLevel::Info, "node_phase", {{"node", r.name}, {"from", to_string(r.phase)}, {"to", to_string(d.phase)}, {"why", d.why}});
  if (observer_ && r.phase != NodePhase::Healthy) observer_->on_node_phase_left(r.phase, now - r.phase_since);
  if (d.phase == NodePhase::Replacing) {
    r.program_started = 0, r.program_pid = 0, r.program_start_ticks = 0;
    r.method.clear(), r.remedy_stage = 0, r.remedy_at = 0;
  }
  if (d.phase == NodePhase::Validating) r.validation_failures = 0, r.validation_job = 0, r.validation_started = 0;
  if (d.phase == NodePhase::Healthy) {
    if (r.phase == NodePhase::Quarantined) r.failures.clear();  // an admin released it: its history is forgiven
    r.manual = false;
    r.validation_failures = 0, r.validation_job = 0, r.validation_started = 0, r.program_pid = 0, r.program_started = 0;
    r.program_start_ticks = 0;
  }
  r.phase = d.phase;
  r.phase_since = now;
}

}  // namespace autoresume
