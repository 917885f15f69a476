// SPDX-License-Identifier: GPL-2.0-or-later
#include "node_drain.hpp"

#include "autoresume/reasons.hpp"

namespace autoresume::agent {

std::string drain_reason(const std::vector<CheckResult>& results) {
  for (const auto& r : results)
    if (r.verdict == Verdict::Fail && !r.resource) return std::string(kReasonPrefix) + " " + r.name + ": " + r.detail;
  return "";
}

std::string resource_drain_reason(const std::vector<CheckResult>& results) {
  for (const auto& r : results)
    if (r.verdict == Verdict::Fail && r.resource) return std::string(kResourceReasonPrefix) + " " + r.name + ": " + r.detail;
  return "";
}

std::string undrain_resource(SlurmClient& slurm, const std::string& node) {
  auto nodes = slurm.load_nodes();
  if (!nodes) return "not undrained: " + nodes.error().message;
  for (const Node& n : **nodes) {
    if (n.name != node) continue;
    if (!n.drain || n.down() || n.fail || reason_class(n.reason) != ReasonClass::Resource) return "";
    auto s = slurm.resume_node(node);
    return s ? "undrained " + node + " (was: " + n.reason + ")" : "not undrained: " + s.error().message;
  }
  return "not undrained: no node \"" + node + "\" in Slurm";
}

std::string drain_own_node(SlurmClient& slurm, const std::string& node, const std::string& reason) {
  auto nodes = slurm.load_nodes();
  if (!nodes) return "not drained: " + nodes.error().message;
  for (const Node& n : **nodes) {
    if (n.name != node) continue;
    bool taken = n.out_of_service();
    if (taken && n.reason.rfind(kReasonPrefix, 0) == 0) return "already drained by auto-resume: " + n.reason;
    if (taken && !n.reason.empty()) return "not drained: the node already carries someone else's reason: " + n.reason;
    auto s = slurm.drain_node(node, reason);
    return s ? "drained " + node + ": " + reason : "not drained: " + s.error().message;
  }
  return "not drained: no node \"" + node + "\" in Slurm";
}

std::optional<unsigned> gpu_count_in_gres(const std::string& gres) {
  std::optional<unsigned> total;
  size_t start = 0;
  while (start < gres.size()) {
    size_t comma = gres.find(',', start);
    std::string item = gres.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? gres.size() : comma + 1;
    item = item.substr(0, item.find('('));  // "(S:0-1)": socket binding
    if (item.rfind("gpu:", 0) != 0) continue;
    std::string count = item.substr(item.rfind(':') + 1);
    if (count.empty() || count.find_first_not_of("0123456789") != std::string::npos || count.size() > 6)
      continue;  // "gpu:h200": no count; more than 6 digits: not a count (and stoul would throw)
    total = total.value_or(0) + static_cast<unsigned>(std::stoul(count));
  }
  return total;
}

std::optional<unsigned> expected_gpus_from_slurm(SlurmClient& slurm, const std::string& node) {
  auto nodes = slurm.load_nodes();
  if (!nodes) return std::nullopt;
  for (const Node& n : **nodes)
    if (n.name == node) return gpu_count_in_gres(n.gres);
  return std::nullopt;
}

}  // namespace autoresume::agent
