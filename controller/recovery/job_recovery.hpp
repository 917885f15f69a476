// SPDX-License-Identifier: GPL-2.0-or-later
// The state machine of one auto-resume job (phases in model/records.hpp). decide() is pure: from the job's
// record, what Slurm says of the job now, which nodes are failed and whether there is capacity, it returns the
// next phase and the one idempotent step to take. The engine journals the step, sends it, and saves the record.
//
// Idempotence rests on Slurm's restart count: a requeue is only asked for while the count still equals the one
// recorded, and the attempt is counted when the count moves. Killed between any two steps, the controller finds
// the same conclusion on its next tick.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>

#include "config/config.hpp"
#include "model/cluster.hpp"
#include "model/records.hpp"
#include "recovery/node_failure.hpp"

namespace autoresume {

enum class JobAction {
  None,
  Signal,         // send the checkpoint signal
  Requeue,        // requeue (Slurm gives it a BeginTime of now + cred_expire + 1)
  RequeueHold,    // requeue held: budget spent on a job still running on a failed node
  Hold,           // hold a pending job (no capacity, or budget spent)
  StartNow,       // release if held, then BeginTime = now
};

const char* to_string(JobAction a);

struct JobDecision {
  JobPhase phase;
  JobAction action = JobAction::None;
  std::string why;          // for the log and the event
  bool count_attempt = false;        // an infrastructure requeue happened: attempts + 1
  bool acknowledge_restart = false;  // restart_seen = Slurm's restart count (the requeue is accounted for)
  std::string event;        // non-empty: record this event (job_resumed, budget_exhausted, not_resumed, ...)
  std::string failed_node;  // non-empty: a new failure starts here (the record notes the node and the time)
  double failure_at = 0;    // when that failure began, if before now (the job ended first): the MTTR's start
  bool hang = false;        // the failure is the job's hang (no node failed): it starts now
};

struct JobContext {
  const std::map<std::string, NodeFailure>* failed_nodes;
  bool has_capacity = false;  // enough healthy idle nodes in its partition for the job right now
  double now = 0;
  const Config* config;
  // Why in-place retry cannot be done on this cluster (slurm.conf lacks what it needs); empty: it can.
  std::string in_place_unavailable;
  // A hang found by the engine (engine/progress_check.cpp): the job reported progress in this run, then none for
  // more than its hang timeout, and every node of it passed the health check. 0: not hung.
  double hung_for = 0;
  double hang_timeout = 0;  // the timeout it exceeded, for the record
};

// `job` is nullopt when Slurm no longer knows the job (purged after MinJobAge).
JobDecision decide(const JobRecord& record, const std::optional<Job>& job, const JobContext& ctx);

// Whether `to` may follow `from`: the transition table, also checked by the unit tests.
bool transition_allowed(JobPhase from, JobPhase to);

}  // namespace autoresume
