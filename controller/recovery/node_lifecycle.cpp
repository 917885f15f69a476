// SPDX-License-Identifier: GPL-2.0-or-later
#include "recovery/node_lifecycle.hpp"

#include <array>
#include <utility>

#include "recovery/node_failure.hpp"

namespace autoresume {
namespace {

using P = NodePhase;

constexpr std::array<std::pair<P, P>, 19> kTransitions = {{
    // An admin's command (autoresumectl replace|reboot|validate NODE).
    {P::Quarantined, P::Failed},
    {P::Healthy, P::Validating},
    {P::Quarantined, P::Validating},
    {P::Healthy, P::Failed},
    {P::Failed, P::Draining},
    {P::Failed, P::Quarantined},
    {P::Failed, P::Healthy},  // an admin took the node over
    {P::Draining, P::Replacing},
    {P::Draining, P::Healthy},
    {P::Replacing, P::Validating},
    {P::Replacing, P::Failed},  // the program failed or timed out: one more failure
    {P::Replacing, P::Healthy},
    {P::Validating, P::Healthy},  // passed (or taken over by an admin)
    {P::Validating, P::Quarantined},
    {P::Validating, P::Failed},  // failed again while being validated (its slurmd died)
    {P::Quarantined, P::Healthy},  // an admin resumed it
    {P::Draining, P::Quarantined},
    {P::Replacing, P::Quarantined},
    {P::Healthy, P::Quarantined},
}};

NodeDecision stay(const NodeRecord& r) {
  NodeDecision d;
  d.phase = r.phase;
  return d;
}

NodeDecision go(P phase, NodeAction action = NodeAction::None, std::string why = "", std::string event = "") {
  NodeDecision d;
  d.phase = phase;
  d.action = action;
  d.why = std::move(why);
  d.event = std::move(event);
  return d;
}

// Slurm's times are whole seconds from slurmctld's clock (time(), a coarse clock that may lag the fine one by a
// tick); `since` is ours, with a fraction. A Slurm time counts as "at or after" ours within that rounding and a
// second of skew: an event a full two seconds older is an earlier one.
bool at_or_after(std::time_t slurm_time, double since) { return static_cast<double>(slurm_time) + 2 >= since; }

std::string ours(const std::string& what) { return std::string(kReasonPrefix) + " " + what; }

// A slurmd that registered after the program started and answers: the replacement (or the rebooted node).
bool fresh_slurmd(const Node& n, const NodeRecord& r) {
  return !n.not_responding && n.base != NodeBase::Unknown && at_or_after(n.slurmd_start_time, r.program_started);
}

std::string quarantine_reason(const NodeRecord& r) { return ours("quarantined: " + r.cause); }

NodeDecision quarantine(const std::string& why) {
  return go(P::Quarantined, NodeAction::Drain, why, "node_quarantined");
}

NodeDecision decide_healthy(const NodeRecord& r, const Node& n) {
  auto f = classify_node(n);
  if (!f) return stay(r);
  NodeDecision d = go(P::Failed, NodeAction::None, f->cause, "node_failed");
  d.count_failure = true;
  // An admin's request is a command like `autoresumectl replace`: no settle delay, not counted by the breaker
  // (a person replacing many nodes at once is no storm) or against QuarantineAfter.
  d.admin_request = f->source == FailureSource::AdminAction;
  return d;
}

NodeDecision decide_failed(const NodeRecord& r, const Node& n, const NodeContext& ctx) {
  // An admin's command is not a failure: it replaces even a node quarantined for its past.
  if (!r.manual && failures_in_window(r, ctx.now, *ctx.config) >= ctx.config->quarantine_after) {
    NodeDecision d = quarantine(std::to_string(failures_in_window(r, ctx.now, *ctx.config)) + " failures within QuarantineWindow");
    d.detail = quarantine_reason(r);
    return d;
  }
  // A DOWN node is drained too: ReturnToService=1 would otherwise put it back in service, unvalidated, the
  // moment a slurmd registers under its name. Our reasons, the agent's and an admin's Action:* stay as they are.
  auto f = classify_node(n);
  if (f && !needs_drain(n, *f)) return go(P::Draining, NodeAction::None, "drained");
  NodeDecision d = go(P::Draining, NodeAction::Drain, "drain: " + r.cause);
  d.detail = f ? drain_reason(*f) : ours(r.cause);  // no failure seen: an admin's command
  if (f && f->source == FailureSource::AdminAction) {
    d.why = "took over " + n.reason + ": drained with " + d.detail;
    d.event = "admin_request_taken";
  }
  return d;
}

NodeDecision decide_draining(const NodeRecord& r, const Node& n, const NodeObservation& seen, const NodeContext& ctx) {
  if (n.down() || n.not_responding || !seen.has_jobs) return go(P::Replacing, NodeAction::None, "no jobs left on it");
  if (ctx.now - r.phase_since < static_cast<double>(ctx.config->drain_timeout.count())) return stay(r);
  NodeDecision d = go(P::Replacing, NodeAction::Down, "jobs still there after DrainTimeout", "drain_timeout");
  d.detail = ours("drain timed out: " + r.cause);
  return d;
}

NodeDecision replace_failed(const std::string& why) {
  NodeDecision d = go(P::Failed, NodeAction::None, why, "replace_failed");
  d.count_failure = true;
  d.replace_failed = true;
  return d;
}

}  // namespace

const std::string& program_command(const NodeRecord& r, const Config& config) {
  return r.action == "reboot" && !config.reboot_program.empty() ? config.reboot_program : config.replace_program;
}

namespace {

// How long Slurm itself takes to give its verdict on a reboot or a power-up (its `field` timeout), and a margin for
// that verdict to reach us: past it, the action failed even if Slurm said nothing.
double slurm_deadline(const NodeContext& ctx, uint32_t SlurmSettings::*field, uint32_t fallback) {
  uint32_t t = ctx.slurm ? ctx.slurm->*field : fallback;
  return static_cast<double>(t) + 30 + 2 * static_cast<double>(ctx.config->poll_interval.count()) / 1000;
}

bool has(const std::string& s, const char* what) { return s.find(what) != std::string::npos; }

// Slurm's own verdict on a reboot or power-up of ours, given after `since`: it appends ": reboot timed out" to the
// reboot's reason, and replaces the reason with "ResumeTimeout reached". Our own reasons quote earlier verdicts
// ("autoresume: reboot: Slurm: reboot timed out ..."): only Slurm's form, and only a new one, counts.
bool slurm_verdict(const Node& n, const std::string& verdict, double since) {
  bool fresh = n.reason_time == 0 || at_or_after(n.reason_time, since);
  bool ends = n.reason.size() >= verdict.size() && n.reason.compare(n.reason.size() - verdict.size(), verdict.size(), verdict) == 0;
  return fresh && (n.reason == verdict || (ends && n.reason.rfind(kReasonPrefix, 0) == 0 && has(n.reason, " : " )));
}

NodeDecision replaced(const std::string& why) {
  NodeDecision d = go(P::Validating, NodeAction::None, why, "node_replaced");
  d.replace_succeeded = true;
  return d;
}

// The first step of the method: the program (or, for none and the agent's rungs, the start of the wait), Slurm's
// reboot, or the power cycle (our reservation first: POWER_DOWN_FORCE clears DRAIN).
NodeDecision start_method(Method m, const NodeRecord& r, const Node& n, const NodeObservation& seen) {
  NodeDecision d;
  switch (m) {
    case Method::Reboot: d = go(P::Replacing, NodeAction::Reboot, "Slurm's reboot"); break;
    case Method::PowerCycle:
      if (!seen.reservation_exists) d = go(P::Replacing, NodeAction::Reserve, "maintenance reservation before the power cycle");
      else if (n.powered_down && !n.powering_down) d = go(P::Replacing, NodeAction::PowerUp, "already powered down: power up");
      else d = go(P::Replacing, NodeAction::PowerDown, "power cycle: power down");
      break;
    default: d = go(P::Replacing, NodeAction::StartProgram, r.action); break;
  }
  d.method = to_string(m);
  return d;
}

NodeDecision decide_program(const NodeRecord& r, const Node& n, const NodeObservation& seen, const NodeContext& ctx) {
  bool timed_out = ctx.now - r.program_started > static_cast<double>(ctx.config->replace_timeout.count());
  ProgramState state = seen.program ? seen.program->state : ProgramState::Gone;
  if (state == ProgramState::Failed)
    return replace_failed(r.action + " program exited " + std::to_string(seen.program->exit_code));
  if (state == ProgramState::Running) {
    if (!timed_out) return stay(r);
    NodeDecision d = replace_failed(r.action + " program still running after ReplaceTimeout");
    d.action = NodeAction::KillProgram;
    return d;
  }
  if (fresh_slurmd(n, r)) return replaced("fresh slurmd registered");
  if (timed_out) return replace_failed("no fresh slurmd registered within ReplaceTimeout");
  return stay(r);
}

// Slurm's reboot is done when the node registered with a boot after the request and the REBOOT flags are gone;
// Slurm sets it DOWN "reboot timed out" after ResumeTimeout.
NodeDecision decide_reboot(const NodeRecord& r, const Node& n, const NodeContext& ctx) {
  bool booted = at_or_after(n.boot_time, r.program_started) && !n.reboot_requested &&
                !n.reboot_issued && !n.not_responding && n.base != NodeBase::Unknown;
  if (booted) return replaced("rebooted by Slurm (boot time " + std::to_string(n.boot_time) + ")");
  if (slurm_verdict(n, "reboot timed out", r.program_started)) return replace_failed("Slurm gave up on the reboot (ResumeTimeout)");
  if (ctx.now - r.program_started > slurm_deadline(ctx, &SlurmSettings::resume_timeout, 60))
    return replace_failed("not rebooted within ResumeTimeout");
  return stay(r);
}

NodeDecision decide_power_cycle(const NodeRecord& r, const Node& n, const NodeObservation& seen, const NodeContext& ctx) {
  if (r.remedy_stage <= 1) {
    if (n.powered_down && !n.powering_down) {
      NodeDecision d = go(P::Replacing, NodeAction::PowerUp, "powered down: power up");
      return d;
    }
    if (!seen.reservation_exists) return go(P::Replacing, NodeAction::Reserve, "maintenance reservation lost: again");
    if (ctx.now - r.remedy_at > slurm_deadline(ctx, &SlurmSettings::suspend_timeout, 30))
      return replace_failed("not powered down within SuspendTimeout");
    return stay(r);
  }
  if (slurm_verdict(n, "ResumeTimeout reached", r.remedy_at))
    return replace_failed("Slurm gave up on the power-up (ResumeTimeout): the node did not come back");
  bool up = !n.powered_down && !n.powering_up && !n.not_responding && n.base != NodeBase::Unknown &&
            at_or_after(n.slurmd_start_time, r.remedy_at);
  if (up) return replaced("powered up: a fresh slurmd registered");
  if (ctx.now - r.remedy_at > slurm_deadline(ctx, &SlurmSettings::resume_timeout, 60))
    return replace_failed("not powered up within ResumeTimeout");
  return stay(r);
}

NodeDecision decide_gpu_reset(const NodeRecord& r, const Node& n, const NodeContext& ctx) {
  if (has(n.reason, kResetDone)) return replaced("GPU reset by the agent");
  if (has(n.reason, kResetFailed)) return replace_failed("the agent's GPU reset failed: " + n.reason);
  if (ctx.now - r.program_started > static_cast<double>(ctx.config->replace_timeout.count()))
    return replace_failed("no GPU reset reported by the agent within ReplaceTimeout");
  return stay(r);
}

NodeDecision decide_replacing(const NodeRecord& r, const Node& n, const NodeObservation& seen, const NodeContext& ctx) {
  if (ctx.breaker_open) return stay(r);
  auto recorded = parse_method(r.method);
  Method m = recorded && *recorded != Method::Auto ? *recorded : resolve_method(r.action, r.name, *ctx.config, ctx.slurm);
  // Slurm's reboot is carried out by the node's own slurmd (it runs RebootProgram there): `auto` does not pick it
  // for a node whose slurmd is not answering, which would only time out; it waits for the slurmd instead.
  bool chosen_by_auto = (r.action == "reboot" ? ctx.config->reboot_method : ctx.config->replace_method).for_node(r.name) == Method::Auto;
  if (!recorded && m == Method::Reboot && chosen_by_auto && n.not_responding) m = Method::None;
  // Started at, but no identity recorded: the controller stopped between the two, and the program, which waits
  // for its identity to be recorded, never ran. It is started again.
  bool never_ran = m == Method::Program && r.program_started != 0 && r.program_pid == 0 && !program_command(r, *ctx.config).empty();
  if (r.program_started == 0 || never_ran) {
    double failed_at = r.failures.empty() ? r.phase_since : r.failures.back();
    bool settling = !r.manual && ctx.now - failed_at < static_cast<double>(ctx.config->breaker_settle.count());
    if (settling || m == Method::Auto) return stay(r);  // Auto: slurm.conf not read yet (slurmctld busy)
    return start_method(m, r, n, seen);
  }
  switch (m) {
    case Method::Reboot: return decide_reboot(r, n, ctx);
    case Method::PowerCycle: return decide_power_cycle(r, n, seen, ctx);
    case Method::GpuReset: return decide_gpu_reset(r, n, ctx);
    case Method::Restart: return replaced("an application fault (" + r.cause + "): the node is kept");
    default: return decide_program(r, n, seen, ctx);
  }
}

NodeDecision validation_failed(const NodeRecord& r, const NodeContext& ctx, NodeAction action, const std::string& why) {
  bool last = r.validation_failures + 1 >= ctx.config->validation_attempts;
  NodeDecision d = go(last ? P::Quarantined : P::Validating, action, why, last ? "node_quarantined" : "validation_failed");
  d.validation_failed = true;
  d.detail = last ? ours("quarantined: validation failed: " + why) : ours("validation failed: " + why);
  return d;
}

NodeDecision decide_validating(const NodeRecord& r, const Node& n, const NodeObservation& seen, const NodeContext& ctx) {
  if (ctx.breaker_open) return stay(r);
  if (ctx.config->validation_program.empty()) {
    if (r.owns_reservation && seen.reservation_exists) return go(P::Validating, NodeAction::Unreserve, "no ValidationProgram");
    if (n.out_of_service()) return go(P::Validating, NodeAction::Resume, "no ValidationProgram: returned as registered");
    return go(P::Healthy, NodeAction::None, "returned to service (no ValidationProgram)", "node_returned");
  }
  if (!seen.reservation_exists) return go(P::Validating, NodeAction::Reserve, "maintenance reservation");
  const auto& job = seen.validation_job;
  if (!job) {
    if (n.out_of_service()) return go(P::Validating, NodeAction::Resume, "resume inside the reservation");
    return go(P::Validating, NodeAction::SubmitValidation, "validation job");
  }
  if (job->active()) {
    bool timed_out = ctx.now - r.validation_started > static_cast<double>(ctx.config->validation_timeout.count());
    if (!timed_out) return stay(r);
    // Cancelled first; the next tick sees it ended and fails the attempt like any other failed validation.
    return go(P::Validating, NodeAction::CancelValidation, "validation job did not finish within ValidationTimeout",
              "validation_timeout");
  }
  int code = static_cast<int>(job->exit_code >> 8);
  auto report = parse_validation_comment(job->id, job->admin_comment);
  if (report) report->at = ctx.now;
  std::string said = report ? verdict_lines(*report) : "no output reported";
  if (job->state == JobState::Completed && code == 0) {
    NodeDecision d = go(P::Healthy, NodeAction::Unreserve, "validation job " + std::to_string(job->id) + " passed; " + said,
                        "node_validated");
    d.report = std::move(report);
    return d;
  }
  std::string why = "validation job " + std::to_string(job->id) + " " + to_string(job->state) + ", exit " + std::to_string(code);
  NodeDecision d = validation_failed(r, ctx, NodeAction::Drain, why);  // the drain reason without the output
  d.why += "; " + said;
  d.report = std::move(report);
  return d;
}

NodeDecision decide_quarantined(const NodeRecord& r, const Node& n, const NodeObservation& seen) {
  if (r.owns_reservation && seen.reservation_exists) return go(P::Quarantined, NodeAction::Unreserve, "quarantined");
  if (!n.out_of_service()) return go(P::Healthy, NodeAction::None, "resumed by an admin", "node_released");
  return stay(r);
}

}  // namespace

const char* to_string(NodeAction a) {
  switch (a) {
    case NodeAction::None: return "none";
    case NodeAction::Drain: return "drain";
    case NodeAction::Down: return "down";
    case NodeAction::StartProgram: return "start_program";
    case NodeAction::KillProgram: return "kill_program";
    case NodeAction::Reboot: return "reboot";
    case NodeAction::PowerDown: return "power_down";
    case NodeAction::PowerUp: return "power_up";
    case NodeAction::Reserve: return "reserve";
    case NodeAction::Resume: return "resume";
    case NodeAction::SubmitValidation: return "submit_validation";
    case NodeAction::CancelValidation: return "cancel_validation";
    case NodeAction::Unreserve: return "unreserve";
  }
  return "unknown";
}

std::string validation_reservation_name(const std::string& node) { return "autoresume-" + node; }
std::string validation_job_name(const std::string& node) { return "autoresume-validate-" + node; }

int failures_in_window(const NodeRecord& r, double now, const Config& config) {
  int n = 0;
  for (double at : r.failures)
    if (now - at <= static_cast<double>(config.quarantine_window.count())) ++n;
  return n;
}

NodeDecision decide_node(const NodeRecord& r, const NodeObservation& seen, const NodeContext& ctx) {
  if (!seen.node) return stay(r);
  const Node& n = *seen.node;
  if (r.phase != P::Healthy && is_admin_owned(n)) {
    // What is ours goes first, the replace program and the reservation; the phase changes on the tick after,
    // when nothing of ours is left (a program left running would be unwatched, then a zombie).
    if (r.phase == P::Replacing && seen.program && seen.program->state == ProgramState::Running)
      return go(r.phase, NodeAction::KillProgram, "an admin took the node over");
    if (r.owns_reservation && seen.reservation_exists) return go(r.phase, NodeAction::Unreserve, "an admin took the node over");
    return go(P::Healthy, NodeAction::None, "drained by an admin: \"" + n.reason + "\"; left to them", "node_admin_override");
  }
  switch (r.phase) {
    case P::Healthy: return decide_healthy(r, n);
    case P::Failed: return decide_failed(r, n, ctx);
    case P::Draining: return decide_draining(r, n, seen, ctx);
    case P::Replacing: return decide_replacing(r, n, seen, ctx);
    case P::Validating: return decide_validating(r, n, seen, ctx);
    case P::Quarantined: return decide_quarantined(r, n, seen);
  }
  return stay(r);
}

bool node_transition_allowed(NodePhase from, NodePhase to) {
  if (from == to) return true;
  for (const auto& [f, t] : kTransitions)
    if (f == from && t == to) return true;
  return false;
}

}  // namespace autoresume
