// SPDX-License-Identifier: GPL-2.0-or-later
// Durable intent: every way of asking for auto-resume leaves a token in AdminComment that a libslurm reader sees,
// for root's jobs and an ordinary user's; a job without the flag carries none; users cannot forge it.
#include "catch_compat.hpp"
#include <map>
#include <regex>

#include "autoresume/intent.hpp"
#include "devcluster.hpp"

using namespace autoresume;
using namespace autoresume::testing;
using namespace std::chrono_literals;

namespace {

uint32_t job_id_in(const CommandResult& r) {
  std::smatch m;
  INFO(r.out);
  REQUIRE(std::regex_search(r.out, m, std::regex("JOB=([0-9]+)")));
  return static_cast<uint32_t>(std::stoul(m[1]));
}

Job finished(DevCluster& c, uint32_t id) {
  REQUIRE(wait_until(30s, [&] { return !c.job(id).active() && !c.job(id).completing; }));
  return c.job(id);
}

}  // namespace

TEST_CASE("every form of --auto-resume records the job's intent and budget, for root and for a user", "[plugin]") {
  ClusterOptions o;
  o.plugstack = plugstack_with_plugin("plugin-intent", "default_max_attempts=3 max_attempts=8");
  DevCluster c("plugin-intent", o);
  c.sh("printf '#!/bin/sh\\n#SBATCH --auto-resume=1\\n#SBATCH -o /dev/null\\ntrue\\n' > flagged.sh");

  for (std::string user : {"root", kTestUser}) {
    auto cmd = [&](const std::string& s) { return user == "root" ? s : as_user(s); };
    std::map<std::string, uint32_t> jobs = {
        {"sbatch flag", c.sbatch_as(cmd("sbatch --parsable -o /dev/null --auto-resume=1 --wrap true"))},
        {"sbatch budget", c.sbatch_as(cmd("sbatch --parsable -o /dev/null --auto-resume-max-attempts=5 --wrap true"))},
        {"#SBATCH", c.sbatch_as(cmd("sbatch --parsable flagged.sh"))},
        // The submitter's environment not exported (on 22.05 the batch step then gets no option of its own).
        {"sbatch --export=NONE", c.sbatch_as(cmd("sbatch --parsable -o /dev/null --export=NONE --auto-resume=1 --wrap true"))},
        {"sbatch --export=NONE,FOO=1 budget",
         c.sbatch_as(cmd("sbatch --parsable -o /dev/null --export=NONE,FOO=1 --auto-resume-max-attempts=5 --wrap true"))},
        {"srun inside sbatch",
         c.sbatch_as(cmd("sbatch --parsable -o /dev/null -N2 --wrap 'srun --auto-resume=1 true'"))},
        {"srun allocation", job_id_in(c.sh(cmd("srun --auto-resume=1 -N2 bash -c 'echo JOB=$SLURM_JOB_ID'")))},
        {"salloc", job_id_in(c.sh(cmd("salloc --auto-resume=1 -N1 bash -c 'srun true; echo JOB=$SLURM_JOB_ID'")))},
    };
    for (const auto& [form, id] : jobs) {
      INFO(user << ": " << form << ": job " << id);
      Job j = finished(c, id);
      INFO("AdminComment=" << j.admin_comment);
      auto intent = parse_intent(j.admin_comment);
      REQUIRE(intent);
      CHECK(intent->max_attempts == (form.ends_with("budget") ? 5u : 3u));
      CHECK(j.user_id == (user == "root" ? 0u : std::stoul(c.sh("id -u " + user).out)));
    }
  }
}

TEST_CASE("a job without the flag, or with --auto-resume=0, records nothing", "[plugin]") {
  ClusterOptions o;
  o.plugstack = plugstack_with_plugin("plugin-noflag");
  DevCluster c("plugin-noflag", o);
  uint32_t plain = c.sbatch("-o /dev/null -N2 --wrap 'srun true'");
  uint32_t off = c.sbatch("-o /dev/null --auto-resume=0 --wrap true");
  uint32_t user = c.sbatch_as(as_user("sbatch --parsable -o /dev/null --wrap 'srun true'"));
  uint32_t not_exported = c.sbatch("-o /dev/null --export=NONE --wrap true");
  uint32_t off_not_exported = c.sbatch("-o /dev/null --export=NONE --auto-resume=0 --wrap true");
  for (uint32_t id : {plain, off, user, not_exported, off_not_exported}) {
    Job j = finished(c, id);
    INFO("job " << id << " AdminComment=" << j.admin_comment);
    CHECK(j.admin_comment.empty());
  }
}

TEST_CASE("the intent is merged into an existing AdminComment and makes the job requeue-able", "[plugin]") {
  ClusterOptions o;
  o.plugstack = plugstack_with_plugin("plugin-merge");
  DevCluster c("plugin-merge", o);
  uint32_t id = c.sbatch_as(as_user("sbatch --parsable -H -o /dev/null --no-requeue --auto-resume=1 --wrap true"));
  REQUIRE(c.slurm().set_admin_comment(id, "site:rack7 ticket=42").ok());
  REQUIRE(c.slurm().release_job(id).ok());
  Job j = finished(c, id);
  CHECK(j.admin_comment == "site:rack7 ticket=42 autoresume=1:max=3");
  CHECK(j.requeue_allowed);
}

TEST_CASE("a user cannot forge the intent token", "[plugin]") {
  ClusterOptions o;
  o.plugstack = plugstack_with_plugin("plugin-forge");
  DevCluster c("plugin-forge", o);
  uint32_t id = c.sbatch_as(as_user("sbatch --parsable -o /dev/null --wrap 'sleep 60'"));
  REQUIRE(wait_until(30s, [&] { return c.job(id).state == JobState::Running; }));
  auto r = c.sh(as_user("scontrol update jobid=" + std::to_string(id) + " admincomment=autoresume=1:max=9"));
  INFO(r.out);
  CHECK(r.rc != 0);
  CHECK_FALSE(parse_intent(c.job(id).admin_comment));
  c.sh("scancel " + std::to_string(id));
}

// The job's environment is the user's: a hand-set SLURM_SPANK_AUTO_RESUME (what sbatch publishes for the flag) must
// not become a recorded intent, and no claimed budget above the site's max_attempts is ever recorded.
TEST_CASE("a user's own SLURM_SPANK_AUTO_RESUME is not recorded as an intent or a budget", "[plugin][security]") {
  ClusterOptions o;
  o.plugstack = plugstack_with_plugin("plugin-envforge", "default=0 max_attempts=8");
  DevCluster c("plugin-envforge", o);
  auto forged = [&](const std::string& value, const std::string& command) {
    return as_user("env SLURM_SPANK_AUTO_RESUME='" + value + "' " + command);
  };
  std::map<std::string, uint32_t> jobs = {
      {"sbatch, huge budget", c.sbatch_as(forged("1:max=4000000000", "sbatch --parsable -o /dev/null --wrap true"))},
      {"sbatch, budget within the site's", c.sbatch_as(forged("1:max=8", "sbatch --parsable -o /dev/null --wrap true"))},
      {"sbatch, srun step inside",
       c.sbatch_as(forged("1:max=4000000000", "sbatch --parsable -o /dev/null -N2 --wrap 'srun true'"))},
      {"salloc, huge budget",
       job_id_in(c.sh(forged("1:max=4000000000", "salloc -N1 bash -c 'srun true; echo JOB=$SLURM_JOB_ID'")))},
      {"srun, huge budget",
       job_id_in(c.sh(forged("1:max=4000000000", "srun -N1 bash -c 'echo JOB=$SLURM_JOB_ID'")))},
  };
  for (const auto& [form, id] : jobs) {
    INFO(form << ": job " << id);
    Job j = finished(c, id);
    INFO("AdminComment=" << j.admin_comment);
    CHECK_FALSE(parse_intent(j.admin_comment));
  }
  // The flag itself still works for the same user beside a forged variable: the option is what counts.
  uint32_t flagged = c.sbatch_as(forged("1:max=4000000000", "sbatch --parsable -o /dev/null --auto-resume=1 --wrap true"));
  Job j = finished(c, flagged);
  auto intent = parse_intent(j.admin_comment);
  REQUIRE(intent);
  CHECK(intent->max_attempts == 3u);
}

// Slurm hands a SPANK option given to sbatch to the job's environment (SLURM_SPANK__SLURM_SPANK_OPTION_<plugin>_
// <option>), and sbatch, salloc and srun take their plugins' options from that variable: the job's steps and any job
// submitted from inside it with the environment exported (the default) ask for auto-resume too, on every supported
// release. `--auto-resume=0` on the inner submission opts out. What the README promises users.
TEST_CASE("a job submitted from inside an auto-resume job inherits the option, and --auto-resume=0 opts out", "[plugin]") {
  ClusterOptions o;
  o.plugstack = plugstack_with_plugin("plugin-nested", "default_max_attempts=3");
  DevCluster c("plugin-nested", o);
  c.sh("printf '%s\\n' '#!/bin/sh' 'sbatch --parsable -o /dev/null --wrap true > inherits.id'"
       " 'sbatch --parsable -o off.out --auto-resume=0 --wrap env > off.id'"
       " > outer.sh");
  uint32_t outer = c.sbatch("-o /dev/null --auto-resume=1 outer.sh");
  Job o_job = finished(c, outer);
  REQUIRE(parse_intent(o_job.admin_comment));
  auto id_in = [&](const std::string& file) {
    std::string text = read_file(c.work_dir() + "/" + file);
    INFO(file << ": " << text);
    REQUIRE(!text.empty());
    return static_cast<uint32_t>(std::stoul(text));
  };
  Job inherits = finished(c, id_in("inherits.id"));
  INFO("inherits AdminComment=" << inherits.admin_comment);
  auto intent = parse_intent(inherits.admin_comment);
  REQUIRE(intent);
  CHECK(intent->max_attempts == 3u);
  Job off = finished(c, id_in("off.id"));
  INFO("off AdminComment=" << off.admin_comment);
  CHECK(off.admin_comment.empty());
  std::string off_env = read_file(c.work_dir() + "/off.out");
  INFO(off_env);
  CHECK(off_env.find("SLURM_JOB_ID=") != std::string::npos);  // the job ran and wrote its environment
  CHECK_FALSE(std::regex_search(off_env, std::regex("^AUTO_RESUME=", std::regex::multiline)));
}
