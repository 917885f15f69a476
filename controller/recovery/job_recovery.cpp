// SPDX-License-Identifier: GPL-2.0-or-later
#include "recovery/job_recovery.hpp"

#include <sys/wait.h>

#include <cmath>
#include <cstdio>

#include <utility>

namespace autoresume {
namespace {

using P = JobPhase;

// From -> to. A phase may always stay where it is.
constexpr std::pair<JobPhase, JobPhase> kTransitions[] = {
    {P::Running, P::Signalled},       // failed node under it, alive: checkpoint signal first
    {P::Running, P::Requeueing},      // failed node under it, alive: requeue now
    {P::Running, P::WaitingPending},  // Slurm requeued it after its node died
    {P::Running, P::Exhausted},       // a failure with the budget spent
    {P::Running, P::Finished},        // ended by itself
    {P::Running, P::NotResumed},      // Slurm refused the requeue (not a batch job, requeue disabled)
    {P::Running, P::Swapping},        // a failed node under a step that asked for auto-resume: in place
    {P::Running, P::Ending},          // failed by itself (non-zero exit): its nodes are watched
    {P::Ending, P::Requeueing},       // one of its nodes failed within FailedExitWindow: that node's failure
    {P::Ending, P::Exhausted},        // ... with the budget spent
    {P::Ending, P::WaitingPending},   // requeued by Slurm or someone else meanwhile
    {P::Ending, P::Running},          // requeued by someone else, and running
    {P::Ending, P::Finished},         // no node of it failed within the window
    {P::Swapping, P::Running},        // the allocation is whole again; the step's srun runs it again
    {P::Swapping, P::Requeueing},     // in place impossible (no expansion, no node in time, Slurm refused)
    {P::Swapping, P::WaitingPending}, // Slurm requeued the job first (its node went DOWN before the swap)
    {P::Swapping, P::Finished},       // it ended during the swap
    {P::Signalled, P::Requeueing},    // grace over, or it exited (non-zero, not the no-resume code)
    {P::Signalled, P::WaitingPending},
    {P::Signalled, P::NotResumed},    // it exited with the no-resume code
    {P::Signalled, P::Finished},      // it completed successfully during the grace period
    {P::Requeueing, P::WaitingPending},
    {P::Requeueing, P::NotResumed},   // Slurm refused: not a batch job, not requeue-able
    {P::Requeueing, P::Finished},
    {P::WaitingPending, P::Starting},
    {P::WaitingPending, P::Held},
    {P::WaitingPending, P::Running},  // it started by itself
    {P::WaitingPending, P::Finished},
    {P::Held, P::Starting},
    {P::Held, P::Finished},
    {P::Starting, P::Running},
    {P::Starting, P::Finished},
};

bool ended(const Job& j) { return !j.active(); }

int exit_status(const Job& j) { return WIFEXITED(j.exit_code) ? WEXITSTATUS(j.exit_code) : 128 + WTERMSIG(j.exit_code); }

// Ended with a failure of its own: FAILED with a non-zero exit other than the no-resume code, and a window to
// watch its nodes in. Cancelled, timed out, out of memory, preempted and deadline jobs ended for other reasons.
bool failed_by_itself(const Job& j, const JobContext& ctx) {
  if (j.state != JobState::Failed || ctx.config->failed_exit_window.count() == 0) return false;
  int status = exit_status(j);
  return status != 0 && !(ctx.config->no_resume_exit_code != 0 && status == ctx.config->no_resume_exit_code);
}

std::string first_failed(const std::vector<std::string>& nodes, const JobContext& ctx) {
  for (const auto& n : nodes)
    if (ctx.failed_nodes->count(n)) return n;
  return "";
}

JobDecision go(JobPhase to, JobAction action, std::string why) {
  JobDecision d;
  d.phase = to;
  d.action = action;
  d.why = std::move(why);
  return d;
}

JobDecision stay(const JobRecord& r) { return go(r.phase, JobAction::None, ""); }

JobDecision counted(JobPhase to, std::string why) {
  JobDecision d = go(to, JobAction::None, std::move(why));
  d.count_attempt = d.acknowledge_restart = true;
  return d;
}

JobDecision exhausted(const JobRecord& r, JobAction action) {
  JobDecision d = go(P::Exhausted, action,
                     "budget spent: " + std::to_string(r.attempts) + " of " + std::to_string(r.max_attempts) + " resumes used");
  d.event = "budget_exhausted";
  d.acknowledge_restart = true;
  return d;
}

JobDecision gone() { return go(P::Finished, JobAction::None, "no longer known to Slurm"); }

bool requeued_since(const JobRecord& r, const Job& j) { return j.restart_count > r.restart_seen; }

// Slurm requeued it (its node went DOWN) or someone did: an infrastructure failure if one of the nodes it ran on
// has failed; otherwise (scontrol requeue, preemption) not ours to count.
// A step asked to be retried in place, but this cluster cannot: the whole job is recovered, and the event says why.
void not_in_place(const JobRecord& r, const JobContext& ctx, JobDecision& d) {
  if (!r.in_place || !ctx.config->in_place_retry || ctx.in_place_unavailable.empty() || !d.event.empty()) return;
  d.event = "in_place_fallback";
  d.why = "in-place retry impossible: " + ctx.in_place_unavailable + "; " + d.why;
}

JobDecision after_requeue_by_others(const JobRecord& r, const JobContext& ctx) {
  std::string node = first_failed(r.nodes, ctx);
  if (node.empty()) {
    JobDecision d = stay(r);
    d.why = "requeued by someone else, not after a node failure";
    d.acknowledge_restart = true;
    return d;
  }
  JobDecision d = r.attempts >= r.max_attempts ? exhausted(r, JobAction::Hold)
                                               : counted(P::WaitingPending, "requeued by Slurm after node failure");
  d.failed_node = node;
  not_in_place(r, ctx, d);
  return d;
}

// No progress on any rank past its hang timeout, on nodes that passed the health check (a failed node is handled
// as a node failure first): requeued as a hang, the checkpoint signal first if configured; it counts against the
// budget like a node failure.
JobDecision hung(const JobRecord& r, const JobContext& ctx) {
  char why[160];
  std::snprintf(why, sizeof why, "hung: no progress for %.0f s (hang timeout %.0f s), its nodes healthy", ctx.hung_for,
                ctx.hang_timeout);
  JobDecision d = r.attempts >= r.max_attempts ? exhausted(r, JobAction::RequeueHold)
                  : ctx.config->signal_before_requeue != 0
                      ? go(P::Signalled, JobAction::Signal, std::string(why) + ": checkpoint signal, then requeue")
                      : go(P::Requeueing, JobAction::Requeue, why);
  if (d.event.empty()) d.event = "job_hung";
  else d.why = std::string(why) + "; " + d.why;
  d.hang = true;
  return d;
}

JobDecision running(const JobRecord& r, const Job& j, const JobContext& ctx) {
  if (requeued_since(r, j)) return after_requeue_by_others(r, ctx);
  if (ended(j)) {
    bool lost_node = j.state == JobState::NodeFail && !first_failed(r.nodes, ctx).empty();
    if (!lost_node && failed_by_itself(j, ctx))
      return go(P::Ending, JobAction::None, "failed (exit " + std::to_string(exit_status(j)) + "): its nodes watched for " +
                                                std::to_string(ctx.config->failed_exit_window.count()) + " s");
    if (!lost_node) return go(P::Finished, JobAction::None, std::string("ended ") + to_string(j.state));
    JobDecision d = r.attempts >= r.max_attempts ? exhausted(r, JobAction::None)
                                                 : go(P::Requeueing, JobAction::Requeue, "ended NODE_FAIL without requeue");
    d.failed_node = first_failed(r.nodes, ctx);
    return d;
  }
  if (j.state == JobState::Pending) return stay(r);
  std::string node = first_failed(j.nodes, ctx);
  if (node.empty()) return ctx.hung_for > 0 && j.state == JobState::Running ? hung(r, ctx) : stay(r);
  // A step asked (`srun --auto-resume=1`): the node is swapped inside the job, dead or alive, before Slurm
  // requeues the whole job for it (engine/swap_engine.cpp falls back to that where it cannot).
  if (r.in_place && ctx.config->in_place_retry && ctx.in_place_unavailable.empty()) {
    JobDecision d = r.attempts >= r.max_attempts
                        ? exhausted(r, JobAction::RequeueHold)
                        : go(P::Swapping, JobAction::None, "failed node " + node + ": swapped inside the job, its steps retried");
    d.failed_node = node;
    if (d.phase == P::Swapping) d.event = "swap_started";
    return d;
  }
  // A dead node's jobs are killed and requeued by Slurm itself (it sets the node DOWN): wait for that.
  if (!ctx.failed_nodes->at(node).alive) return stay(r);
  JobDecision d = r.attempts >= r.max_attempts ? exhausted(r, JobAction::RequeueHold)
                  : ctx.config->signal_before_requeue != 0
                      ? go(P::Signalled, JobAction::Signal, "failed node " + node + ": checkpoint signal, then requeue")
                      : go(P::Requeueing, JobAction::Requeue, "failed node " + node);
  d.failed_node = node;
  not_in_place(r, ctx, d);
  return d;
}

// A failure of a job's node often ends the job before Slurm or the agents say the node failed: the step's launch
// on a node that just died fails and the batch script exits; a training job's ranks on the live nodes lose their
// peer (NCCL, gloo) and exit with an error within seconds, while Slurm notices a dead slurmd only after a ping
// cycle (SlurmdTimeout/3) and an XID reaches the agent a poll later. A job that failed by itself (non-zero exit,
// not the no-resume code, not cancelled, timed out or out of memory) is watched for FailedExitWindow: if one of
// its nodes fails within it, the failure is that node's and the job is requeued; otherwise it is finished.
JobDecision ending(const JobRecord& r, const Job& j, const JobContext& ctx) {
  if (requeued_since(r, j)) return after_requeue_by_others(r, ctx);
  if (!ended(j)) return go(P::Running, JobAction::None, "running again (not by us)");
  std::string node = first_failed(r.nodes, ctx);
  double ended_at = j.end_time != 0 ? static_cast<double>(j.end_time) : r.phase_since;
  if (!node.empty()) {
    JobDecision d = r.attempts >= r.max_attempts
                        ? exhausted(r, JobAction::None)
                        : go(P::Requeueing, JobAction::Requeue,
                             "failed (exit " + std::to_string(exit_status(j)) + ") and its node " + node +
                                 " failed within FailedExitWindow: that node's failure");
    d.failed_node = node;
    d.failure_at = ended_at;
    not_in_place(r, ctx, d);
    return d;
  }
  if (ctx.now - ended_at >= static_cast<double>(ctx.config->failed_exit_window.count()))
    return go(P::Finished, JobAction::None,
              "failed (exit " + std::to_string(exit_status(j)) + "); no node of it failed within FailedExitWindow");
  return stay(r);
}

JobDecision signalled(const JobRecord& r, const Job& j, const JobContext& ctx) {
  if (requeued_since(r, j)) return counted(P::WaitingPending, "requeued by Slurm during the grace period");
  if (ended(j)) {
    int status = exit_status(j);
    if (ctx.config->no_resume_exit_code != 0 && status == ctx.config->no_resume_exit_code) {
      JobDecision d = go(P::NotResumed, JobAction::None, "exited " + std::to_string(status) + ": the job asked not to be resumed");
      d.event = "not_resumed";
      return d;
    }
    if (j.state == JobState::Completed && status == 0) return go(P::Finished, JobAction::None, "completed during the grace period");
    return go(P::Requeueing, JobAction::Requeue, "exited " + std::to_string(status) + " after the checkpoint signal");
  }
  double grace = static_cast<double>(ctx.config->requeue_grace.count());
  if (ctx.now - r.signal_at >= grace) return go(P::Requeueing, JobAction::Requeue, "grace period over");
  return stay(r);
}

JobDecision requeueing(const JobRecord& r, const Job& j) {
  if (requeued_since(r, j)) return counted(P::WaitingPending, "requeued");
  if (j.state == JobState::Pending) return go(P::WaitingPending, JobAction::None, "already pending");
  return go(P::Requeueing, JobAction::Requeue, "requeue not yet seen in Slurm's restart count");
}

// Not before the second after next from the requeue (Config::restart_settle): its previous run's kill revoked the
// job's credentials on its nodes up to that second. The requeue is dated by when it was seen (a pending job's end
// time is the scheduler's estimate, often ahead, not the requeue's time).
bool settled(const JobRecord& r, const JobContext& ctx) {
  return ctx.now >= std::floor(r.phase_since) + static_cast<double>(ctx.config->restart_settle.count());
}

// Only a PENDING job no longer COMPLETING can be started: a StartTime sent earlier is overwritten by the requeue.
JobDecision waiting_pending(const JobRecord& r, const Job& j, const JobContext& ctx) {
  if (j.state == JobState::Running) return go(P::Running, JobAction::None, "running again");
  if (ended(j)) return go(P::Finished, JobAction::None, std::string("ended ") + to_string(j.state) + " while requeued");
  if (j.state != JobState::Pending || j.completing) {
    JobDecision d = stay(r);
    bool overdue = ctx.now - r.phase_since >= static_cast<double>(ctx.config->pending_timeout.count());
    if (overdue && !r.overdue_reported) {
      d.event = "pending_timeout";
      d.why = std::string("requeued but still ") + to_string(j.state) + (j.completing ? " (completing)" : "") +
              " after " + std::to_string(ctx.config->pending_timeout.count()) + " s";
    }
    return d;
  }
  if (j.held && !r.held_by_us) return stay(r);  // held by its user or an admin: theirs to release
  // Slurm's expedited requeue: slurmctld starts it itself, first in line, as soon as nodes can run it (once ours are
  // replaced and validated). A hold or a new BeginTime would only take that place from it.
  if (j.expediting) return stay(r);
  if (ctx.has_capacity && !settled(r, ctx)) return stay(r);
  if (ctx.has_capacity) return go(P::Starting, JobAction::StartNow, "pending, healthy capacity free: start now");
  return go(P::Held, j.held ? JobAction::None : JobAction::Hold, "pending, not enough healthy nodes: held");
}

JobDecision held(const JobRecord& r, const Job& j, const JobContext& ctx) {
  if (ended(j)) return go(P::Finished, JobAction::None, std::string("ended ") + to_string(j.state) + " while held");
  if (j.state == JobState::Running) return go(P::Starting, JobAction::None, "released by someone else");
  if (j.held && !r.held_by_us) return stay(r);  // our hold replaced by its user's or an admin's
  if (ctx.has_capacity && settled(r, ctx))
    return go(P::Starting, JobAction::StartNow, "healthy capacity free: release and start");
  return stay(r);
}

JobDecision starting(const JobRecord& r, const Job& j, const JobContext& ctx) {
  if (j.state == JobState::Running) {
    JobDecision d = go(P::Running, JobAction::None, "running again");
    d.event = "job_resumed";
    return d;
  }
  if (ended(j)) return go(P::Finished, JobAction::None, std::string("ended ") + to_string(j.state) + " while starting");
  // Not running yet: ask again if Slurm still holds it back (held, or a BeginTime ahead) after a few seconds.
  if (j.held && !r.held_by_us) return stay(r);  // held by its user or an admin since: theirs to release
  bool held_back = j.held || static_cast<double>(j.begin_time) > ctx.now + 1;
  if (held_back && ctx.now - r.phase_since >= 5 && ctx.has_capacity)
    return go(P::Starting, JobAction::StartNow, "still not started: start now again");
  return stay(r);
}

}  // namespace

const char* to_string(JobAction a) {
  switch (a) {
    case JobAction::None: return "none";
    case JobAction::Signal: return "signal";
    case JobAction::Requeue: return "requeue";
    case JobAction::RequeueHold: return "requeue_hold";
    case JobAction::Hold: return "hold";
    case JobAction::StartNow: return "start_now";
  }
  return "none";
}

bool transition_allowed(JobPhase from, JobPhase to) {
  if (from == to) return true;
  for (const auto& [f, t] : kTransitions)
    if (f == from && t == to) return true;
  return false;
}

JobDecision decide(const JobRecord& r, const std::optional<Job>& job, const JobContext& ctx) {
  if (is_terminal(r.phase)) return stay(r);
  if (!job) return gone();
  switch (r.phase) {
    case P::Running: return running(r, *job, ctx);
    case P::Signalled: return signalled(r, *job, ctx);
    case P::Requeueing: return requeueing(r, *job);
    case P::WaitingPending: return waiting_pending(r, *job, ctx);
    case P::Held: return held(r, *job, ctx);
    case P::Starting: return starting(r, *job, ctx);
    case P::Ending: return ending(r, *job, ctx);
    default: return stay(r);
  }
}

}  // namespace autoresume
