// SPDX-License-Identifier: GPL-2.0-or-later
#include "engine/snapshot.hpp"

namespace autoresume {

const Node* ControllerSnapshot::node(const std::string& name) const { return nodes->find(name); }

const Job* ControllerSnapshot::job(uint32_t id) const {
  for (const auto& j : jobs)
    if (j.id == id) return &j;
  return nullptr;
}

NodePhase ControllerSnapshot::phase_of(const std::string& node) const {
  auto it = node_records.find(node);
  return it == node_records.end() ? NodePhase::Healthy : it->second.phase;
}

}  // namespace autoresume
