// SPDX-License-Identifier: GPL-2.0-or-later
// The one door to Slurm. Everything the controller (and the tests) read from or do to slurmctld goes through
// this interface; LibSlurmClient talks to a real slurmctld, FakeSlurm is an in-memory cluster for unit tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "autoresume/result.hpp"
#include "model/cluster.hpp"

namespace autoresume {

class SlurmClient {
 public:
  virtual ~SlurmClient() = default;

  // Current nodes: the same table (the same pointer) for as long as slurmctld reports no change.
  virtual Result<NodeTablePtr> load_nodes() = 0;
  // Slurm's ClusterName (slurmctld's configuration).
  virtual Result<std::string> cluster_name() = 0;
  // One job, by id: nullopt when Slurm does not know it (never did, or purged it after MinJobAge).
  virtual Result<std::optional<Job>> load_job(uint32_t job_id) = 0;
  // The whole job table, read in one answer, of which only the jobs the filter keeps are returned (the others are
  // skipped without being copied). Its cost grows with every job in the cluster: see docs/architecture.md for how
  // seldom the controller pays it.
  virtual Result<JobSweep> sweep_jobs(const JobSweepFilter& filter) = 0;

  // DRAIN with a reason (the node finishes its jobs, takes no new ones).
  virtual Status drain_node(const std::string& node, const std::string& reason) = 0;
  // DOWN with a reason (its jobs are killed; requeue-able ones requeued by Slurm).
  virtual Status down_node(const std::string& node, const std::string& reason) = 0;
  // RESUME: clears DRAIN/DOWN and the reason.
  virtual Status resume_node(const std::string& node) = 0;
  // Slurm's own reboot: `scontrol reboot ASAP nextstate=DOWN reason=REASON NODE` (slurmd runs slurm.conf's
  // RebootProgram; the node comes back DOWN, so that nothing runs on it before its validation).
  virtual Status reboot_node(const std::string& node, const std::string& reason) = 0;
  // Power saving: POWER_DOWN_FORCE (its jobs killed, SuspendProgram run), then POWER_UP (ResumeProgram run; on a
  // cloud cluster a new instance).
  virtual Status power_down_node(const std::string& node, const std::string& reason) = 0;
  virtual Status power_up_node(const std::string& node) = 0;

  // Requeue a running/suspended batch job; with hold, it comes back held (priority 0).
  virtual Status requeue_job(uint32_t job_id, bool hold) = 0;
  virtual Status hold_job(uint32_t job_id) = 0;
  virtual Status release_job(uint32_t job_id) = 0;
  // BeginTime = now: skips the cred_expire+1 s a requeued job otherwise waits.
  virtual Status start_job_now(uint32_t job_id) = 0;
  virtual Status set_admin_comment(uint32_t job_id, const std::string& comment) = 0;
  virtual Status signal_job(uint32_t job_id, int signal) = 0;

  // Reservations: a MAINT + IGNORE_JOBS reservation on one node for `duration`, usable by root only.
  virtual Result<std::vector<Reservation>> load_reservations() = 0;
  virtual Status create_maintenance_reservation(const std::string& name, const std::string& node,
                                                std::chrono::seconds duration) = 0;
  virtual Status delete_reservation(const std::string& name) = 0;
  // Submits the batch job as root; returns its id.
  virtual Result<uint32_t> submit_validation_job(const ValidationJobSpec& spec) = 0;
  virtual Status cancel_job(uint32_t job_id) = 0;

  // In-place retry (docs/in-place.md): the job's steps; one step signalled (SIGKILL ends it); the running job
  // shrunk to `keep` (its steps on the other nodes are killed there); a one-node expansion allocation; that
  // allocation's node merged into the job it expands; slurmctld's settings for all of this.
  virtual Result<std::vector<JobStep>> load_steps(uint32_t job_id) = 0;
  virtual Status signal_step(uint32_t job_id, uint32_t step_id, int signal) = 0;
  // A signal to the batch script's process group on its node (`scancel --batch --full`): the script, the sruns it
  // started, nothing of the other steps.
  virtual Status signal_batch_script(uint32_t job_id, int signal) = 0;
  virtual Status shrink_job(uint32_t job_id, const std::vector<std::string>& keep) = 0;
  virtual Result<uint32_t> allocate_expansion(const ExpansionSpec& spec) = 0;
  virtual Status merge_expansion(uint32_t expansion_job_id) = 0;
  virtual Result<SlurmSettings> load_settings() = 0;

  // A ping of the `index`th SlurmctldHost (0: the primary): true if it answered. A backup in standby answers too.
  virtual Result<bool> ping_controller(int index) = 0;

  // One RPC to the node's slurmd: true if it answered (even with an error), false if nothing listens. Only for
  // suspects: every probe makes slurmd log a "Zero Bytes" error.
  virtual Result<bool> slurmd_answers(const std::string& node) = 0;
};

}  // namespace autoresume
