// SPDX-License-Identifier: GPL-2.0-or-later
#include "slurm/fake_slurm.hpp"

#include <slurm/slurm_errno.h>

#include <algorithm>
#include <csignal>
#include <ctime>
#include <thread>

namespace autoresume {

constexpr int kInvalidNode = ESLURM_INVALID_NODE_NAME;
constexpr int kInvalidJob = ESLURM_INVALID_JOB_ID;
constexpr int kControllerDown = SLURMCTLD_COMMUNICATIONS_CONNECTION_ERROR;

std::optional<Error> FakeSlurm::take_failure() {
  if (unreachable) return Error{kControllerDown, "Unable to contact slurm controller (connect failure)"};
  std::optional<Error> e;
  e.swap(fail_next);
  return e;
}

Node& FakeSlurm::add_node(const std::string& name, NodeBase base) {
  Node& n = nodes[name];
  n.name = name;
  n.base = base;
  n.cpus = 2;
  n.partitions = {"debug"};
  return n;
}

Job& FakeSlurm::add_job(uint32_t id, std::vector<std::string> job_nodes, JobState state) {
  Job& j = jobs[id];
  j.id = id;
  j.state = state;
  j.num_nodes = static_cast<uint32_t>(job_nodes.size());
  j.nodes = std::move(job_nodes);
  j.batch_host = j.nodes.empty() ? "" : j.nodes.front();
  j.batch = true;
  j.requeue_allowed = true;
  j.partition = "debug";
  j.submit_time = j.start_time = std::time(nullptr);
  for (const auto& n : j.nodes)
    if (nodes.count(n) && state == JobState::Running) nodes[n].base = NodeBase::Allocated;
  return j;
}

Result<Node*> FakeSlurm::node(const std::string& name) {
  if (auto e = take_failure()) return *e;
  auto it = nodes.find(name);
  if (it == nodes.end()) return Error{kInvalidNode, "Invalid node name specified"};
  return &it->second;
}

Result<Job*> FakeSlurm::job(uint32_t id) {
  if (auto e = take_failure()) return *e;
  if (auto failing = failing_jobs.find(id); failing != failing_jobs.end()) return failing->second;
  auto it = jobs.find(id);
  if (it == jobs.end()) return Error{kInvalidJob, "Invalid job id specified"};
  return &it->second;
}

Result<NodeTablePtr> FakeSlurm::load_nodes() {
  if (auto e = take_failure()) return *e;
  std::vector<Node> out;
  for (const auto& [name, n] : nodes) out.push_back(n);
  return std::make_shared<const NodeTable>(std::move(out));
}

Result<std::optional<Job>> FakeSlurm::load_job(uint32_t job_id) {
  if (auto e = take_failure()) return *e;
  ++job_loads;
  auto it = jobs.find(job_id);
  if (it == jobs.end()) return std::optional<Job>();
  return std::optional<Job>(it->second);
}

Result<JobSweep> FakeSlurm::sweep_jobs(const JobSweepFilter& filter) {
  if (auto e = take_failure()) return *e;
  ++sweeps;
  std::this_thread::sleep_for(sweep_delay);
  JobSweep out;
  out.total = jobs.size();
  for (const auto& [id, j] : jobs) {
    if (filter.keeps(j.admin_comment.c_str(), j.name.c_str())) out.jobs.push_back(j);
    std::time_t eligible = j.begin_time ? j.begin_time : j.submit_time;
    if (j.state == JobState::Pending) out.note_pending(j.partition, eligible);
    out.tally(j.id, j.state, j.partition.c_str(), j.user_id, eligible, j.start_time, j.end_time, filter.transitions_since);
  }
  return out;
}

Status FakeSlurm::drain_node(const std::string& name, const std::string& reason) {
  auto n = node(name);
  if (!n) return n.error();
  calls.push_back("drain " + name + " " + reason);
  n.value()->drain = true;
  n.value()->reason = reason;
  return ok_status();
}

Status FakeSlurm::down_node(const std::string& name, const std::string& reason) {
  auto n = node(name);
  if (!n) return n.error();
  calls.push_back("down " + name + " " + reason);
  n.value()->base = NodeBase::Down;
  n.value()->reason = reason;
  return ok_status();
}

Status FakeSlurm::resume_node(const std::string& name) {
  auto n = node(name);
  if (!n) return n.error();
  calls.push_back("resume " + name);
  Node& nd = *n.value();
  nd.drain = nd.fail = false;
  if (nd.down()) nd.base = NodeBase::Idle;
  nd.reason.clear();
  return ok_status();
}

// The requests are only recorded and flagged: a test plays the node's side (the boot, the power-up).
Status FakeSlurm::reboot_node(const std::string& name, const std::string& reason) {
  auto n = node(name);
  if (!n) return n.error();
  calls.push_back("reboot " + name + " " + reason);
  n.value()->reboot_requested = true;
  n.value()->reason = reason;
  return ok_status();
}

Status FakeSlurm::power_down_node(const std::string& name, const std::string& reason) {
  auto n = node(name);
  if (!n) return n.error();
  calls.push_back("power_down " + name + " " + reason);
  Node& nd = *n.value();
  nd.drain = false;  // as Slurm: POWER_DOWN_FORCE clears DRAIN
  nd.powered_down = nd.powering_down = true;
  nd.reason = reason;
  return ok_status();
}

Status FakeSlurm::power_up_node(const std::string& name) {
  auto n = node(name);
  if (!n) return n.error();
  calls.push_back("power_up " + name);
  Node& nd = *n.value();
  nd.powered_down = nd.powering_down = false;
  nd.powering_up = true;
  return ok_status();
}

Status FakeSlurm::requeue_job(uint32_t id, bool hold) {
  auto j = job(id);
  if (!j) return j.error();
  Job& jb = *j.value();
  // What slurmctld refuses (job_mgr.c): pending jobs, non-batch jobs, jobs with requeue disabled. A finished
  // batch job can be requeued.
  if (jb.state == JobState::Pending) return Error{ESLURM_JOB_PENDING, "Job is pending execution"};
  if (!jb.batch) return Error{ESLURM_BATCH_ONLY, "Only batch jobs are accepted or processed", true};
  if (!jb.requeue_allowed) return Error{ESLURM_DISABLED, "Requested operation is presently disabled", true};
  calls.push_back("requeue " + std::to_string(id) + (hold ? " hold" : ""));
  jb.state = JobState::Pending;
  jb.restart_count += 1;
  jb.held = hold;
  jb.begin_time = std::time(nullptr) + 121;
  jb.state_reason = hold ? "JobHeldAdmin" : "BeginTime";
  return ok_status();
}

Status FakeSlurm::hold_job(uint32_t id) {
  auto j = job(id);
  if (!j) return j.error();
  calls.push_back("hold " + std::to_string(id));
  j.value()->held = true;
  return ok_status();
}

Status FakeSlurm::release_job(uint32_t id) {
  auto j = job(id);
  if (!j) return j.error();
  calls.push_back("release " + std::to_string(id));
  j.value()->held = false;
  return ok_status();
}

Status FakeSlurm::start_job_now(uint32_t id) {
  auto j = job(id);
  if (!j) return j.error();
  calls.push_back("start-now " + std::to_string(id));
  j.value()->begin_time = std::time(nullptr);
  return ok_status();
}

Status FakeSlurm::set_admin_comment(uint32_t id, const std::string& comment) {
  auto j = job(id);
  if (!j) return j.error();
  calls.push_back("admin-comment " + std::to_string(id) + " " + comment);
  j.value()->admin_comment = comment;
  return ok_status();
}

Status FakeSlurm::signal_job(uint32_t id, int signal) {
  auto j = job(id);
  if (!j) return j.error();
  calls.push_back("signal " + std::to_string(id) + " " + std::to_string(signal));
  return ok_status();
}

Status FakeSlurm::signal_batch_script(uint32_t id, int signal) {
  if (auto e = take_failure()) return *e;
  auto j = job(id);
  if (!j) return j.error();
  if (!j.value()->batch) {
    calls.push_back("signal_batch_refused " + std::to_string(id));
    return Error{2002, "Job script not available", true};  // ESLURM_JOB_SCRIPT_MISSING
  }
  if (batch_signal_error) {
    calls.push_back("signal_batch_failed " + std::to_string(id));
    return *batch_signal_error;
  }
  calls.push_back("signal_batch " + std::to_string(id) + " " + std::to_string(signal));
  return ok_status();
}

Result<bool> FakeSlurm::slurmd_answers(const std::string& name) {
  auto n = node(name);
  if (!n) return n.error();
  calls.push_back("probe " + name);
  return dead_slurmds.count(name) == 0;
}

Result<std::vector<Reservation>> FakeSlurm::load_reservations() {
  if (auto e = take_failure()) return *e;
  std::vector<Reservation> out;
  for (const auto& [name, r] : reservations) out.push_back(r);
  return out;
}

Status FakeSlurm::create_maintenance_reservation(const std::string& name, const std::string& node_name,
                                                 std::chrono::seconds duration) {
  auto n = node(node_name);
  if (!n) return n.error();
  if (reservations.count(name)) return Error{ESLURM_RESERVATION_NAME_DUP, "Duplicate reservation name"};
  calls.push_back("reserve " + name + " " + node_name);
  reservations[name] = Reservation{name, {node_name}, true, std::time(nullptr) + duration.count()};
  return ok_status();
}

Status FakeSlurm::delete_reservation(const std::string& name) {
  if (auto e = take_failure()) return *e;
  calls.push_back("unreserve " + name);
  reservations.erase(name);
  return ok_status();
}

// The job is PENDING; tests move it along (RUNNING, then COMPLETED or FAILED with an exit code).
Result<uint32_t> FakeSlurm::submit_validation_job(const ValidationJobSpec& spec) {
  auto n = node(spec.node);
  if (!n) return n.error();
  uint32_t id = next_job_id++;
  calls.push_back("submit " + spec.name + " " + spec.node + " " + spec.reservation +
                  (spec.gpus ? " gpus=" + std::to_string(spec.gpus) : ""));
  validation_specs.push_back(spec);
  Job& j = jobs[id];
  j.id = id;
  j.name = spec.name;
  j.state = JobState::Pending;
  j.nodes = {spec.node};
  j.num_nodes = 1;
  j.partition = spec.partition;
  j.reservation = spec.reservation;
  j.user_id = 0;
  j.batch = true;
  j.submit_time = std::time(nullptr);
  return id;
}

Status FakeSlurm::cancel_job(uint32_t id) {
  auto j = job(id);
  if (!j) return j.error();
  calls.push_back("cancel " + std::to_string(id));
  if (j.value()->active()) j.value()->state = JobState::Cancelled;
  return ok_status();
}

Result<std::vector<JobStep>> FakeSlurm::load_steps(uint32_t id) {
  if (auto e = take_failure()) return *e;
  return steps[id];
}

Status FakeSlurm::signal_step(uint32_t id, uint32_t step, int signal) {
  auto j = job(id);
  if (!j) return j.error();
  calls.push_back("signal_step " + std::to_string(id) + "." + std::to_string(step) + " " + std::to_string(signal));
  if (signal == SIGKILL)
    std::erase_if(steps[id], [&](const JobStep& s) { return s.id == step; });
  return ok_status();
}

Status FakeSlurm::shrink_job(uint32_t id, const std::vector<std::string>& keep) {
  auto j = job(id);
  if (!j) return j.error();
  std::string list;
  for (const auto& n : keep) list += (list.empty() ? "" : ",") + n;
  calls.push_back("shrink " + std::to_string(id) + " " + list);
  Job& job = *j.value();
  if (refuse_shrink || std::find(keep.begin(), keep.end(), job.batch_host) == keep.end())
    return Error{2017, "Invalid node name specified (the batch host cannot leave the job)", true};
  job.nodes = keep;
  job.num_nodes = static_cast<uint32_t>(keep.size());
  return ok_status();
}

Result<uint32_t> FakeSlurm::allocate_expansion(const ExpansionSpec& spec) {
  if (auto e = take_failure()) return *e;
  if (!jobs.count(spec.job_id)) return Error{2017, "Invalid job id specified", true};
  uint32_t id = next_job_id++;
  calls.push_back("expand " + std::to_string(spec.job_id) + " as " + std::to_string(id));
  expansions.push_back(spec);
  Job& e = add_job(id, {}, JobState::Pending);
  e.name = spec.name;
  e.user_id = spec.user_id;
  e.partition = spec.partition;
  expanding[id] = spec.job_id;
  return id;
}

Status FakeSlurm::merge_expansion(uint32_t id) {
  auto e = job(id);
  if (!e) return e.error();
  calls.push_back("merge " + std::to_string(id));
  auto target = expanding.find(id);
  if (target == expanding.end() || e.value()->state != JobState::Running) return Error{2017, "Invalid node count", true};
  Job& j = jobs.at(target->second);
  for (const auto& n : e.value()->nodes) j.nodes.push_back(n);
  j.num_nodes = static_cast<uint32_t>(j.nodes.size());
  e.value()->state = JobState::Completed;
  e.value()->nodes.clear();
  return ok_status();
}

Result<SlurmSettings> FakeSlurm::load_settings() {
  if (auto e = take_failure()) return *e;
  return settings;
}

}  // namespace autoresume
