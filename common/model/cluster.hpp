// SPDX-License-Identifier: GPL-2.0-or-later
// What the controller knows of Slurm at one instant: nodes and jobs, copied out of libslurm's structures.
#pragma once

#include <cstdint>
#include <ctime>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace autoresume {

enum class NodeBase { Unknown, Down, Idle, Allocated, Mixed, Future };

struct Node {
  std::string name;
  NodeBase base = NodeBase::Unknown;
  bool drain = false;
  bool not_responding = false;
  bool fail = false;
  bool completing = false;
  bool maint = false;
  bool reboot_requested = false;  // `scontrol reboot` asked, not yet sent to the node
  bool reboot_issued = false;     // sent to the node's slurmd; cleared when it registers after a boot (or times out)
  bool powered_down = false;      // power saving: off (SuspendProgram ran), or on the way (powering_down)
  bool powering_down = false;
  bool powering_up = false;       // ResumeProgram ran; the node has not registered since
  std::string reason;
  uint32_t reason_uid = 0;
  std::time_t reason_time = 0;
  std::time_t slurmd_start_time = 0;
  std::time_t boot_time = 0;  // the node's boot, as its slurmd reported it
  std::vector<std::string> partitions;
  uint32_t cpus = 0;
  std::string gres;  // as configured: "gpu:h200:8(S:0-1)", "gpu:4,nic:1"
  std::string address;  // NodeAddr (its host name when unset): where its agent's heartbeats must come from

  bool down() const { return base == NodeBase::Down; }
  // Out of service until someone resumes it: Slurm schedules nothing on a DRAIN, FAIL or DOWN node (an
  // admin's `state=fail`, `drain` or `down`), and `scontrol update state=RESUME` clears each of them. The one
  // predicate for "does this node need a resume before a job can run there".
  bool out_of_service() const { return drain || fail || down(); }
  // Takes no new work: drained, down, failing or not answering.
  bool unavailable() const { return drain || fail || not_responding || down() || base == NodeBase::Future; }
  // GPUs the node's Gres gives it ("gpu:h200:8(S:0-1),gpu:t4:2" -> 10): what its validation must find.
  uint32_t gpu_count() const;
};

// Every node Slurm reported in one answer, with a name index. Built once per change of slurmctld's node table and
// shared, never copied, from then on (the controller's tick, its API snapshot): 10,000 nodes are read by
// pointer while nothing changes.
class NodeTable {
 public:
  NodeTable() = default;
  explicit NodeTable(std::vector<Node> nodes);
  const Node* find(const std::string& name) const;
  std::vector<Node>::const_iterator begin() const { return nodes_.begin(); }
  std::vector<Node>::const_iterator end() const { return nodes_.end(); }
  size_t size() const { return nodes_.size(); }
  bool empty() const { return nodes_.empty(); }

 private:
  std::vector<Node> nodes_;
  std::unordered_map<std::string, size_t> index_;
};
using NodeTablePtr = std::shared_ptr<const NodeTable>;

enum class JobState { Pending, Running, Suspended, Completed, Cancelled, Failed, Timeout, NodeFail, Preempted,
                      BootFail, Deadline, OutOfMemory, Unknown };

const char* to_string(JobState s);
const char* to_string(NodeBase b);

struct Job {
  uint32_t id = 0;
  std::string name;
  uint32_t user_id = 0;
  uint32_t group_id = 0;
  std::string account;
  bool has_gres = false;  // it asked for a GRES (per node, job, socket or task): Slurm cannot grow such a job
  JobState state = JobState::Unknown;
  bool completing = false;  // JOB_COMPLETING: epilogs still running
  bool requeue_pending = false;  // JOB_REQUEUE / JOB_REQUEUE_HOLD: Slurm is requeueing it
  bool expediting = false;  // PENDING in Slurm's expedited requeue ("EXPEDITING"): slurmctld restarts it itself
  std::string state_reason;  // Slurm's pending/failure reason, as a string
  std::vector<std::string> nodes;  // allocated nodes (current or last)
  std::string batch_host;
  uint32_t num_nodes = 0;
  std::string partition;
  std::string reservation;
  std::string admin_comment;
  uint32_t restart_count = 0;
  bool requeue_allowed = false;
  bool batch = false;
  bool held = false;  // priority 0
  std::time_t submit_time = 0;
  std::time_t begin_time = 0;  // eligible_time
  std::time_t start_time = 0;
  std::time_t end_time = 0;
  uint32_t exit_code = 0;  // wait(2) status of the batch script
  uint32_t derived_exit_code = 0;

  bool active() const { return state == JobState::Pending || state == JobState::Running || state == JobState::Suspended; }
};

// What a sweep of the job table keeps: jobs whose AdminComment contains the text, and jobs whose name starts
// with the prefix (an empty criterion keeps nothing; all = true keeps every job).
struct JobSweepFilter {
  std::string admin_comment_contains;
  std::string name_prefix;
  bool all = false;
  // Starts and ends at or after this time are listed in the sweep (0: none). Not part of what a sweep keeps: an
  // unchanged table answered from the last sweep lists what that one did.
  std::time_t transitions_since = 0;
  bool keeps(const char* admin_comment, const char* name) const;
};

// A job that started or ended, as a sweep saw it (for the jobs metrics: each is counted once, engine/job_flow.hpp).
struct JobTransition {
  uint32_t id = 0;
  JobState state = JobState::Unknown;  // RUNNING for a start; the end state for an end
  std::string partition;               // as Slurm gives it ("a,b" for a pending job that may start in either)
  uint32_t user_id = 0;
  std::time_t at = 0;                  // start or end time
  double waited = 0;                   // a start: seconds from eligible (begin time, else submit time) to start
};

// One sweep of the job table: the jobs the filter kept, and what is measured over every job on the way.
struct JobSweep {
  std::vector<Job> jobs;
  size_t total = 0;  // jobs in the table
  // Per partition, since when its oldest pending job has been eligible (begin time, else submit time).
  std::map<std::string, std::time_t> oldest_pending_since;
  // Pending, running and suspended jobs, by (state, partition, user id).
  std::map<std::tuple<JobState, std::string, uint32_t>, uint32_t> active;
  // Jobs whose start or end time is at or after the filter's transitions_since (0: none are listed).
  std::vector<JobTransition> started, ended;
  // A pending job in `partitions` ("a,b": it may start in either), eligible since `since`.
  void note_pending(const std::string& partitions, std::time_t since);
  // Every job of the table, once: counted, and listed if it started or ended at or after `since` (0: not listed).
  void tally(uint32_t id, JobState state, const char* partition, uint32_t user_id, std::time_t eligible,
             std::time_t start, std::time_t end, std::time_t since);
};

// A step of a running job, and where it runs.
struct JobStep {
  uint32_t id = 0;
  std::vector<std::string> nodes;
};

// A one-node allocation that grows a job back (`--dependency=expand:JOB`): held by nobody, without steps, it is
// merged into the job (NumNodes=0) as soon as it runs. Slurm gives it the job's GRES per node and time limit.
struct ExpansionSpec {
  uint32_t job_id = 0;  // the job it expands
  uint32_t user_id = 0;
  uint32_t group_id = 0;
  std::string partition;
  std::string account;
  std::string name;
  std::vector<std::string> exclude;  // never these nodes (the failed one, the job's own)
};

// What slurmctld's configuration says about resizing jobs.
struct SlurmSettings {
  std::string scheduler_parameters;
  std::string accounting_storage_type;
  // The node machinery of slurm.conf the built-in remediation methods use (recovery/remediation.hpp).
  std::string reboot_program;   // RebootProgram: `scontrol reboot` works
  std::string suspend_program;  // SuspendProgram and ResumeProgram: power saving, POWER_DOWN/POWER_UP work
  std::string resume_program;
  uint32_t resume_timeout = 60;   // ResumeTimeout (s): a reboot or power-up not done by then is Slurm's failure
  uint32_t suspend_timeout = 30;  // SuspendTimeout (s)
  // slurmctld and its backups (SlurmctldHost, in order: the first that answers is in control) and what they share.
  std::vector<std::string> controllers;
  uint32_t slurmctld_timeout = 120;   // SlurmctldTimeout (s): a backup takes over after this
  std::string state_save_location;    // StateSaveLocation
  uint32_t slurmd_timeout = 300;      // SlurmdTimeout (s): a node silent this long is set DOWN
  uint32_t message_timeout = 10;      // MessageTimeout (s)
  bool powered_down_hidden = false;  // powered-down CLOUD nodes missing from slurm_load_node (22.05 without
                                     // PrivateData=cloud): a power cycle cannot be followed
  bool power_saving() const { return !suspend_program.empty() && !resume_program.empty(); }
  // What a power cycle needs, one line each (empty: it works).
  std::vector<std::string> power_cycle_missing() const;
  // permit_job_expansion, and an accounting database: a resized job waits for its new db_index, which only
  // slurmdbd gives (without it any later update of the job is refused).
  bool can_expand_jobs() const;
  bool can_shrink_jobs() const;
  // What slurm.conf lacks for in-place retry, one line each (empty: nothing).
  std::vector<std::string> in_place_missing() const;
  // Whether slurmctld's own ping can set a live node DOWN when another node dies: "" when not, else why. Rounds
  // start every SlurmdTimeout/3 (on a one-second tick) and skip a node heard from in the last SlurmdTimeout/3; a
  // round with a dead node lasts MessageTimeout + 1 s (24.11 retries a refused connect every second for that long).
  // Since 23.11 the answers of a round are recorded by another thread up to 2 s after it ends, when the next round
  // has already judged the nodes: that round sets DOWN a node last heard before the previous round's start minus
  // SlurmdTimeout. A node heard from just before a dead round (so skipped in it), pinged in the next, is judged
  // in the one after on an answer SlurmdTimeout/3 + 1 + MessageTimeout + 1 s old: DOWN for nothing unless that
  // stays under SlurmdTimeout, with a second to spare for a loaded host (measured on 24.11: SlurmdTimeout=10 with
  // MessageTimeout=10 always, with 7 in 1 of 3 runs, with 5 in about 1 of 10).
  std::string ping_timing_risk() const;
};

struct Reservation {
  std::string name;
  std::vector<std::string> nodes;
  bool maint = false;
  std::time_t end_time = 0;
};

// A root batch job pinned to one node inside a reservation: how a node is validated (no ssh).
struct ValidationJobSpec {
  std::string name;
  std::string node;
  std::string partition;
  std::string reservation;
  std::string script;
  uint32_t time_limit_minutes = 10;
  uint32_t gpus = 0;  // the node's GPUs, all requested (GRES): a validation sees every device the node has
};

}  // namespace autoresume
