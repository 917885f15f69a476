// SPDX-License-Identifier: GPL-2.0-or-later
#include "devcluster.hpp"

#include <sys/wait.h>

#include "catch_compat.hpp"
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace autoresume::testing {

std::string source_dir() { return AUTORESUME_SOURCE_DIR; }
std::string binary_dir() { return AUTORESUME_BINARY_DIR; }

CommandResult run(const std::string& command) {
  CommandResult r;
  std::string wrapped = "(" + command + ") 2>&1";
  FILE* p = popen(wrapped.c_str(), "r");
  if (!p) throw std::runtime_error("popen failed: " + command);
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) r.out.append(buf, n);
  int status = pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

std::string plugstack_with_plugin(const std::string& name, const std::string& args) {
  std::string path = std::string(AUTORESUME_ITEST_ROOT) + "/" + name + ".plugstack.conf";
  run(std::string("mkdir -p ") + AUTORESUME_ITEST_ROOT);
  // Each cluster's jobs report progress into its own directory (the agents of `devcluster start-agents` read it).
  std::string progress = args.find("progress_dir=") == std::string::npos
                             ? " progress_dir=" + std::string(AUTORESUME_ITEST_ROOT) + "/" + name + "/progress"
                             : "";
  std::ofstream(path) << "required " << AUTORESUME_PLUGIN << " " << args << progress << "\n";
  return path;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool wait_until(std::chrono::duration<double> timeout, const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return done();
}

DevCluster::DevCluster(const std::string& name, ClusterOptions o) : dir_(std::string(AUTORESUME_ITEST_ROOT) + "/" + name) {
  std::string cmd = source_dir() + "/scripts/devcluster up --dir " + dir_ + " --nodes " + std::to_string(o.nodes) +
                    " --cred-expire " + std::to_string(o.cred_expire) + " --slurmd-timeout " +
                    std::to_string(o.slurmd_timeout);
  if (!o.plugstack.empty()) cmd += " --plugstack '" + o.plugstack + "'";
  for (const auto& line : o.extra_conf) cmd += " --extra-conf '" + line + "'";
  if (o.gpus > 0) cmd += " --gpus " + std::to_string(o.gpus);
  if (o.accounting) cmd += " --accounting";
  if (o.power_save) cmd += " --power-save";
  if (o.resume_timeout > 0) cmd += " --resume-timeout " + std::to_string(o.resume_timeout);
  if (o.reboot_program) cmd += " --reboot-program";
  if (o.backup_ctld) cmd += " --backup-ctld";
  // A cluster left by a killed earlier run of this same test would hold the directory.
  run(source_dir() + "/scripts/devcluster down --dir " + dir_);
  auto r = run(cmd);
  INFO(r.out);
  REQUIRE(r.rc == 0);
  run("rm -rf " + work_dir() + " && mkdir -p " + work_dir() + " && chmod 1777 " + work_dir());
}

DevCluster::~DevCluster() {
  slurm_.reset();
  run(source_dir() + "/scripts/devcluster down --dir " + dir_);
}

CommandResult DevCluster::sh(const std::string& command) const {
  return run("cd " + work_dir() + " && export SLURM_CONF=" + conf() + " && " + command);
}

uint32_t DevCluster::sbatch(const std::string& args) const { return sbatch_as("sbatch --parsable " + args); }

uint32_t DevCluster::sbatch_as(const std::string& command) const {
  auto r = sh(command);
  INFO(command << "\n" << r.out);
  REQUIRE(r.rc == 0);
  std::smatch m;
  REQUIRE(std::regex_search(r.out, m, std::regex("^([0-9]+)", std::regex::multiline)));
  return static_cast<uint32_t>(std::stoul(m[1]));
}

namespace {
// This build's daemons, for devcluster (which defaults to build/): a build for another Slurm lives elsewhere. Also
// in the controller's environment, whose replace program (devcluster replace-node) restarts a node's agent.
std::string this_builds_binaries() {
  return "AUTORESUMED=" + binary_dir() + "/controller/autoresumed AUTORESUME_AGENT=" + binary_dir() +
         "/agent/autoresume-agent FAKE_NVML=" + AUTORESUME_FAKE_NVML + " ";
}
}  // namespace

void DevCluster::devcluster(const std::string& subcommand) const {
  auto r = run(this_builds_binaries() + source_dir() + "/scripts/devcluster " + subcommand + " --dir " + dir_);
  INFO("devcluster " << subcommand << "\n" << r.out);
  REQUIRE(r.rc == 0);
}

void DevCluster::start_controller(const std::vector<std::string>& conf, const std::string& env) const {
  std::string cmd = env + " " + source_dir() + "/scripts/devcluster start-controller --dir " + dir_;
  for (const auto& line : conf) cmd += " --controller-conf '" + line + "'";
  auto started_lines = [&] {
    std::string log = controller_log();
    size_t n = 0;
    for (size_t at = log.find("event=started"); at != std::string::npos; at = log.find("event=started", at + 1)) ++n;
    return n;
  };
  size_t before = started_lines();
  auto r = run(this_builds_binaries() + cmd);
  INFO(cmd << "\n" << r.out);
  REQUIRE(r.rc == 0);
  // Up once it logged `started`: its state database exists then, so a test reading it never races its creation.
  REQUIRE(wait_until(std::chrono::seconds(15), [&] { return started_lines() > before; }));
}

std::vector<int> DevCluster::pids() const {
  auto r = run(source_dir() + "/scripts/devcluster pids --dir " + dir_);
  std::vector<int> out;
  std::stringstream in(r.out);
  for (int pid; in >> pid;) out.push_back(pid);
  return out;
}

LibSlurmClient& DevCluster::slurm() {
  if (!slurm_) {
    auto opened = LibSlurmClient::open(conf());
    INFO((opened ? "" : opened.error().message));
    REQUIRE(opened.ok());
    slurm_ = std::move(opened).value();
  }
  return *slurm_;
}

Node DevCluster::node(const std::string& name) {
  auto nodes = slurm().load_nodes();
  INFO((nodes ? "" : nodes.error().message));
  REQUIRE(nodes.ok());
  if (const Node* n = (*nodes)->find(name)) return *n;
  FAIL("no node " << name);
  return {};
}

Job DevCluster::job(uint32_t id) {
  auto job = slurm().load_job(id);
  INFO((job ? "" : job.error().message));
  REQUIRE(job.ok());
  if (*job) return **job;
  FAIL("no job " << id);
  return {};
}

}  // namespace autoresume::testing
