// SPDX-License-Identifier: GPL-2.0-or-later
// The control loop. Each tick observes the cluster through the adapter, works out what is failed, and moves every
// auto-resume job one idempotent step along its state machine; every step is journaled before it is sent to
// Slurm and completed after. If slurmctld does not answer, nothing is decided on stale data.
//
// What a tick reads grows with what changed, not with the cluster (docs/architecture.md): the node table only
// when slurmctld says it changed (derived sets are recomputed only then); the watched jobs and validation jobs
// one by one, by id; the whole job table (to find new auto-resume jobs) only in a sweep: at once when a node
// newly fails, otherwise as often as keeps its measured cost under kSweepShare of the time.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "config/config.hpp"
#include "engine/job_flow.hpp"
#include "model/records.hpp"
#include "recovery/breaker.hpp"
#include "recovery/job_recovery.hpp"
#include "recovery/node_failure.hpp"
#include "recovery/node_lifecycle.hpp"
#include "slurm/slurm_client.hpp"
#include "autoresume/intent.hpp"
#include "engine/heartbeats.hpp"
#include "engine/progress.hpp"
#include "engine/snapshot.hpp"
#include "store/store.hpp"

namespace autoresume {

struct QueuedCommand;

// The name of the one-node allocation that grows a job back after a swap ("autoresume-expand-JOBID").
std::string expansion_job_name(uint32_t job_id);

// The cause of a node whose agent went silent and whose slurmd does not answer (engine/heartbeat_check.cpp).
extern const char* const kSilentDeadCause;

class Controller {
 public:
  Controller(SlurmClient& slurm, Store& store, const Config& config);

  // At start: journal rows left "intended" by a crash are closed as interrupted (their outcome is read back
  // from Slurm on the next tick, not replayed), and job records are loaded.
  void recover();
  void tick();
  // A standby's poll (HighAvailability, engine/lease.hpp): the journaled state re-read and Slurm observed, for the
  // read API; nothing decided, nothing written.
  void observe_standby();
  // A controller that replaces this one (on a change of role) goes on counting where it left off.
  void carry_counters(const Controller& from);
  void set_role(const RoleView& role) { role_ = role; }
  // Slurm's ClusterName learned elsewhere (the standby's observer): the API checks credentials against it.
  void set_cluster(const std::string& name) {
    if (cluster_.empty()) cluster_ = name;
  }

  bool slurm_reachable() const { return reachable_; }
  bool breaker_open() const { return breaker_.open(); }
  // Poll interval, backed off (doubling, up to 30 s) while slurmctld does not answer.
  std::chrono::milliseconds next_delay() const;
  const std::map<uint32_t, JobRecord>& jobs() const { return records_; }
  const std::map<std::string, NodeFailure>& failed_nodes() const { return failed_; }
  const std::map<std::string, NodeRecord>& node_records() const { return node_records_; }

  // The view the API and metrics read, copied after a tick.
  std::shared_ptr<const ControllerSnapshot> snapshot() const;
  void set_observer(ControllerObserver* observer) { observer_ = observer; }
  void set_heartbeats(const HeartbeatBoard* board) { heartbeats_ = board; }
  void set_progress(ProgressBoard* board) { progress_ = board; }

  // An admin's command on a node (engine/node_commands.cpp): replace, reboot, validate or release. Runs in the
  // loop thread between ticks. Errors carry an HTTP status in `code`: 404 unknown node or verb, 409 not now.
  Result<std::string> node_command(const std::string& verb, const std::string& node, const std::string& by);

  // Test hook: called after each successful action, before it is recorded as done (a crash point).
  std::function<void(const std::string& kind)> after_action;

 private:
  bool observe();
  void load_state();
  RoleView role_;
  bool unreachable(const Error& e);  // always false
  void classify_nodes();
  // The job-table sweep, when due (first tick, a node newly in trouble, a validation job to find by name, or
  // its interval past): adopts new auto-resume jobs. False if slurmctld did not answer it.
  bool sweep_if_due(const std::set<std::string>& trouble, double now);
  std::vector<uint32_t> jobs_to_load() const;
  void handle_nodes();
  // Node lifecycles (engine/node_engine.cpp).
  void handle_lifecycles();
  void step_node(NodeRecord& record, const Node& node);
  bool step_node_once(NodeRecord& record, const Node& node);
  NodeObservation observe_node(NodeRecord& record, const Node& node);
  Status run_node_action(const NodeDecision& d, NodeRecord& record, const Node& node);
  void apply_node_decision(const NodeDecision& d, NodeRecord& record, const Node& node, double now);
  const std::vector<Reservation>* reservations();
  void probe_suspects();
  std::set<std::string> silent_agents(double now);  // heartbeats stopped (engine/heartbeat_check.cpp)
  void probe_silent(const std::set<std::string>& silent, double now);
  void handle_jobs();
  // Progress and hangs (engine/progress_check.cpp): a job's run and its first report, its hang (seconds without
  // progress once its nodes passed the health check; 0: not hung), and what a failure cost it.
  void observe_progress(JobRecord& r, const Job& j);
  double hang_of(const JobRecord& r, const Job& j, double now, double& timeout);
  void account_failure(JobRecord& r, double failure_at);
  void forget_progress(uint32_t job_id);
  void adopt_new_jobs(const std::vector<Job>& swept);
  void step_job(JobRecord& record, const std::optional<Job>& job, std::optional<std::map<std::string, int>>& free_nodes);
  bool step_job_once(JobRecord& record, const std::optional<Job>& job, std::optional<std::map<std::string, int>>& free_nodes);
  Status run_action(JobAction action, JobRecord& record, const Job& job);
  // In-place retry (engine/swap_engine.cpp): the Swapping phase's next stage; `acted` when it sent something.
  JobDecision swap_step(JobRecord& record, const std::optional<Job>& job, bool& acted);
  JobDecision swap_fallback(JobRecord& record, const Job& job, const std::string& why);
  Status write_swap_token(const JobRecord& record, const Job& job, SwapState::Stage stage);
  void record_exhausted(const JobRecord& record, const Job& job);
  Status act(const std::string& kind, const std::string& target, const std::string& detail,
             const std::function<Status()>& call);
  const std::map<std::string, int>& free_nodes_by_partition();
  void record_event(const std::string& kind, const std::string& subject, const std::string& detail);
  Status release_node(NodeRecord& record, const Node& node, const std::string& by);

  SlurmClient& slurm_;
  Store& store_;
  const Config& config_;
  NodeTablePtr nodes_ = std::make_shared<const NodeTable>();
  // Derived from nodes_, recomputed only when slurmctld sends a new node table.
  NodeTablePtr classified_for_;
  std::map<std::string, NodeFailure> classified_;  // every failed node
  std::set<std::string> suspects_;                 // not responding, not (yet) failed
  std::map<std::string, double> suspect_since_;    // when each suspect was first seen so
  std::set<std::string> troubled_;  // nodes in trouble at the last tick (failed, suspect, silent): a new one sweeps
  // The jobs this tick read: the watched ones and validation jobs by id, plus what a sweep kept.
  std::map<uint32_t, Job> jobs_now_;
  bool swept_now_ = false;  // this tick swept the job table
  double last_sweep_ = 0;
  double sweep_interval_ = 0;  // seconds; from the last sweep's measured cost
  std::map<std::string, std::time_t> oldest_pending_since_;  // from the last sweep, for the metrics
  JobFlow job_flow_;  // the Slurm jobs metrics, from the sweeps
  std::shared_ptr<const JobFlowTotals> job_flow_totals_ = std::make_shared<const JobFlowTotals>();
  size_t jobs_in_slurm_ = 0;  // the job table's size at the last sweep
  double tick_cpu_ = 0, sweep_cpu_ = 0;  // the loop thread's CPU seconds, in ticks and in sweeps
  uint64_t ticks_ = 0, sweeps_ = 0, node_tables_ = 0;
  double node_table_cpu_ = 0;
  struct FreeNodes {
    NodeTablePtr table;
    std::set<std::string> not_healthy;
    std::map<std::string, int> by_partition;
  } free_nodes_;
  std::map<uint32_t, JobRecord> records_;
  std::map<std::string, NodeFailure> failed_;
  std::map<std::string, NodeRecord> node_records_;
  std::optional<std::vector<Reservation>> reservations_;  // loaded at most once per tick, when needed
  std::set<std::string> open_failures_;  // nodes with a failure recorded and not cleared (mirrors the store)
  std::map<std::string, double> last_probe_;
  // Suspects whose slurmd the probe found dead while they carried a job retried in place: failed (not alive)
  // for that job at once, set DOWN only once no such job is left on them (Slurm would requeue the whole job).
  std::set<std::string> dead_suspects_;
  // The same for nodes whose agent went silent and whose slurmd the probe found dead (Slurm may not flag them yet):
  // kept until Slurm says DOWN or the agent beats again.
  std::set<std::string> dead_silent_;  // failed as kSilentDeadCause
  bool in_place_job_on(const std::string& node) const;  // a job retried in place runs there
  int own_nodes_finishing(const JobRecord& r, const Job& job) const;
  // Seconds without a heartbeat after which an agent counts as silent (HeartbeatMiss intervals).
  double silent_after() const {
    return static_cast<double>(config_.heartbeat_interval.count()) / 1000.0 * config_.heartbeat_miss;
  }
  // Whether slurm.conf allows in-place retry (empty) or what it lacks; read at the first tick, then every minute.
  std::string in_place_unavailable_ = "not known yet";
  double settings_read_ = 0;
  std::optional<SlurmSettings> settings_;  // slurm.conf as slurmctld reported it last (read_settings)
  void read_settings(double now);
  bool retried_in_place(const JobRecord& r) const;
  Breaker breaker_;
  ControllerObserver* observer_ = nullptr;
  const HeartbeatBoard* heartbeats_ = nullptr;
  ProgressBoard* progress_ = nullptr;
  std::map<uint32_t, JobProgressView> progress_now_;  // running jobs' progress in their current run, this tick
  std::set<std::string> reported_silent_;  // agents reported silent on a live node (once per silence)
  bool breaker_was_open_ = false;  // to tell the observer once when it opens
  void report_breaker();
  void prune_history(double now);
  // An action that failed, by kind and target: retried, it reuses its journal row and is logged again only
  // when the error changes.
  struct FailingAction {
    int64_t row;
    std::string detail;
    std::string error;
  };
  std::map<std::string, FailingAction> failing_actions_;
  double last_prune_ = 0;
  std::string cluster_;  // Slurm's ClusterName, learned once
  double last_poll_ = 0;
  double last_tick_seconds_ = 0;
  bool reachable_ = true;
  int failed_polls_ = 0;
};

// Runs the admins' commands taken from the queue (the loop thread, between ticks) and answers each one's
// waiting request; on a state database error every one of them is answered with it before the error goes up.
void serve_commands(std::deque<std::unique_ptr<QueuedCommand>>& queued, Controller& controller, Store& store);

}  // namespace autoresume
