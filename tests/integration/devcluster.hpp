// SPDX-License-Identifier: GPL-2.0-or-later
// Integration-test fixture: a real cluster from scripts/devcluster, up in the constructor and down in the
// destructor (so also when a REQUIRE fails). Commands run through a shell with this cluster's SLURM_CONF.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "slurm/libslurm_client.hpp"

namespace autoresume::testing {

struct CommandResult {
  int rc = -1;
  std::string out;  // stdout and stderr together
};

// Runs `sh -c command`, output captured.
CommandResult run(const std::string& command);
std::string read_file(const std::string& path);

std::string source_dir();
std::string binary_dir();

// A plugstack.conf loading the built auto_resume.so (`required`, with these plugin arguments); returns its path.
std::string plugstack_with_plugin(const std::string& name, const std::string& args = "");

// The unprivileged user scripts/setup creates: jobs of real users are not root's.
inline constexpr const char* kTestUser = "artest";
// Prefix for a command run as kTestUser (environment kept, so SLURM_CONF too).
inline std::string as_user(const std::string& command) { return std::string("runuser -u ") + kTestUser + " -- " + command; }

struct ClusterOptions {
  int nodes = 4;
  std::string plugstack;  // file for PlugStackConfig; empty: no plugins
  std::vector<std::string> extra_conf;
  int cred_expire = 120;
  int slurmd_timeout = 10;
  int gpus = 0;  // a count-only gpu GRES per node (scripts/devcluster --gpus)
  bool accounting = false;  // a real slurmdbd on a real MariaDB (scripts/devcluster --accounting)
  bool power_save = false;  // CLOUD nodes with power saving (scripts/devcluster --power-save)
  int resume_timeout = 0;   // its ResumeTimeout; 0: devcluster's default
  bool reboot_program = false;  // slurm.conf's RebootProgram (scripts/devcluster --reboot-program)
  bool backup_ctld = false;     // a primary and a backup slurmctld (scripts/devcluster --backup-ctld)
};

class DevCluster {
 public:
  // name: a short directory name under the build's integration root; unique per test case.
  explicit DevCluster(const std::string& name, ClusterOptions options = {});
  ~DevCluster();
  DevCluster(const DevCluster&) = delete;
  DevCluster& operator=(const DevCluster&) = delete;

  const std::string& dir() const { return dir_; }
  std::string conf() const { return dir_ + "/slurm.conf"; }
  // A directory every user can write job output to.
  std::string work_dir() const { return dir_ + "/work"; }

  // `command` with SLURM_CONF set for this cluster.
  CommandResult sh(const std::string& command) const;
  // sbatch ARGS; returns the job id, fails the test if submission failed.
  uint32_t sbatch(const std::string& args) const;
  // Runs a full submission command that prints the job id (sbatch --parsable ..., possibly as_user(...)).
  uint32_t sbatch_as(const std::string& command) const;
  void devcluster(const std::string& subcommand) const;  // kill-node n2, start-node n2, restart-ctld ...
  void kill_node(const std::string& node) const { devcluster("kill-node " + node); }
  void start_node(const std::string& node) const { devcluster("start-node " + node); }
  std::vector<int> pids() const;
  // autoresumed for this cluster, with extra config lines; `env` is prefixed to the command (VAR=value ...).
  void start_controller(const std::vector<std::string>& conf = {}, const std::string& env = "") const;
  std::string controller_db() const { return dir_ + "/autoresume/autoresume.db"; }
  std::string controller_log() const { return read_file(dir_ + "/log/autoresumed.log"); }

  // libslurm view of this cluster. Only one cluster per process may use it (libslurm's config is global).
  LibSlurmClient& slurm();
  Node node(const std::string& name);
  Job job(uint32_t id);

 private:
  std::string dir_;
  std::unique_ptr<LibSlurmClient> slurm_;
};

// Polls `done` every 200 ms until it holds or `timeout` passes; returns whether it held.
bool wait_until(std::chrono::duration<double> timeout, const std::function<bool()>& done);

std::string read_file(const std::string& path);

}  // namespace autoresume::testing
