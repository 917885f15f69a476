// SPDX-License-Identifier: GPL-2.0-or-later
#include "slurm/libslurm_client.hpp"

#include <malloc.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include <cstdlib>
#include <ctime>

#include "autoresume/slurm_compat.hpp"
#include "slurm/slurmd_probe.hpp"
#include "util/command.hpp"
#include "util/files.hpp"
#include "util/strings.hpp"


namespace autoresume {
namespace {

namespace compat = slurm_compat;

Error last_error(const char* what) {
  int code = compat::last_errno();
  return Error{code, std::string(what) + ": " + slurm_strerror(code)};
}

Status status_of(int rc, const char* what) {
  if (rc == SLURM_SUCCESS) return ok_status();
  return last_error(what);
}

std::string str(const char* s) { return s ? std::string(s) : std::string(); }

NodeBase node_base(uint32_t state) {
  switch (state & NODE_STATE_BASE) {
    case NODE_STATE_DOWN: return NodeBase::Down;
    case NODE_STATE_IDLE: return NodeBase::Idle;
    case NODE_STATE_ALLOCATED: return NodeBase::Allocated;
    case NODE_STATE_MIXED: return NodeBase::Mixed;
    case NODE_STATE_FUTURE: return NodeBase::Future;
    default: return NodeBase::Unknown;
  }
}

JobState job_state(uint32_t state) {
  switch (state & JOB_STATE_BASE) {
    case JOB_PENDING: return JobState::Pending;
    case JOB_RUNNING: return JobState::Running;
    case JOB_SUSPENDED: return JobState::Suspended;
    case JOB_COMPLETE: return JobState::Completed;
    case JOB_CANCELLED: return JobState::Cancelled;
    case JOB_FAILED: return JobState::Failed;
    case JOB_TIMEOUT: return JobState::Timeout;
    case JOB_NODE_FAIL: return JobState::NodeFail;
    case JOB_PREEMPTED: return JobState::Preempted;
    case JOB_BOOT_FAIL: return JobState::BootFail;
    case JOB_DEADLINE: return JobState::Deadline;
    case JOB_OOM: return JobState::OutOfMemory;
    default: return JobState::Unknown;
  }
}

Node to_node(const node_info_t& n) {
  Node out;
  out.name = str(n.name);
  out.address = str(n.node_addr).empty() ? str(n.node_hostname) : str(n.node_addr);
  out.base = node_base(n.node_state);
  out.drain = n.node_state & NODE_STATE_DRAIN;
  out.not_responding = n.node_state & NODE_STATE_NO_RESPOND;
  out.fail = n.node_state & NODE_STATE_FAIL;
  out.completing = n.node_state & NODE_STATE_COMPLETING;
  out.maint = n.node_state & NODE_STATE_MAINT;
  out.reboot_requested = n.node_state & NODE_STATE_REBOOT_REQUESTED;
  out.reboot_issued = n.node_state & NODE_STATE_REBOOT_ISSUED;
  out.powered_down = n.node_state & NODE_STATE_POWERED_DOWN;
  out.powering_down = n.node_state & NODE_STATE_POWERING_DOWN;
  out.powering_up = n.node_state & NODE_STATE_POWERING_UP;
  out.boot_time = n.boot_time;
  out.reason = str(n.reason);
  out.reason_uid = n.reason_uid;
  out.reason_time = n.reason_time;
  out.slurmd_start_time = n.slurmd_start_time;
  out.partitions = split_commas(str(n.partitions));
  out.cpus = n.cpus;
  out.gres = str(n.gres);
  return out;
}

Job to_job(const slurm_job_info_t& j) {
  Job out;
  out.id = j.job_id;
  out.name = str(j.name);
  out.user_id = j.user_id;
  out.group_id = j.group_id;
  out.account = str(j.account);
  for (const char* tres : {j.tres_per_node, j.tres_per_job, j.tres_per_socket, j.tres_per_task})
    out.has_gres |= str(tres).find("gres") != std::string::npos;
  out.state = job_state(j.job_state);
  out.completing = j.job_state & JOB_COMPLETING;
  out.requeue_pending = j.job_state & (JOB_REQUEUE | JOB_REQUEUE_HOLD);
  out.expediting = compat::expediting(j.job_state);
  out.state_reason = str(compat::job_reason_string(j.state_reason));
  out.nodes = expand_hostlist(j.nodes);
  out.batch_host = str(j.batch_host);
  out.num_nodes = j.num_nodes;
  out.partition = str(j.partition);
  out.reservation = str(j.resv_name);
  out.admin_comment = str(j.admin_comment);
  out.restart_count = j.restart_cnt;
  out.requeue_allowed = j.requeue != 0;
  out.batch = j.batch_flag != 0;
  out.held = j.priority == 0;
  out.submit_time = j.submit_time;
  out.begin_time = j.eligible_time;
  out.start_time = j.start_time;
  out.end_time = j.end_time;
  out.exit_code = j.exit_code;
  out.derived_exit_code = j.derived_ec;
  return out;
}

job_desc_msg_t job_update(uint32_t job_id) {
  job_desc_msg_t msg;
  slurm_init_job_desc_msg(&msg);
  compat::set_job_id(msg, job_id);
  return msg;
}

Status update_node_state(const std::string& node, uint32_t state, const std::string& reason, const char* what) {
  update_node_msg_t msg;
  slurm_init_update_node_msg(&msg);
  std::string name = node;
  std::string why = reason;
  msg.node_names = name.data();
  msg.node_state = state;
  if (!why.empty()) {
    msg.reason = why.data();
    compat::set_reason_uid(msg, getuid());
  }
  return status_of(slurm_update_node(&msg), what);
}

}  // namespace

std::vector<std::string> expand_hostlist(const char* hostlist) {
  std::vector<std::string> out;
  if (!hostlist || !*hostlist) return out;
  auto* hl = slurm_hostlist_create(hostlist);  // hostlist_t (22.05) or hostlist_t* (23.11+): a pointer either way
  if (!hl) return out;
  while (char* host = slurm_hostlist_shift(hl)) {
    out.emplace_back(host);
    std::free(host);  // hostlist_shift returns malloc'd memory
  }
  slurm_hostlist_destroy(hl);
  return out;
}

Result<std::unique_ptr<LibSlurmClient>> LibSlurmClient::open(const std::string& conf) {
  if (auto readable = check_slurm_conf_readable(conf); !readable) return readable.error();
  return std::unique_ptr<LibSlurmClient>(new LibSlurmClient(conf));
}

LibSlurmClient::LibSlurmClient(const std::string& conf) { slurm_init(conf.empty() ? nullptr : conf.c_str()); }

LibSlurmClient::~LibSlurmClient() {
  if (node_msg_) slurm_free_node_info_msg(node_msg_);
  if (part_msg_) slurm_free_partition_info_msg(part_msg_);
}

Result<std::string> LibSlurmClient::cluster_name() {
  slurm_conf_t* conf = nullptr;
  if (slurm_load_ctl_conf(0, &conf) != SLURM_SUCCESS) return last_error("slurm_load_ctl_conf");
  std::string name = str(conf->cluster_name);
  compat::free_ctl_conf(conf);
  if (name.empty()) return Error{0, "slurmctld has no ClusterName"};
  return name;
}

// node_info_t.partitions is filled only by slurm_populate_node_partitions() from the partition table (what
// scontrol does), so partitions are loaded too, incrementally like nodes. Unchanged: the same table, not a copy.
Result<NodeTablePtr> LibSlurmClient::load_nodes() {
  node_info_msg_t* fresh_nodes = nullptr;
  partition_info_msg_t* fresh_parts = nullptr;
  if (slurm_load_node(node_msg_ ? node_msg_->last_update : 0, &fresh_nodes, SHOW_ALL) != SLURM_SUCCESS &&
      !(node_msg_ && compat::last_errno() == SLURM_NO_CHANGE_IN_DATA))
    return last_error("slurm_load_node");
  if (slurm_load_partitions(part_msg_ ? part_msg_->last_update : 0, &fresh_parts, SHOW_ALL) != SLURM_SUCCESS &&
      !(part_msg_ && compat::last_errno() == SLURM_NO_CHANGE_IN_DATA)) {
    if (fresh_nodes) slurm_free_node_info_msg(fresh_nodes);
    return last_error("slurm_load_partitions");
  }
  if (!fresh_nodes && !fresh_parts && table_) return table_;
  if (fresh_nodes) {
    if (node_msg_) slurm_free_node_info_msg(node_msg_);
    node_msg_ = fresh_nodes;
  } else {  // partitions changed, nodes did not: the old node message gets its partitions rewritten
    for (uint32_t i = 0; i < node_msg_->record_count; ++i) {
      compat::xfree(node_msg_->node_array[i].partitions);  // xmalloc'd by populate
    }
  }
  if (fresh_parts) {
    if (part_msg_) slurm_free_partition_info_msg(part_msg_);
    part_msg_ = fresh_parts;
  }
  slurm_populate_node_partitions(node_msg_, part_msg_);
  std::vector<Node> nodes;
  nodes.reserve(node_msg_->record_count);
  for (uint32_t i = 0; i < node_msg_->record_count; ++i)
    if (node_msg_->node_array[i].name) nodes.push_back(to_node(node_msg_->node_array[i]));
  table_ = std::make_shared<const NodeTable>(std::move(nodes));
  return table_;
}

Result<std::optional<Job>> LibSlurmClient::load_job(uint32_t job_id) {
  job_info_msg_t* msg = nullptr;
  if (compat::load_job(&slurm_load_job, &msg, job_id, SHOW_ALL) != SLURM_SUCCESS) {
    if (compat::last_errno() == ESLURM_INVALID_JOB_ID) return std::optional<Job>();
    return last_error("slurm_load_job");
  }
  std::optional<Job> out;
  for (uint32_t i = 0; i < msg->record_count && !out; ++i)  // an array or heterogeneous job: its own record
    if (msg->job_array[i].job_id == job_id) out = to_job(msg->job_array[i]);
  slurm_free_job_info_msg(msg);
  return out;
}

// The job table's last update is sent back: an unchanged table costs slurmctld nothing and the last answer is
// served again. A fresh answer is freed as soon as the few kept jobs are copied out, and the heap it took (~1 KB
// a job) is handed back to the system rather than kept for the next sweep, seconds away.
Result<JobSweep> LibSlurmClient::sweep_jobs(const JobSweepFilter& filter) {
  bool same_filter = filter.all == swept_filter_.all && filter.name_prefix == swept_filter_.name_prefix &&
                     filter.admin_comment_contains == swept_filter_.admin_comment_contains;
  job_info_msg_t* msg = nullptr;
  if (slurm_load_jobs(same_filter ? swept_update_ : 0, &msg, SHOW_ALL) != SLURM_SUCCESS) {
    if (same_filter && swept_update_ != 0 && compat::last_errno() == SLURM_NO_CHANGE_IN_DATA) return swept_;
    return last_error("slurm_load_jobs");
  }
  JobSweep kept;
  kept.total = msg->record_count;
  for (uint32_t i = 0; i < msg->record_count; ++i) {
    const slurm_job_info_t& j = msg->job_array[i];
    if (filter.keeps(j.admin_comment, j.name)) kept.jobs.push_back(to_job(j));
    std::time_t eligible = j.eligible_time ? j.eligible_time : j.submit_time;
    if ((j.job_state & JOB_STATE_BASE) == JOB_PENDING && j.partition) kept.note_pending(j.partition, eligible);
    kept.tally(j.job_id, job_state(j.job_state), j.partition, j.user_id, eligible, j.start_time, j.end_time,
               filter.transitions_since);
  }
  swept_update_ = msg->last_update;
  bool large = msg->record_count > 1000;
  slurm_free_job_info_msg(msg);
  if (large) malloc_trim(0);
  swept_filter_ = filter;
  swept_ = kept;
  return kept;
}

Status LibSlurmClient::drain_node(const std::string& node, const std::string& reason) {
  return update_node_state(node, NODE_STATE_DRAIN, reason, "slurm_update_node(drain)");
}

Status LibSlurmClient::down_node(const std::string& node, const std::string& reason) {
  return update_node_state(node, NODE_STATE_DOWN, reason, "slurm_update_node(down)");
}

Status LibSlurmClient::resume_node(const std::string& node) {
  return update_node_state(node, NODE_RESUME, "", "slurm_update_node(resume)");
}

// libslurm has no public call for a reboot request (scontrol builds the RPC from internal headers), so scontrol
// itself is run: a fixed argv, no shell, the reason one argument, its SLURM_CONF this process's.
Status LibSlurmClient::reboot_node(const std::string& node, const std::string& reason) {
  std::vector<std::string> argv = {"scontrol", "reboot", "ASAP", "nextstate=DOWN", "reason=" + reason, node};
  auto ran = run_command(argv, std::chrono::seconds(30));
  if (!ran) return ran.error();
  if (ran->exit_code != 0)
    return Error{ran->exit_code, "scontrol reboot " + node + ": exit " + std::to_string(ran->exit_code) + ": " + ran->output};
  return ok_status();
}

Status LibSlurmClient::power_down_node(const std::string& node, const std::string& reason) {
  return update_node_state(node, compat::kPowerDownForce, reason, "slurm_update_node(power_down_force)");
}

Status LibSlurmClient::power_up_node(const std::string& node) {
  return update_node_state(node, compat::kPowerUp, "", "slurm_update_node(power_up)");
}

Status LibSlurmClient::requeue_job(uint32_t job_id, bool hold) {
  Status s = status_of(compat::requeue(job_id, hold ? JOB_REQUEUE_HOLD : 0), "slurm_requeue");
  // Not a batch job, or requeue disabled for it: no retry will change Slurm's mind.
  if (!s && (s.error().code == ESLURM_BATCH_ONLY || s.error().code == ESLURM_DISABLED)) {
    Error e = s.error();
    e.refusal = true;
    return e;
  }
  return s;
}

Status LibSlurmClient::hold_job(uint32_t job_id) {
  job_desc_msg_t msg = job_update(job_id);
  msg.priority = 0;
  return status_of(slurm_update_job(&msg), "slurm_update_job(hold)");
}

Status LibSlurmClient::release_job(uint32_t job_id) {
  job_desc_msg_t msg = job_update(job_id);
  msg.priority = INFINITE;  // what scontrol release sends: recompute the priority
  return status_of(slurm_update_job(&msg), "slurm_update_job(release)");
}

Status LibSlurmClient::start_job_now(uint32_t job_id) {
  job_desc_msg_t msg = job_update(job_id);
  msg.begin_time = std::time(nullptr);
  return status_of(slurm_update_job(&msg), "slurm_update_job(begin_time)");
}

Status LibSlurmClient::set_admin_comment(uint32_t job_id, const std::string& comment) {
  job_desc_msg_t msg = job_update(job_id);
  std::string text = comment;
  msg.admin_comment = text.data();
  return status_of(slurm_update_job(&msg), "slurm_update_job(admin_comment)");
}

Status LibSlurmClient::signal_job(uint32_t job_id, int signal) {
  return status_of(compat::kill_job(job_id, static_cast<uint16_t>(signal), KILL_FULL_JOB), "slurm_kill_job");
}

// A half-open TCP probe of the node's slurmd port (common/slurm/slurmd_probe.hpp): slurmd never sees a
// connection, so it logs nothing. Not an RPC: slurm_get_node_energy (the RPC this used) wrote a libslurm error
// line to the daemon's stderr on every dead node and, on 26.05 without an energy plugin, returns a pointer that
// aborts when freed; a plain connect makes a live slurmd log two "Zero Bytes" errors.
Result<bool> LibSlurmClient::slurmd_answers(const std::string& node) {
  if (!node_msg_) return Error{0, "slurmd probe of " + node + ": no node table loaded yet"};
  for (uint32_t i = 0; i < node_msg_->record_count; ++i) {
    const node_info_t& n = node_msg_->node_array[i];
    if (!n.name || node != n.name) continue;
    std::string host = str(n.node_addr).empty() ? str(n.node_hostname) : str(n.node_addr);
    if (host.empty()) host = node;
    return tcp_port_answers(host, n.port, std::chrono::seconds(2));
  }
  return Error{0, "slurmd probe: no node \"" + node + "\" in Slurm's node table"};
}

Result<std::vector<Reservation>> LibSlurmClient::load_reservations() {
  reserve_info_msg_t* msg = nullptr;
  if (slurm_load_reservations(0, &msg) != SLURM_SUCCESS) return last_error("slurm_load_reservations");
  std::vector<Reservation> out;
  for (uint32_t i = 0; i < msg->record_count; ++i) {
    const reserve_info_t& r = msg->reservation_array[i];
    out.push_back(Reservation{str(r.name), expand_hostlist(r.node_list), (r.flags & RESERVE_FLAG_MAINT) != 0, r.end_time});
  }
  slurm_free_reservation_info_msg(msg);
  return out;
}

// MAINT keeps the node out of every other job's reach (and out of utilization figures); IGNORE_JOBS lets the
// reservation be made on a node Slurm still thinks busy (a replaced node's old jobs may linger COMPLETING).
Status LibSlurmClient::create_maintenance_reservation(const std::string& name, const std::string& node,
                                                      std::chrono::seconds duration) {
  resv_desc_msg_t msg;
  slurm_init_resv_desc_msg(&msg);
  std::string resv = name, nodes = node, users = "root";
  msg.name = resv.data();
  msg.node_list = nodes.data();
  msg.users = users.data();
  msg.start_time = std::time(nullptr);
  msg.duration = static_cast<uint32_t>((duration.count() + 59) / 60);
  msg.flags = RESERVE_FLAG_MAINT | RESERVE_FLAG_IGN_JOBS;
  char* created = slurm_create_reservation(&msg);
  if (!created) return last_error("slurm_create_reservation");
  compat::free_reservation_name(created);
  return ok_status();
}

Status LibSlurmClient::delete_reservation(const std::string& name) {
  std::string resv = name;
  reservation_name_msg_t msg{};
  msg.name = resv.data();
  Status s = status_of(slurm_delete_reservation(&msg), "slurm_delete_reservation");
  if (!s && s.error().code == ESLURM_RESERVATION_INVALID) return ok_status();  // already gone: the goal holds
  return s;
}

Result<uint32_t> LibSlurmClient::submit_validation_job(const ValidationJobSpec& spec) {
  job_desc_msg_t job;
  slurm_init_job_desc_msg(&job);
  std::string name = spec.name, node = spec.node, partition = spec.partition, resv = spec.reservation,
              script = spec.script, out = "/dev/null", cwd = "/", path = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
  char* env[] = {path.data()};
  job.name = name.data();
  job.req_nodes = node.data();
  job.min_nodes = 1;
  job.max_nodes = 1;
  if (!partition.empty()) job.partition = partition.data();
  job.reservation = resv.data();
  job.script = script.data();
  job.std_out = out.data();
  job.std_err = out.data();
  job.work_dir = cwd.data();
  job.environment = env;
  job.env_size = 1;
  job.user_id = 0;
  job.group_id = 0;
  job.shared = 0;  // the whole node: nothing else runs beside a validation
  job.requeue = 0;
  job.time_limit = spec.time_limit_minutes;
  std::string gres = spec.gpus > 0 ? std::string(compat::kGresTresPrefix) + "gpu:" + std::to_string(spec.gpus) : "";
  if (!gres.empty()) job.tres_per_node = gres.data();
  submit_response_msg_t* resp = nullptr;
  if (slurm_submit_batch_job(&job, &resp) != SLURM_SUCCESS) return last_error("slurm_submit_batch_job");
  uint32_t id = compat::job_id_of(*resp);
  slurm_free_submit_response_response_msg(resp);
  return id;
}

Result<std::vector<JobStep>> LibSlurmClient::load_steps(uint32_t job_id) {
  job_step_info_response_msg_t* resp = nullptr;
  if (compat::get_job_steps(&slurm_get_job_steps, job_id, &resp, SHOW_ALL) != SLURM_SUCCESS)
    return last_error("slurm_get_job_steps");
  std::vector<JobStep> out;
  for (uint32_t i = 0; i < resp->job_step_count; ++i) {
    const job_step_info_t& s = resp->job_steps[i];
    if (s.step_id.job_id != job_id) continue;
    out.push_back(JobStep{s.step_id.step_id, expand_hostlist(s.nodes)});
  }
  slurm_free_job_step_info_response_msg(resp);
  return out;
}

Status LibSlurmClient::signal_step(uint32_t job_id, uint32_t step_id, int signal) {
  Status s = status_of(compat::kill_step(&slurm_kill_job_step, job_id, step_id, static_cast<uint16_t>(signal)),
                       "slurm_kill_job_step");
  if (!s && (s.error().code == ESLURM_ALREADY_DONE || s.error().code == ESLURM_INVALID_JOB_ID)) return ok_status();
  return s;
}

// KILL_JOB_BATCH | KILL_FULL_JOB: the batch step's slurmstepd sends it to the script's process group (killpg), where
// the script's own sruns run; without KILL_FULL_JOB only the script's shell would get it.
Status LibSlurmClient::signal_batch_script(uint32_t job_id, int signal) {
  return status_of(compat::kill_job(job_id, static_cast<uint16_t>(signal), KILL_JOB_BATCH | KILL_FULL_JOB),
                   "slurm_kill_job(batch script)");
}

// NodeList= on a running job keeps those nodes and releases the others (killing its steps' tasks there); Slurm
// refuses to release the batch host.
Status LibSlurmClient::shrink_job(uint32_t job_id, const std::vector<std::string>& keep) {
  job_desc_msg_t msg = job_update(job_id);
  std::string nodes;
  for (const auto& n : keep) nodes += (nodes.empty() ? "" : ",") + n;
  msg.req_nodes = nodes.data();
  return status_of(slurm_update_job(&msg), "slurm_update_job(NodeList, shrink)");
}

// An allocation, not a batch job: a job with a step (a batch script is one) cannot be merged into another.
Result<uint32_t> LibSlurmClient::allocate_expansion(const ExpansionSpec& spec) {
  job_desc_msg_t job;
  slurm_init_job_desc_msg(&job);
  std::string name = spec.name, partition = spec.partition, account = spec.account,
              dependency = "expand:" + std::to_string(spec.job_id), exclude, cwd = "/";
  for (const auto& n : spec.exclude) exclude += (exclude.empty() ? "" : ",") + n;
  job.name = name.data();
  job.min_nodes = 1;
  job.max_nodes = 1;
  if (!partition.empty()) job.partition = partition.data();
  if (!account.empty()) job.account = account.data();
  if (!exclude.empty()) job.exc_nodes = exclude.data();
  job.dependency = dependency.data();
  job.user_id = spec.user_id;
  job.group_id = spec.group_id;
  job.work_dir = cwd.data();
  job.immediate = 0;
  resource_allocation_response_msg_t* resp = nullptr;
  if (slurm_allocate_resources(&job, &resp) != SLURM_SUCCESS) return last_error("slurm_allocate_resources(expand)");
  uint32_t id = compat::job_id_of(*resp);
  slurm_free_resource_allocation_response_msg(resp);
  return id;
}

// NumNodes=0 on the expansion allocation: its nodes move into the job it expands, and it ends.
Status LibSlurmClient::merge_expansion(uint32_t expansion_job_id) {
  job_desc_msg_t msg = job_update(expansion_job_id);
  msg.min_nodes = 0;
  return status_of(slurm_update_job(&msg), "slurm_update_job(NumNodes=0, merge)");
}

Result<SlurmSettings> LibSlurmClient::load_settings() {
  slurm_conf_t* conf = nullptr;
  if (slurm_load_ctl_conf(0, &conf) != SLURM_SUCCESS) return last_error("slurm_load_ctl_conf");
  SlurmSettings s;
  s.scheduler_parameters = str(conf->sched_params);
  s.accounting_storage_type = str(conf->accounting_storage_type);
  s.reboot_program = str(conf->reboot_program);
  s.suspend_program = str(conf->suspend_program);
  s.resume_program = str(conf->resume_program);
  s.resume_timeout = conf->resume_timeout;
  s.suspend_timeout = conf->suspend_timeout;
  for (uint32_t i = 0; i < conf->control_cnt; ++i) s.controllers.push_back(str(conf->control_machine[i]));
  s.slurmctld_timeout = conf->slurmctld_timeout;
  s.state_save_location = str(conf->state_save_location);
  s.slurmd_timeout = conf->slurmd_timeout;
  s.message_timeout = conf->msg_timeout;
  s.powered_down_hidden = compat::powered_down_cloud_nodes_hidden(conf);
  compat::free_ctl_conf(conf);
  return s;
}

Result<bool> LibSlurmClient::ping_controller(int index) { return slurm_ping(index) == SLURM_SUCCESS; }

Status LibSlurmClient::cancel_job(uint32_t job_id) {
  Status s = status_of(compat::kill_job(job_id, SIGKILL, 0), "slurm_kill_job(cancel)");
  if (!s && s.error().code == ESLURM_ALREADY_DONE) return ok_status();
  return s;
}

}  // namespace autoresume
