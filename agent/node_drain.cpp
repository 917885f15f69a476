#include "node_drain.hpp"

#include "recovery/node_failure.hpp"

namespace autoresume::agent {

std::string drain_reason(const std::vector<CheckResult>& results) {
  for (const auto& r : results)
    if (r.verdict == Verdict::Fail) return std::string(kReasonPrefix) + " " + r.name + ": " + r.detail;
  return "";
}

std::string drain_own_node(SlurmClient& slurm, const std::string& node, const std::string& reason) {
  auto nodes = slurm.load_nodes();
  if (!nodes) return "not drained: " + nodes.error().message;
  for (const Node& n : *nodes) {
    if (n.name != node) continue;
    bool taken = n.drain || n.down() || n.fail;
    if (taken && n.reason.rfind(kReasonPrefix, 0) == 0) return "already drained by auto-resume: " + n.reason;
    if (taken && !n.reason.empty()) return "not drained: the node already carries someone else's reason: " + n.reason;
    auto s = slurm.drain_node(node, reason);
    return s ? "drained " + node + ": " + reason : "not drained: " + s.error().message;
  }
  return "not drained: no node \"" + node + "\" in Slurm";
}

}  // namespace autoresume::agent
