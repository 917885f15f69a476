// SPDX-License-Identifier: GPL-2.0-or-later
// A devcluster with the auto-resume plugin and controller, the example step counter, and readers of the
// controller's journal: shared by the controller and node lifecycle tests.
#pragma once

#include "catch_compat.hpp"
#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "devcluster.hpp"
#include "store/store.hpp"

namespace autoresume::testing {
using namespace std::chrono_literals;


struct ResumeCluster {
  DevCluster c;
  explicit ResumeCluster(const std::string& name, const std::vector<std::string>& controller_conf = {},
                         const std::string& controller_env = "", int nodes = 4)
      : c(name, options(name, nodes)) {
    c.start_controller(controller_conf, controller_env);
  }
  // A cluster with these options (the plugin's plugstack among them: see options()).
  ResumeCluster(ClusterOptions o, const std::string& name, const std::string& controller_env = "") : c(name, std::move(o)) {
    c.start_controller({}, controller_env);
  }
  ResumeCluster(ClusterOptions o, const std::string& name, const std::vector<std::string>& controller_conf)
      : c(name, std::move(o)) {
    c.start_controller(controller_conf, "");
  }
  static ClusterOptions options(const std::string& name, int nodes) {
    ClusterOptions o;
    o.plugstack = plugstack_with_plugin(name);
    o.nodes = nodes;
    return o;
  }
  // The example step counter on two nodes; its checkpoint and step log in the work dir.
  uint32_t submit_counter(const std::string& flags, int steps = 30) {
    return c.sbatch_as(as_user("env STEP_COUNTER=" + source_dir() + "/examples/step_counter.py STEPS=" +
                               std::to_string(steps) + " STEP_SECONDS=0.4 sbatch --parsable -o counter.out " + flags +
                               " " + source_dir() + "/examples/step_counter.sbatch " + c.work_dir()));
  }
  std::string steps_log() { return read_file(c.work_dir() + "/steps.log"); }
  int checkpoint() {
    std::smatch m;
    std::string s = read_file(c.work_dir() + "/counter.ckpt");
    return std::regex_search(s, m, std::regex("\"step\": ([0-9]+)")) ? std::stoi(m[1]) : 0;
  }
  void wait_running(uint32_t id) {
    REQUIRE(wait_until(30s, [&] { return c.job(id).state == JobState::Running; }));
  }
  // Running, and the counter's step running on every node: its first step is logged only after every rank
  // passed the barrier. Slurm reports the job RUNNING before srun launched the step; a node killed in between
  // fails the launch, and the batch script exits by itself (exit 141: srun's SIGPIPE) before Slurm declares the
  // node dead, which is not the failure a test of "a running job's node dies" means (seen on 26.05 in CI).
  void wait_stepping(uint32_t id) {
    wait_running(id);
    REQUIRE(wait_until(30s, [&] { return !steps_log().empty(); }));
  }
  // Rows of the controller's journal (actions) or history (events) of one kind, read from its database.
  template <typename Row>
  std::vector<Row> rows(const std::string& kind) {
    auto store = Store::open(c.controller_db());
    REQUIRE(store.ok());
    std::vector<Row> out;
    if constexpr (std::is_same_v<Row, ActionRow>) out = store.value()->actions();
    else out = store.value()->events();
    std::erase_if(out, [&](const Row& r) { return r.kind != kind; });
    return out;
  }
  std::vector<ActionRow> actions(const std::string& kind) { return rows<ActionRow>(kind); }
  std::vector<ActionRow> store_actions() {
    auto store = Store::open(c.controller_db());
    REQUIRE(store.ok());
    return store.value()->actions();
  }
  std::vector<EventRow> events(const std::string& kind) { return rows<EventRow>(kind); }
  void admin(const std::string& node, const std::string& state, const std::string& reason) {
    auto r = c.sh("scontrol update nodename=" + node + " state=" + state + " reason='" + reason + "'");
    INFO(r.out);
    REQUIRE(r.rc == 0);
  }
};

// The job's own account of where attempt 1 resumed ("attempt=1 resuming from step N").
inline std::string cluster_dir(const std::string& name) { return std::string(AUTORESUME_ITEST_ROOT) + "/" + name; }

// The local cluster's replace program for the cluster `name` (a fresh slurmd under the node's name), as a
// controller configuration line; `before`: shell commands to run first.
inline std::string replace_program(const std::string& name, const std::string& before = "") {
  return "ReplaceProgram=" + before + source_dir() + "/scripts/devcluster replace-node --dir " + cluster_dir(name);
}

inline int resumed_from(const std::string& out) {
  std::smatch m;
  INFO(out);
  REQUIRE(std::regex_search(out, m, std::regex("attempt=1 resuming from step ([0-9]+)")));
  return std::stoi(m[1]);
}

// Every step is in the log; steps up to the checkpoint attempt 1 resumed from were done by attempt 0 only, every
// later step by attempt 1 (and, if it ran before the failure but after the checkpoint, by attempt 0 too): nothing
// before the checkpoint was redone, nothing after it was lost.
inline void check_steps_resumed_once(const std::string& log, const std::string& out, int steps) {
  int from = resumed_from(out);
  INFO(log << "\nresumed from step " << from);
  CHECK(from > 0);
  std::map<int, std::multiset<int>> attempts_of;
  std::regex line("step ([0-9]+) attempt ([0-9]+)");
  for (std::sregex_iterator it(log.begin(), log.end(), line), end; it != end; ++it)
    attempts_of[std::stoi((*it)[1])].insert(std::stoi((*it)[2]));
  REQUIRE(static_cast<int>(attempts_of.size()) == steps);
  for (auto& [step, attempts] : attempts_of) {
    INFO("step " << step);
    if (step <= from) CHECK(attempts == std::multiset<int>{0});
    else CHECK(attempts.count(1) == 1);
  }
}

// Rewrites a node's fake GPU state in one rename (the agent re-reads it on every NVML call).
inline void set_gpu(DevCluster& c, const std::string& node, unsigned temperature, const std::string& xids = "[]") {
  std::string path = c.dir() + "/gpus-" + node + ".json";
  std::ofstream(path + ".tmp") << R"({"gpus": [{"name": "Fake H200", "uuid": "GPU-)" << node << R"(-0", "temperature": )"
                               << temperature << R"(, "ecc_uncorrected": 0, "remapped": {"correctable": 0, "uncorrectable": 0,)"
                               << R"( "pending": 0, "failure": 0}}], "xids": )" << xids << "}";
  std::rename((path + ".tmp").c_str(), path.c_str());
}

// `autoresume-agent run` on every node (devcluster start-agents), each started once it logged agent_started.
inline void start_agents(DevCluster& c, const std::string& args = "") {
  c.devcluster("start-agents" + args);
  REQUIRE(wait_until(15s, [&] {
    auto started = run("grep -l agent_started " + c.dir() + "/log/agent-*.log | wc -l");
    std::string n = started.out;
    while (!n.empty() && (n.back() == '\n' || n.back() == ' ')) n.pop_back();
    return std::stoi(n) == static_cast<int>((*c.slurm().load_nodes())->size());
  }));
}

}  // namespace autoresume::testing
