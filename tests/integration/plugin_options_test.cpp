// SPDX-License-Identifier: GPL-2.0-or-later
// --auto-resume on the real srun, sbatch and salloc: help text, and bad input refused before submission.
#include "catch_compat.hpp"

#include "devcluster.hpp"

using namespace autoresume::testing;

namespace {

ClusterOptions with_plugin(const std::string& name, const std::string& args) {
  ClusterOptions o;
  o.nodes = 2;
  o.plugstack = plugstack_with_plugin(name, args);
  return o;
}

int jobs_in_queue(const DevCluster& c) { return std::stoi(c.sh("squeue -h | wc -l").out); }

}  // namespace

TEST_CASE("srun, sbatch and salloc --help list the auto-resume options", "[plugin]") {
  DevCluster c("plugin-help", with_plugin("plugin-help", ""));
  for (const char* cmd : {"srun", "sbatch", "salloc"}) {
    auto r = c.sh(std::string(cmd) + " --help");
    INFO(cmd << " --help:\n" << r.out);
    CHECK(r.out.find("--auto-resume=[VALUE]") != std::string::npos);
    CHECK(r.out.find("--auto-resume-max-attempts=N") != std::string::npos);
  }
}

TEST_CASE("bad option values fail the command before anything is submitted, with one clear line", "[plugin]") {
  DevCluster c("plugin-badargs", with_plugin("plugin-badargs", "max_attempts=5"));
  struct Case {
    std::string command;
    std::string message;
  };
  const std::string expected_bool = "(expected 1, 0, yes, no, true or false)";
  const std::string expected_n = "(expected an integer from 1 to 5, the site maximum)";
  std::vector<Case> cases = {
      {"sbatch --auto-resume=maybe --wrap true", "invalid value \"maybe\" for --auto-resume " + expected_bool},
      {"sbatch --auto-resume=2 --wrap true", "invalid value \"2\" for --auto-resume " + expected_bool},
      {"sbatch --auto-resume-max-attempts=0 --wrap true", "invalid value \"0\" for --auto-resume-max-attempts " + expected_n},
      {"sbatch --auto-resume-max-attempts=6 --wrap true", "invalid value \"6\" for --auto-resume-max-attempts " + expected_n},
      {"sbatch --auto-resume-max-attempts=abc --wrap true", "invalid value \"abc\" for --auto-resume-max-attempts " + expected_n},
      {"srun --auto-resume=maybe true", "invalid value \"maybe\" for --auto-resume " + expected_bool},
      {"salloc --auto-resume=2 true", "invalid value \"2\" for --auto-resume " + expected_bool},
      {"printf '#!/bin/sh\\n#SBATCH --auto-resume=maybe\\ntrue\\n' > bad.sh && sbatch bad.sh",
       "invalid value \"maybe\" for --auto-resume " + expected_bool},
      {as_user("sbatch --auto-resume=nope --wrap true"), "invalid value \"nope\" for --auto-resume " + expected_bool},
  };
  for (const auto& k : cases) {
    auto r = c.sh(k.command);
    INFO(k.command << "\n" << r.out);
    CHECK(r.rc != 0);
    CHECK(r.out.find("error: auto_resume: " + k.message) != std::string::npos);
  }
  CHECK(jobs_in_queue(c) == 0);
  CHECK(c.sh("scontrol show jobs").out.find("JobId=") == std::string::npos);
}

TEST_CASE("an unknown plugstack key makes the required plugin refuse to load, naming the key", "[plugin]") {
  DevCluster c("plugin-badconf", with_plugin("plugin-badconf", ""));
  // slurmd loads the stack at start (and refuses to start on a bad required plugin); srun and sbatch read
  // plugstack.conf at every command, which is where a freshly broken file shows first.
  run("cp " + plugstack_with_plugin("plugin-badconf-broken", "max_atempts=5") + " " + c.dir() + "/plugstack.conf");
  for (const char* cmd : {"sbatch --auto-resume=1 --wrap true", "srun true", "salloc true"}) {
    auto r = c.sh(cmd);
    INFO(cmd << "\n" << r.out);
    CHECK(r.rc != 0);
    CHECK(r.out.find("auto_resume: plugstack.conf argument \"max_atempts=5\": unknown key \"max_atempts\"") !=
          std::string::npos);
    CHECK(r.out.find("required plugin auto_resume.so: init() failed") != std::string::npos);
  }
  CHECK(jobs_in_queue(c) == 0);
}
