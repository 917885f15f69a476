// SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

#include <ctime>
#include <memory>
#include <string>

#include "slurm/slurm_client.hpp"

typedef struct node_info_msg node_info_msg_t;
typedef struct job_info_msg job_info_msg_t;
typedef struct partition_info_msg partition_info_msg_t;

namespace autoresume {

// SlurmClient over libslurm. Table loads are incremental: the last message's update time goes back to slurmctld,
// which answers SLURM_NO_CHANGE_IN_DATA (a tiny reply) when nothing changed, and the cached copy is served.
class LibSlurmClient final : public SlurmClient {
 public:
  // conf: slurm.conf path, or empty for SLURM_CONF / the default. libslurm's configuration is process-wide:
  // one LibSlurmClient per process. A slurm.conf this process cannot read is an error naming the file (libslurm
  // itself would end the process).
  static Result<std::unique_ptr<LibSlurmClient>> open(const std::string& conf = "");
  ~LibSlurmClient() override;
  LibSlurmClient(const LibSlurmClient&) = delete;
  LibSlurmClient& operator=(const LibSlurmClient&) = delete;

  Result<NodeTablePtr> load_nodes() override;
  Result<std::string> cluster_name() override;
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
  Result<bool> ping_controller(int index) override;

 private:
  explicit LibSlurmClient(const std::string& conf);

  node_info_msg_t* node_msg_ = nullptr;
  partition_info_msg_t* part_msg_ = nullptr;
  NodeTablePtr table_;
  time_t swept_update_ = 0;  // the job table's update time in the last sweep's answer
  JobSweepFilter swept_filter_;
  JobSweep swept_;
};

// "n[1-3],m2" -> {"n1","n2","n3","m2"}, through Slurm's own hostlist.
std::vector<std::string> expand_hostlist(const char* hostlist);

}  // namespace autoresume
