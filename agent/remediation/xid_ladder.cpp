// SPDX-License-Identifier: GPL-2.0-or-later
#include "remediation/xid_ladder.hpp"

#include <array>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace autoresume::agent {
namespace {

constexpr std::array<std::pair<Rung, const char*>, 4> kNames = {{
    {Rung::RestartApp, "restart_app"}, {Rung::ResetGpu, "reset_gpu"}, {Rung::Reboot, "reboot"}, {Rung::Replace, "replace"},
}};

}  // namespace

const char* to_string(Rung r) {
  for (const auto& [rung, name] : kNames)
    if (rung == r) return name;
  return "replace";
}

std::optional<Rung> parse_rung(const std::string& text) {
  for (const auto& [rung, name] : kNames)
    if (text == name) return rung;
  return std::nullopt;
}

// After NVIDIA's XID catalogue (its "resolution bucket" per XID). Application-caused XIDs (13 graphics engine
// exception, 31 MMU fault, 43 GPU stopped processing) are not in it: a user's bug would drain node after node; a
// site that wants them adds "13 restart_app" to its --xid-ladder file.
const XidTable& default_xid_table() {
  static const XidTable table = {
      {94, Rung::RestartApp},  // contained ECC error: the application that hit it is stopped, the GPU is sound
      {48, Rung::ResetGpu},    // double-bit ECC error: a reset brings the row remap into effect
      {62, Rung::ResetGpu},    // internal micro-controller halt
      {63, Rung::ResetGpu},    // row remapping recorded: pending until a reset
      {64, Rung::ResetGpu},    // row remapping failure: a reset, and if it comes back, the ladder goes on
      {74, Rung::ResetGpu},    // NVLink error
      {92, Rung::ResetGpu},    // high single-bit ECC error rate
      {95, Rung::ResetGpu},    // uncontained ECC error
      {119, Rung::ResetGpu},   // GSP RPC timeout
      {120, Rung::ResetGpu},   // GSP error
      {79, Rung::Reboot},      // fallen off the bus: only a reboot brings it back
  };
  return table;
}

Result<XidTable> parse_xid_table(const std::string& text, const std::string& origin, XidTable table) {
  std::istringstream in(text);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    line = line.substr(0, line.find('#'));
    std::istringstream words(line);
    std::string xid, rung, extra;
    if (!(words >> xid)) continue;
    auto where = origin + ":" + std::to_string(number) + ": ";
    words >> rung >> extra;
    if (xid.find_first_not_of("0123456789") != std::string::npos || xid.size() > 6)
      return Error{0, where + "expected an XID number, got \"" + xid + "\""};
    if (!extra.empty()) return Error{0, where + "expected \"XID RUNG\", got more: \"" + extra + "\""};
    auto n = std::stoull(xid);
    if (rung == "none") {
      table.erase(n);
      continue;
    }
    auto r = parse_rung(rung);
    if (!r) return Error{0, where + "XID " + xid + ": expected restart_app, reset_gpu, reboot, replace or none, got \"" + rung + "\""};
    table[n] = *r;
  }
  return table;
}

Result<XidTable> load_xid_table(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error{0, path + ": cannot be read"};
  std::stringstream text;
  text << in.rdbuf();
  return parse_xid_table(text.str(), path, default_xid_table());
}

LadderState::LadderState(std::string path, double window_s) : path_(std::move(path)), window_s_(window_s) {
  if (path_.empty()) return;
  std::ifstream in(path_);
  if (!in) return;  // none yet
  // Written by the agent alone (root, its own directory); still read defensively: a torn file forgets, never throws.
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (!j.is_object()) return;
  for (const auto& [gpu, rungs] : j.items()) {
    if (!rungs.is_object() || gpu.empty() || gpu.size() > 4 || gpu.find_first_not_of("0123456789") != std::string::npos) continue;
    for (const auto& [name, at] : rungs.items()) {
      auto r = parse_rung(name);
      if (r && at.is_number()) tried_[static_cast<unsigned>(std::stoul(gpu))][*r] = at.get<double>();
    }
  }
}

Rung LadderState::choose(unsigned gpu, Rung wanted, double now) {
  auto& tried = tried_[gpu];
  std::erase_if(tried, [&](const auto& entry) { return now - entry.second > window_s_; });
  Rung r = wanted;
  while (r != Rung::Replace && tried.count(r)) r = static_cast<Rung>(static_cast<int>(r) + 1);
  tried[r] = now;
  save();
  return r;
}

void LadderState::save() {
  if (path_.empty()) return;
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [gpu, rungs] : tried_)
    for (const auto& [r, at] : rungs) j[std::to_string(gpu)][to_string(r)] = at;
  std::string tmp = path_ + ".tmp";
  {
    std::ofstream out(tmp);
    out << j.dump() << "\n";
    if (!out) {
      save_error_ = tmp + ": cannot be written";
      return;
    }
  }
  save_error_ = std::rename(tmp.c_str(), path_.c_str()) == 0 ? "" : path_ + ": cannot be replaced";
}

}  // namespace autoresume::agent
