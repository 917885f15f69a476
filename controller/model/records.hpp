// SPDX-License-Identifier: GPL-2.0-or-later
// What the controller remembers (in SQLite) beyond what Slurm holds.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace autoresume {

enum class JobPhase {
  Running,         // watched: running (or pending for the first time) on healthy nodes
  Signalled,       // a failed node under it; the checkpoint signal was sent, waiting out the grace period
  Requeueing,      // requeue requested until Slurm's restart count shows it happened
  WaitingPending,  // requeued; waiting for it to be PENDING (no longer COMPLETING) to start it
  Held,            // PENDING and held: not enough healthy capacity for it
  Starting,        // StartTime=now sent; waiting for RUNNING
  Swapping,        // in-place retry: the failed node leaves the job, a healthy one joins (SwapStage says how far)
  Ending,          // failed by itself (non-zero exit): its nodes watched for FailedExitWindow from its end
  Exhausted,       // budget spent: left held, with a reason in AdminComment
  NotResumed,      // ended by itself with the no-resume exit code, or cannot be requeued
  Finished,        // ended normally; no longer watched
};

// How far an in-place swap has gone (engine/swap_engine.cpp). Each stage's action is journaled before it is
// sent and is safe to send again, or read back from Slurm, after a restart.
enum class SwapStage {
  None,
  Marked,     // the swap token is in AdminComment; the steps on the failed node got the checkpoint signal
  Shrunk,     // the failed node left the job; its steps ended
  Expanding,  // the expansion allocation is asked for (swap_job; 0 while its id is not yet journaled)
  Merging,    // the expansion allocation runs: its node is merged into the job
};

const char* to_string(SwapStage s);
bool parse_swap_stage(const std::string& s, SwapStage& out);

const char* to_string(JobPhase p);
bool parse_job_phase(const std::string& s, JobPhase& out);
bool is_terminal(JobPhase p);

struct JobRecord {
  uint32_t job_id = 0;
  unsigned max_attempts = 0;
  unsigned attempts = 0;       // resumes after infrastructure failures so far
  JobPhase phase = JobPhase::Running;
  uint32_t restart_seen = 0;   // Slurm's restart count when we last accounted for it
  uint32_t user_id = 0;        // with submit_time: what tells this job from a later one that reused its id
  int64_t submit_time = 0;     // Slurm's, as last seen (a requeue renews it); 0: a record from an older version
  bool held_by_us = false;     // the hold on it (priority 0) was placed by the controller: the only kind it releases
  std::vector<std::string> nodes;  // nodes of its latest run
  std::string failed_node;     // the node whose failure interrupted it (latest)
  double failure_at = 0;       // when that failure was seen (unix seconds)
  double phase_since = 0;
  double signal_at = 0;
  bool overdue_reported = false;  // PendingTimeout passed in WaitingPending and was reported (once per recovery)
  bool in_place = false;       // its intent came from a step (`srun --auto-resume=1`): retried in place
  unsigned swaps = 0;          // in-place swaps begun (the swap token's number)
  SwapStage swap_stage = SwapStage::None;
  std::vector<uint32_t> swap_steps;  // the steps the current swap ended
  uint32_t swap_job = 0;       // the expansion allocation
  uint32_t swap_width = 0;     // nodes the job needs after the swap: the largest step it ended (or all it had)
  double swap_started = 0;
  // Hangs and goodput (model/goodput.hpp, docs/hangs-and-goodput.md).
  int64_t hang_timeout = -1;   // seconds, from its intent (0: never hung); -1: the controller's HangTimeout
  double first_start = 0;      // its first run's start (Slurm's start time)
  double run_start = 0;        // its latest run's start
  double first_report = 0;     // when the latest run's first progress was seen (0: none yet)
  double lost_work = 0;        // seconds: for each failure, from its last checkpoint (or its run's start) to it
  double recovery = 0;         // seconds: for each failure, until it ran again
  double startup = 0;          // seconds: for each run, from its start to its first progress
  uint64_t redone_steps = 0;   // for each failure, its step then less its checkpoint's step
  unsigned hangs = 0;          // times it was requeued as hung

  bool operator==(const JobRecord&) const = default;
};

// A node's lifecycle (recovery/node_lifecycle.hpp has the transition table).
enum class NodePhase {
  Healthy,      // in service, or not ours to manage (an admin's drain)
  Failed,       // a failure seen; counted against QuarantineAfter
  Draining,     // drained with our reason; waiting for its jobs to leave (DrainTimeout)
  Replacing,    // replace or reboot program running, then waiting for a fresh slurmd (ReplaceTimeout)
  Validating,   // in our maintenance reservation, validation job submitted (ValidationTimeout)
  Quarantined,  // left drained for a human
};

const char* to_string(NodePhase p);
bool parse_node_phase(const std::string& s, NodePhase& out);

struct NodeRecord {
  std::string name;
  NodePhase phase = NodePhase::Healthy;
  double phase_since = 0;
  std::string cause;             // the latest failure's cause
  std::string action;            // "replace", "reboot" or the agent's rung ("reset_gpu", "restart_app")
  std::string method;            // how Replacing carries it out (recovery/remediation.hpp), fixed when it starts
  int remedy_stage = 0;          // power_cycle: 1 powering down, 2 powering up (0: not started)
  double remedy_at = 0;          // when the current stage was requested
  std::vector<double> failures;  // when failures began (within QuarantineWindow)
  int validation_failures = 0;   // in the current lifecycle
  int program_pid = 0;           // the replace/reboot program (a child of this process, unless restarted since)
  uint64_t program_start_ticks = 0;  // its start time (/proc/PID/stat): with the pid, what names it after a restart
  double program_started = 0;    // 0: not started in this Replacing
  uint32_t validation_job = 0;   // 0: not submitted in this attempt
  double validation_started = 0; // when this attempt's job was submitted (a crash-orphaned one is found by name)
  bool owns_reservation = false; // the reservation autoresume-<name> was created by us
  bool manual = false;           // started by an admin's command: no settle delay, not counted as a failure

  bool operator==(const NodeRecord&) const = default;
};

struct ActionRow {
  int64_t id = 0;
  double at = 0;
  std::string kind;    // drain, requeue, hold, release, start_now, signal, admin_comment
  std::string target;  // node name or job id
  std::string detail;
  std::string state;   // intended, done, failed
  std::string error;
  int attempts = 1;    // the same action retried tick after tick keeps one row
};

struct EventRow {
  int64_t id = 0;
  double at = 0;
  std::string kind;
  std::string subject;
  std::string detail;
};

}  // namespace autoresume
