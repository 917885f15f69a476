// SPDX-License-Identifier: GPL-2.0-or-later
#include "model/cluster.hpp"

#include <algorithm>
#include <cstring>

#include "util/strings.hpp"

namespace autoresume {

NodeTable::NodeTable(std::vector<Node> nodes) : nodes_(std::move(nodes)) {
  index_.reserve(nodes_.size());
  for (size_t i = 0; i < nodes_.size(); ++i) index_.emplace(nodes_[i].name, i);
}

bool JobSweepFilter::keeps(const char* admin_comment, const char* name) const {
  if (all) return true;
  if (!admin_comment_contains.empty() && admin_comment && std::strstr(admin_comment, admin_comment_contains.c_str()))
    return true;
  return !name_prefix.empty() && name && std::strncmp(name, name_prefix.c_str(), name_prefix.size()) == 0;
}

void JobSweep::note_pending(const std::string& partitions, std::time_t since) {
  for (const auto& part : split_commas(partitions)) {
    auto [it, fresh] = oldest_pending_since.emplace(part, since);
    if (!fresh && since < it->second) it->second = since;
  }
}

void JobSweep::tally(uint32_t id, JobState state, const char* partition, uint32_t user_id, std::time_t eligible,
                     std::time_t start, std::time_t end, std::time_t since) {
  std::string part = partition ? partition : "";
  bool live = state == JobState::Pending || state == JobState::Running || state == JobState::Suspended;
  if (live) ++active[{state, part, user_id}];
  if (since == 0 || state == JobState::Pending) return;
  // A job that started and ended between two sweeps is seen only ended: its start is listed too.
  if ((state == JobState::Running || !live) && start > 0 && start >= since)
    started.push_back({id, JobState::Running, part, user_id, start,
                       eligible > 0 && start > eligible ? static_cast<double>(start - eligible) : 0});
  if (!live && state != JobState::Unknown && end > 0 && end >= since) ended.push_back({id, state, part, user_id, end, 0});
}

const Node* NodeTable::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &nodes_[it->second];
}

const char* to_string(JobState s) {
  switch (s) {
    case JobState::Pending: return "PENDING";
    case JobState::Running: return "RUNNING";
    case JobState::Suspended: return "SUSPENDED";
    case JobState::Completed: return "COMPLETED";
    case JobState::Cancelled: return "CANCELLED";
    case JobState::Failed: return "FAILED";
    case JobState::Timeout: return "TIMEOUT";
    case JobState::NodeFail: return "NODE_FAIL";
    case JobState::Preempted: return "PREEMPTED";
    case JobState::BootFail: return "BOOT_FAIL";
    case JobState::Deadline: return "DEADLINE";
    case JobState::OutOfMemory: return "OUT_OF_MEMORY";
    case JobState::Unknown: break;
  }
  return "UNKNOWN";
}

const char* to_string(NodeBase b) {
  switch (b) {
    case NodeBase::Down: return "DOWN";
    case NodeBase::Idle: return "IDLE";
    case NodeBase::Allocated: return "ALLOCATED";
    case NodeBase::Mixed: return "MIXED";
    case NodeBase::Future: return "FUTURE";
    case NodeBase::Unknown: break;
  }
  return "UNKNOWN";
}

uint32_t Node::gpu_count() const {
  // Items split at top-level commas ("(S:0,2)" belongs to its item); each is NAME[:TYPE]:COUNT[(SOCKETS)].
  uint64_t total = 0;
  std::string item;
  int depth = 0;
  auto add = [&] {
    std::string plain = item.substr(0, item.find('('));
    item.clear();
    auto first = plain.find(':'), last = plain.rfind(':');
    if (first == std::string::npos || plain.substr(0, first) != "gpu") return;
    const std::string count = plain.substr(last + 1);
    if (count.empty() || count.find_first_not_of("0123456789") != std::string::npos || count.size() > 6) return;
    total += std::stoul(count);
  };
  for (char c : gres) {
    if (c == '(') ++depth;
    if (c == ')' && depth > 0) --depth;
    if (c == ',' && depth == 0) { add(); continue; }
    item += c;
  }
  add();
  return static_cast<uint32_t>(std::min<uint64_t>(total, UINT32_MAX));
}

std::vector<std::string> SlurmSettings::power_cycle_missing() const {
  std::vector<std::string> out;
  if (suspend_program.empty()) out.push_back("no SuspendProgram (power saving is off)");
  if (resume_program.empty()) out.push_back("no ResumeProgram (power saving is off)");
  if (powered_down_hidden)
    out.push_back("PrivateData lacks cloud: slurmctld hides powered-down CLOUD nodes, so a node cannot be followed "
                  "through its power cycle (Slurm 22.05; later releases always show them)");
  return out;
}

}  // namespace autoresume

namespace autoresume {

namespace {
bool has_word(const std::string& list, std::string_view word) {
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    std::string_view item(list.data() + start, end - start);
    if (item == word || item.substr(0, word.size() + 1) == std::string(word) + "=") return true;
    start = end + 1;
  }
  return false;
}
}  // namespace

bool SlurmSettings::can_expand_jobs() const {
  return has_word(scheduler_parameters, "permit_job_expansion") && accounting_storage_type.find("slurmdbd") != std::string::npos;
}

bool SlurmSettings::can_shrink_jobs() const { return !has_word(scheduler_parameters, "disable_job_shrink"); }

std::vector<std::string> SlurmSettings::in_place_missing() const {
  std::vector<std::string> out;
  if (!has_word(scheduler_parameters, "permit_job_expansion"))
    out.push_back("SchedulerParameters lacks permit_job_expansion (a swapped-in node joins the job through an "
                  "expansion allocation); now: \"" + scheduler_parameters + "\"");
  if (accounting_storage_type.find("slurmdbd") == std::string::npos)
    out.push_back("AccountingStorageType is not accounting_storage/slurmdbd (a resized job accepts no further update "
                  "until slurmdbd gives it a new accounting record); now: \"" + accounting_storage_type + "\"");
  if (!can_shrink_jobs())
    out.push_back("SchedulerParameters has disable_job_shrink (the failed node cannot leave the job)");
  return out;
}

std::string SlurmSettings::ping_timing_risk() const {
  if (slurmd_timeout == 0) return "";  // Slurm does not set nodes DOWN for silence
  // The age of a live node's last recorded answer when judged (see the header), plus a second for a loaded host.
  auto oldest_answer = [](uint32_t slurmd, uint32_t message) { return slurmd / 3 + 1 + message + 1 + 1; };
  if (oldest_answer(slurmd_timeout, message_timeout) < slurmd_timeout) return "";
  uint32_t enough = slurmd_timeout;
  while (oldest_answer(enough, message_timeout) >= enough) ++enough;
  std::string lower;
  for (uint32_t m = message_timeout; m-- > 1;)
    if (oldest_answer(slurmd_timeout, m) < slurmd_timeout) {
      lower = ", or lower MessageTimeout to " + std::to_string(m);
      break;
    }
  return "SlurmdTimeout=" + std::to_string(slurmd_timeout) + " is too short for MessageTimeout=" +
         std::to_string(message_timeout) + ": while a node is dead, slurmctld may set live nodes DOWN \"not responding\" "
         "(a ping round including the dead node lasts ~MessageTimeout+1 s, and a live node's answer in it is recorded "
         "only after the next round has judged the node on the answer before): raise SlurmdTimeout to " +
         std::to_string(enough) + " s or more" + lower;
}

}  // namespace autoresume
