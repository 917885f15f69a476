// SPDX-License-Identifier: GPL-2.0-or-later
// An in-memory Slurm for unit tests of the controller's state machines: tests set nodes and jobs, the code
// under test acts through the SlurmClient interface, tests read back what was done (and can make calls fail).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>

#include "slurm/slurm_client.hpp"

namespace autoresume {

class FakeSlurm final : public SlurmClient {
 public:
  std::map<std::string, Node> nodes;
  std::map<uint32_t, Job> jobs;
  std::vector<std::string> calls;  // "drain n2 autoresume: ...", "requeue 7 hold", ... in order
  std::vector<ValidationJobSpec> validation_specs;  // every validation job submitted, as submitted
  std::optional<Error> fail_next;  // the next call (load or action) fails with this error
  std::optional<Error> batch_signal_error;  // signal_batch_script fails with this (recorded as "signal_batch_failed")
  bool unreachable = false;  // every call fails as if slurmctld did not answer
  std::map<uint32_t, Error> failing_jobs;  // every action on these jobs fails with this error
  std::set<std::string> dead_slurmds;  // slurmd_answers() is false for these
  std::map<std::string, Reservation> reservations;
  uint32_t next_job_id = 1000;  // ids of submitted (validation) jobs
  std::string cluster = "cluster1";
  int sweeps = 0;     // sweep_jobs() calls
  std::chrono::milliseconds sweep_delay{0};  // how long a sweep takes (a large job table)
  int job_loads = 0;  // load_job() calls
  std::map<uint32_t, std::vector<JobStep>> steps;   // per job
  SlurmSettings settings = [] {
    SlurmSettings s;
    s.scheduler_parameters = "permit_job_expansion";
    s.accounting_storage_type = "accounting_storage/slurmdbd";
    return s;
  }();
  std::vector<ExpansionSpec> expansions;            // every expansion allocated, as asked
  std::map<uint32_t, uint32_t> expanding;           // expansion job -> the job it expands
  bool refuse_shrink = false;                       // shrink_job() answers as Slurm does for the batch host

  Node& add_node(const std::string& name, NodeBase base = NodeBase::Idle);
  Job& add_job(uint32_t id, std::vector<std::string> job_nodes, JobState state = JobState::Running);

  Result<NodeTablePtr> load_nodes() override;
  Result<std::string> cluster_name() override { return cluster; }
  Result<std::optional<Job>> load_job(uint32_t job_id) override;
  Result<JobSweep> sweep_jobs(const JobSweepFilter& filter) override;
  Status drain_node(const std::string& node, const std::string& reason) override;
  Status down_node(const std::string& node, const std::string& reason) override;
  Status resume_node(const std::string& node) override;
  Status reboot_node(const std::string& node, const std::string& reason) override;
  Status power_down_node(const std::string& node, const std::string& reason) override;
  Status power_up_node(const std::string& node) override;
  Status requeue_job(uint32_t job_id, bool hold) override;
  Status hold_job(uint32_t job_id) override;
  Status release_job(uint32_t job_id) override;
  Status start_job_now(uint32_t job_id) override;
  Status set_admin_comment(uint32_t job_id, const std::string& comment) override;
  Status signal_job(uint32_t job_id, int signal) override;
  Result<bool> slurmd_answers(const std::string& node) override;
  Result<std::vector<Reservation>> load_reservations() override;
  Status create_maintenance_reservation(const std::string& name, const std::string& node,
                                        std::chrono::seconds duration) override;
  Status delete_reservation(const std::string& name) override;
  Result<uint32_t> submit_validation_job(const ValidationJobSpec& spec) override;
  Status cancel_job(uint32_t job_id) override;
  Result<std::vector<JobStep>> load_steps(uint32_t job_id) override;
  Status signal_step(uint32_t job_id, uint32_t step_id, int signal) override;
  Status signal_batch_script(uint32_t job_id, int signal) override;
  Status shrink_job(uint32_t job_id, const std::vector<std::string>& keep) override;
  Result<uint32_t> allocate_expansion(const ExpansionSpec& spec) override;
  Status merge_expansion(uint32_t expansion_job_id) override;
  Result<SlurmSettings> load_settings() override;
  std::vector<bool> controllers_up = {true};  // ping_controller(i): answers while true
  Result<bool> ping_controller(int index) override {
    return index >= 0 && static_cast<size_t>(index) < controllers_up.size() && controllers_up[static_cast<size_t>(index)];
  }

 private:
  std::optional<Error> take_failure();
  Result<Node*> node(const std::string& name);
  Result<Job*> job(uint32_t id);
};

}  // namespace autoresume
