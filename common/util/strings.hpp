// SPDX-License-Identifier: GPL-2.0-or-later
// Comma-separated lists, as Slurm writes them (partitions) and as the store keeps node and step lists.
#pragma once

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

namespace autoresume {

inline std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

inline std::string join_commas(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

// Ids (job or step ids) joined with commas; "" for none.
inline std::string join_ids(const std::vector<uint32_t>& ids) {
  std::string out;
  for (uint32_t id : ids) out += (out.empty() ? "" : ",") + std::to_string(id);
  return out;
}

}  // namespace autoresume
