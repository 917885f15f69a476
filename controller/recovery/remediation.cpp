// SPDX-License-Identifier: GPL-2.0-or-later
#include "recovery/remediation.hpp"

#include <fnmatch.h>

#include <array>

#include "config/config.hpp"
#include "util/strings.hpp"

namespace autoresume {
namespace {

constexpr std::array<std::pair<Method, const char*>, 7> kNames = {{
    {Method::Auto, "auto"}, {Method::Program, "program"}, {Method::Reboot, "reboot"},
    {Method::PowerCycle, "power_cycle"}, {Method::None, "none"}, {Method::GpuReset, "gpu_reset"},
    {Method::Restart, "restart"},
}};

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t");
  auto e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// The rungs in the order they are climbed.
constexpr std::array<const char*, 4> kLadder = {"restart_app", "reset_gpu", "reboot", "replace"};

}  // namespace

const char* to_string(Method m) {
  for (const auto& [method, name] : kNames)
    if (method == m) return name;
  return "unknown";
}

std::optional<Method> parse_method(const std::string& text) {
  for (const auto& [method, name] : kNames)
    if (text == name) return method;
  return std::nullopt;
}

Method MethodChoice::for_node(const std::string& node) const {
  for (const auto& [glob, method] : rules)
    if (fnmatch(glob.c_str(), node.c_str(), 0) == 0) return method;
  return fallback;
}

Result<MethodChoice> parse_method_choice(const std::string& text) {
  const std::string expected = "expected auto, program, reboot, power_cycle or none, then NODEGLOB:METHOD items "
                               "(e.g. power_cycle,gpu-onprem*:reboot)";
  MethodChoice choice;
  auto items = split_commas(text);
  if (items.empty()) return Error{0, expected};
  for (size_t i = 0; i < items.size(); ++i) {
    std::string item = trim(items[i]);
    auto colon = item.rfind(':');
    auto configurable = [](std::optional<Method> m) { return m && *m != Method::GpuReset && *m != Method::Restart; };
    if (i == 0) {
      auto m = parse_method(item);
      if (!configurable(m)) return Error{0, "\"" + item + "\": " + expected};
      choice.fallback = *m;
      continue;
    }
    if (colon == std::string::npos || colon == 0) return Error{0, "\"" + item + "\": " + expected};
    auto m = parse_method(item.substr(colon + 1));
    if (!configurable(m)) return Error{0, "\"" + item + "\": " + expected};
    choice.rules.emplace_back(item.substr(0, colon), *m);
  }
  return choice;
}

std::optional<std::string> ladder_rung(const std::string& reason) {
  for (const char* rung : kLadder)
    if (reason.find(std::string("[") + rung + "]") != std::string::npos ||
        reason.find(std::string("[") + rung + ":") != std::string::npos)
      return std::string(rung);
  return std::nullopt;
}

std::string escalate(const std::string& action) {
  for (size_t i = 0; i + 1 < kLadder.size(); ++i)
    if (action == kLadder[i]) return kLadder[i + 1];
  return "replace";
}

Method resolve_method(const std::string& action, const std::string& node, const Config& config, const SlurmSettings* slurm) {
  if (action == "restart_app") return Method::Restart;
  if (action == "reset_gpu") return Method::GpuReset;
  bool reboot = action == "reboot";
  Method m = (reboot ? config.reboot_method : config.replace_method).for_node(node);
  if (m != Method::Auto) return m;
  bool program = !config.replace_program.empty() || (reboot && !config.reboot_program.empty());
  if (!slurm && !program) return Method::Auto;  // slurm.conf not read yet: decided once it is
  bool power = slurm && slurm->power_cycle_missing().empty();
  bool slurm_reboot = slurm && !slurm->reboot_program.empty();
  if (reboot) {
    if (!config.reboot_program.empty()) return Method::Program;
    if (slurm_reboot) return Method::Reboot;
    if (power) return Method::PowerCycle;
    return config.replace_program.empty() ? Method::None : Method::Program;
  }
  if (!config.replace_program.empty()) return Method::Program;
  if (power) return Method::PowerCycle;
  if (slurm_reboot) return Method::Reboot;
  return Method::None;
}

}  // namespace autoresume
