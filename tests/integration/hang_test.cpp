// SPDX-License-Identifier: GPL-2.0-or-later
// Hangs on a real cluster (real slurmctld, slurmd, munge, plugin, controller and agents): a job's ranks report
// their progress (examples/step_counter.py through job/autoresume.py), the agents send it with their heartbeats.
// A rank stopped with SIGSTOP stops every rank at the barrier, as a broken peer stops an NCCL collective: the job
// is requeued as hung and resumes from its checkpoint. A job that is only slow, and one that never reports, are
// left alone. Goodput (lost work, steps redone) is read back from the controller.
#include "catch_compat.hpp"
#include <nlohmann/json.hpp>
#include <signal.h>

#include "autoresume/intent.hpp"

#include "devcluster.hpp"
#include "resume_cluster.hpp"

using namespace autoresume;
using namespace autoresume::testing;
using namespace std::chrono_literals;

namespace {

// The step counter in its own directory under the work dir (written by the job's user).
uint32_t submit_counter(DevCluster& c, const std::string& sub, const std::string& flags, int steps, double step_seconds) {
  std::string dir = c.work_dir() + "/" + sub;
  c.sh(as_user("mkdir -p " + dir));
  return c.sbatch_as(as_user("env STEP_COUNTER=" + source_dir() + "/examples/step_counter.py STEPS=" +
                             std::to_string(steps) + " STEP_SECONDS=" + std::to_string(step_seconds) +
                             " CHECKPOINT_EVERY=4 sbatch --parsable -o " + dir + "/counter.out " + flags + " " +
                             source_dir() + "/examples/step_counter.sbatch " + dir));
}

nlohmann::json job_json(DevCluster& c, uint32_t id) {
  std::string ctl = "env AUTORESUME_URL=$(cat " + c.dir() + "/autoresume.url) AUTORESUME_MUNGE_SOCKET=" + c.dir() +
                    "/munge/munge.socket SLURM_CONF=" + c.conf() + " " + binary_dir() + "/ctl/autoresumectl --json jobs " +
                    std::to_string(id);
  auto r = run(ctl);
  if (r.rc != 0) return nlohmann::json::object({{"error", r.out}});  // not adopted yet: asked again
  return nlohmann::json::parse(r.out);
}

}  // namespace

TEST_CASE("(hang) a stopped rank: requeued as hung, resumed from its checkpoint, and slow or silent jobs left alone",
          "[hang]") {
  ResumeCluster rc("hang");
  rc.c.devcluster("start-agents");
  DevCluster& c = rc.c;

  // Slow but steady (a report every ~2.5 s under a 6 s timeout), and silent (never reports), side by side.
  uint32_t slow = submit_counter(c, "slow", "--auto-resume=1 --auto-resume-hang-timeout=6", 5, 2.5);
  uint32_t silent = c.sbatch_as(as_user("sbatch --parsable -N1 -o /dev/null --auto-resume=1 --auto-resume-hang-timeout=5 "
                                        "--wrap 'sleep 16'"));
  REQUIRE(wait_until(30s, [&] { return c.job(slow).state == JobState::Running; }));
  // The job prolog records the intent; Slurm may report RUNNING a moment before the prolog has written it.
  CHECK(wait_until(15s, [&] {
    auto intent = parse_intent(c.job(slow).admin_comment);
    return intent && intent->hang_timeout == 6u;
  }));
  REQUIRE(wait_until(15s, [&] {
    auto j = job_json(c, slow);
    return j.contains("progress") && j["progress"].is_object();
  }));  // reports reach it
  REQUIRE(wait_until(60s, [&] {
    return c.job(slow).state == JobState::Completed && c.job(silent).state == JobState::Completed;
  }));
  CHECK(c.job(slow).restart_count == 0);
  CHECK(c.job(silent).restart_count == 0);
  CHECK(rc.events("job_hung").empty());

  // A rank stopped: no rank progresses past the barrier.
  uint32_t id = submit_counter(c, "stopped", "--auto-resume=1 --auto-resume-hang-timeout=6", 40, 0.4);
  std::string dir = c.work_dir() + "/stopped";
  REQUIRE(wait_until(30s, [&] { return c.job(id).state == JobState::Running; }));
  REQUIRE(wait_until(30s, [&] {
    auto j = job_json(c, id);
    return j.contains("progress") && j["progress"].is_object() && j["progress"].contains("checkpoint") &&
           j["progress"]["checkpoint"]["step"] >= 8;
  }));
  int pid = std::stoi(read_file(dir + "/rank1.pid"));
  REQUIRE(kill(pid, SIGSTOP) == 0);  // by its pid, read from the job's own file
  auto stopped_at = std::chrono::steady_clock::now();
  REQUIRE(wait_until(40s, [&] { return !rc.events("job_hung").empty(); }));
  double detected = std::chrono::duration<double>(std::chrono::steady_clock::now() - stopped_at).count();
  WARN("hang detected " << detected << " s after SIGSTOP (hang timeout 6 s)");
  CHECK(detected >= 5);  // not before its timeout (less the poll's granularity)
  auto hung = rc.events("job_hung");
  CHECK(hung[0].subject == std::to_string(id));
  CHECK(hung[0].detail.find("hung: no progress for") == 0);
  REQUIRE(wait_until(60s, [&] {
    Job j = c.job(id);
    return j.state == JobState::Running && j.restart_count == 1;
  }));
  REQUIRE(wait_until(90s, [&] { return c.job(id).state == JobState::Completed; }));
  std::string out = read_file(dir + "/counter.out");
  check_steps_resumed_once(read_file(dir + "/steps.log"), out, 40);

  auto j = job_json(c, id);
  INFO(j.dump(2));
  REQUIRE_FALSE(j.contains("error"));
  CHECK(j["hangs"] == 1);
  CHECK(j["attempts"] == 1);
  CHECK(j["goodput"]["lost_work_seconds"].get<double>() >= 6);  // at least the hang timeout was lost
  CHECK(j["goodput"]["recovery_seconds"].get<double>() > 0);
  CHECK(j["goodput"]["ratio"].get<double>() < 1);
  CHECK(j["goodput"]["ratio"].get<double>() > 0);
  // The text form says the same.
  auto text = run("env AUTORESUME_URL=$(cat " + c.dir() + "/autoresume.url) SLURM_CONF=" + c.conf() + " " +
                  binary_dir() + "/ctl/autoresumectl jobs " + std::to_string(id));
  INFO(text.out);
  CHECK(text.out.find("resumes              1 of 3, hangs 1") != std::string::npos);
  CHECK(text.out.find("job_hung") != std::string::npos);
  // The agents removed the ended jobs' progress directories once the controller said so.
  CHECK(wait_until(20s, [&] { return run("ls " + c.dir() + "/progress").out.find(std::to_string(slow)) == std::string::npos; }));
}
