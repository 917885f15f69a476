// SPDX-License-Identifier: GPL-2.0-or-later
// The lifecycle of one node (phases in model/records.hpp). decide_node() is pure: from the node's record and
// what is observed now (Slurm's view of the node, its jobs, our reservation, the validation job, the replace
// program), it returns the next phase and the one idempotent step to take. The engine journals the step, sends
// it, and saves the record; a step that fails leaves the phase unchanged, to be decided again next tick.
//
//   Healthy -> Failed -> Draining -> Replacing -> Validating -> Healthy
//                 |          (DrainTimeout: DOWN)  (ReplaceTimeout,   (ValidationTimeout,
//                 |                                 program failed:    failed: drained again,
//                 v                                 Failed again)      retried ValidationAttempts)
//            Quarantined  <- QuarantineAfter failures in QuarantineWindow, or validation failed too often
//
// A node drained by a person (any reason that is not ours, HyperPod's Action:*, or Slurm's own) is theirs: its
// lifecycle is abandoned (our reservation deleted) and it is never touched. A quarantined node returns to
// Healthy when an admin resumes it.
#pragma once

#include <optional>
#include <string>

#include "actions/site_program.hpp"
#include "recovery/remediation.hpp"
#include "recovery/validation_report.hpp"
#include "config/config.hpp"
#include "model/cluster.hpp"
#include "model/records.hpp"

namespace autoresume {

enum class NodeAction {
  None,
  Drain,             // DRAIN with `detail` as the reason
  Down,              // DOWN with `detail` (the drain timed out: its jobs are killed, requeue-able ones requeued)
  StartProgram,      // run ReplaceProgram / RebootProgram (record.action); none configured: just wait
  Reboot,            // Slurm's reboot of the node (method reboot)
  PowerDown,         // POWER_DOWN_FORCE (method power_cycle)
  PowerUp,           // POWER_UP, once powered down
  KillProgram,       // the program ran past ReplaceTimeout
  Reserve,           // create the maintenance reservation autoresume-<node>
  Resume,            // clear DRAIN/DOWN (inside our reservation, so that only the validation job can run)
  SubmitValidation,  // the validation job, in the reservation
  CancelValidation,  // it ran past ValidationTimeout
  Unreserve,         // delete our reservation
};

const char* to_string(NodeAction a);

struct NodeObservation {
  std::optional<Node> node;           // nullopt: Slurm does not know it (removed from slurm.conf)
  bool has_jobs = false;              // jobs running or completing on it
  bool reservation_exists = false;    // autoresume-<node> exists in Slurm
  std::optional<Job> validation_job;  // this attempt's job: by recorded id, or by name if a crash lost the id
  std::optional<ProgramStatus> program;  // the replace/reboot program, once started
};

struct NodeContext {
  double now = 0;
  const Config* config = nullptr;
  bool breaker_open = false;  // no replace, validate or release; observation and drains go on
  const SlurmSettings* slurm = nullptr;  // slurm.conf's reboot and power saving (nullptr: not read yet)
};

struct NodeDecision {
  NodePhase phase = NodePhase::Healthy;
  NodeAction action = NodeAction::None;
  std::string detail;  // drain/down reason
  std::string why;     // for the log and the event
  std::string event;   // non-empty: record this event
  std::string method;  // non-empty: the remediation method Replacing starts with (recorded)
  bool count_failure = false;       // a failure begins now (counted against QuarantineAfter)
  bool admin_request = false;       // with count_failure: an admin's Action:Replace/Reboot, not a failure (manual)
  bool replace_failed = false;      // the program failed or timed out (BreakerReplaceFailures)
  bool replace_succeeded = false;
  bool validation_failed = false;   // this attempt failed: count it, forget its job
  std::optional<ValidationReport> report;  // the finished validation job's report: kept under StateDir
};

NodeDecision decide_node(const NodeRecord& record, const NodeObservation& seen, const NodeContext& ctx);

bool node_transition_allowed(NodePhase from, NodePhase to);

// "autoresume-<node>": the only reservations the controller creates, deletes or runs jobs in.
std::string validation_reservation_name(const std::string& node);
// What Replacing runs for this node: RebootProgram for a reboot when one is set, else ReplaceProgram ("": none).
const std::string& program_command(const NodeRecord& r, const Config& config);
std::string validation_job_name(const std::string& node);
// Failures of `record` within QuarantineWindow of `now`, counting one beginning now if `with_new`.
int failures_in_window(const NodeRecord& record, double now, const Config& config);

}  // namespace autoresume
