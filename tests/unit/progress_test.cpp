// SPDX-License-Identifier: GPL-2.0-or-later
// Progress reports and hangs: the report format, the agent's reader on a real directory (links, FIFOs, junk), the
// plugin's directory, the CLI, the heartbeat's validation, the hang decision, goodput, and the control loop
// requeueing a hung job against the in-memory Slurm.
#include <fcntl.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catch_compat.hpp"
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "../../spank_plugin/progress_dir.hpp"
#include "autoresume/intent.hpp"
#include "autoresume/progress.hpp"
#include "daemon/progress.hpp"
#include "engine/controller.hpp"
#include "http/api.hpp"
#include "model/goodput.hpp"
#include "recovery/job_recovery.hpp"
#include "slurm/fake_slurm.hpp"

using namespace autoresume;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/autoresume-progress-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
  void write(const fs::path& rel, const std::string& text) {
    fs::create_directories((path / rel).parent_path());
    std::ofstream(path / rel) << text;
  }
};

double now() { return unix_now(); }

// |a - b| <= margin (Catch2 2.x and 3.x name Approx differently).
bool near(double a, double b, double margin = 1e-9) { return std::fabs(a - b) <= margin; }

}  // namespace

TEST_CASE("a report is \"STEP UNIXTIME\": anything else is refused", "[progress]") {
  CHECK(parse_report("12 1700000000.250\n") == Report{12, 1700000000.25});
  CHECK(parse_report("0 1700000000") == Report{0, 1700000000});
  CHECK(parse_report(format_report(Report{42, 1700000123.5})) == Report{42, 1700000123.5});
  for (const char* bad : {"", "12", "12 ", " 1700000000", "-1 1700000000", "12 -5", "12 1e9", "12 nan", "12 0",
                          "x 1700000000", "12 1700000000 extra", "9007199254740993 1700000000",
                          "1 11111111111111111111111111111111111111111111111111111111111111111111"})
    CHECK_FALSE(parse_report(bad));
  CHECK(parse_job_dir_name("4242") == 4242u);
  for (const char* bad : {"", "0", "042", "4242x", "../1", "99999999999", "-1"}) CHECK_FALSE(parse_job_dir_name(bad));
}

TEST_CASE("the intent token carries the job's hang timeout", "[progress]") {
  Intent i{3};
  i.hang_timeout = 600;
  CHECK(intent_token(i) == "autoresume=1:max=3:hang=600");
  CHECK(parse_intent("autoresume=1:max=3:hang=600") == i);
  i.in_place = true;
  CHECK(intent_token(i) == "autoresume=1:max=3:hang=600:step");
  CHECK(parse_intent(intent_token(i)) == i);
  CHECK(parse_intent("autoresume=1:max=3:hang=0")->hang_timeout == 0u);
  CHECK_FALSE(parse_intent("autoresume=1:max=3")->hang_timeout);
  for (const char* bad : {"autoresume=1:max=3:hang=", "autoresume=1:max=3:hang=x", "autoresume=1:max=:hang=5",
                          "autoresume=1:max=3:hang=5:hang=6", "autoresume=1:max=3:hang=-1"})
    CHECK_FALSE(parse_intent(bad));
}

TEST_CASE("the agent sums up each job's reports, skipping links, FIFOs, junk and other files", "[progress]") {
  TempDir d;
  double t = now();
  d.write("7/rank-0", format_report({10, t - 5}));
  d.write("7/rank-1", format_report({12, t - 2}));
  d.write("7/checkpoint", format_report({8, t - 20}));
  d.write("7/rank-2", "garbage\n");
  d.write("7/rank-3", std::string(200, '1'));  // longer than a report: not read whole, refused
  d.write("7/notes.txt", format_report({999, t}));
  d.write("8/rank-0", format_report({3, t - 100}));
  d.write("9/unrelated", "x");  // no rank file: no job
  d.write("x9/rank-0", format_report({1, t}));  // not a job id
  d.write("secret", format_report({555, t}));
  fs::create_symlink(d.path / "secret", d.path / "7" / "rank-4");  // a link to a file root may read: not followed
  fs::create_symlink(d.path / "8", d.path / "10");                 // a link as a job directory: not followed
  REQUIRE(mkfifo((d.path / "7" / "rank-5").c_str(), 0600) == 0);   // a FIFO: not waited on
  auto jobs = agent::read_progress(d.path, 64);
  REQUIRE(jobs.size() == 2);
  CHECK(jobs[0].job_id == 7);  // newest first
  CHECK(jobs[0].step == 12);
  CHECK(near(jobs[0].at, t - 2, 0.01));
  CHECK(jobs[0].ranks == 2);
  REQUIRE(jobs[0].checkpoint);
  CHECK(jobs[0].checkpoint->step == 8);
  CHECK(jobs[1].job_id == 8);
  CHECK(agent::read_progress(d.path, 1).size() == 1);
  CHECK(agent::read_progress(d.path / "none", 64).empty());

  agent::forget_progress(d.path, 7);
  CHECK_FALSE(fs::exists(d.path / "7"));
  CHECK(fs::exists(d.path / "secret"));  // the link's target is not touched
  agent::forget_progress(d.path, 10);    // a link: not followed, its target kept
  CHECK(fs::exists(d.path / "8" / "rank-0"));
}

TEST_CASE("the plugin's progress directory: the job's user owns it, a link in its place is refused", "[progress]") {
  TempDir d;
  std::string base = (d.path / "run" / "progress").string();
  auto dir = plugin::make_progress_dir(base, 42, 4321, 4322);
  if (geteuid() != 0) {  // chown needs root, as in slurmstepd
    REQUIRE_FALSE(dir.ok());
    CHECK(dir.error().message.find("cannot give to the job's user " + base + "/42") != std::string::npos);
    return;
  }
  REQUIRE(dir.ok());
  CHECK(*dir == base + "/42");
  struct stat st {};
  REQUIRE(stat(dir->c_str(), &st) == 0);
  CHECK(st.st_uid == 4321);
  CHECK(st.st_gid == 4322);
  CHECK((st.st_mode & 07777) == 0700);
  REQUIRE(stat(base.c_str(), &st) == 0);
  CHECK(st.st_uid == 0);
  CHECK((st.st_mode & 07777) == 0755);
  CHECK(plugin::make_progress_dir(base, 42, 4321, 4322).ok());  // a second step, a requeued run: kept
  fs::create_symlink("/etc", base + "/43");
  auto link = plugin::make_progress_dir(base, 43, 4321, 4322);
  REQUIRE_FALSE(link.ok());
  CHECK(link.error().message.find(base + "/43") != std::string::npos);
  struct stat etc {};
  REQUIRE(stat("/etc", &etc) == 0);
  CHECK(etc.st_uid == 0);
  CHECK_FALSE(plugin::make_progress_dir("relative/dir", 1, 0, 0).ok());
}

TEST_CASE("autoresume-progress writes the rank's report and the checkpoint, and never fails the job", "[progress]") {
  TempDir d;
  std::string cli = AUTORESUME_PROGRESS_CLI;
  auto run = [&](const std::string& env, const std::string& args) {
    std::string cmd = "env -u AUTO_RESUME_PROGRESS_DIR -u SLURM_PROCID " + env + " " + cli + " " + args + " 2>" +
                      (d.path / "err").string();
    int status = std::system(cmd.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  auto file = [&](const std::string& name) {
    std::ifstream in(d.path / name);
    std::string s;
    std::getline(in, s);
    return s;
  };
  std::string env = "AUTO_RESUME_PROGRESS_DIR=" + d.path.string() + " SLURM_PROCID=3";
  double before = now();
  CHECK(run(env, "17") == 0);
  auto r = parse_report(file("rank-3"));
  REQUIRE(r);
  CHECK(r->step == 17);
  CHECK(r->at >= before - 1);
  CHECK_FALSE(fs::exists(d.path / "checkpoint"));
  CHECK(run(env, "20 --checkpoint") == 0);
  CHECK(parse_report(file("checkpoint"))->step == 20);
  CHECK(parse_report(file("rank-3"))->step == 20);
  CHECK(run(env, "") == 2);
  CHECK(file("err").find("missing STEP") != std::string::npos);
  CHECK(run(env, "-5") == 2);
  CHECK(file("err").find("unexpected argument \"-5\"") != std::string::npos);
  CHECK(run("", "5") == 0);  // outside an auto-resume job: said, not failed
  CHECK(file("err").find("AUTO_RESUME_PROGRESS_DIR is not set") != std::string::npos);
  CHECK(run("AUTO_RESUME_PROGRESS_DIR=/nonexistent/dir", "5") == 0);  // cannot write: said, not failed
  CHECK(file("err").find("cannot write /nonexistent/dir/.rank-0.") != std::string::npos);
}

TEST_CASE("a job with no progress past its hang timeout on healthy nodes is requeued as hung", "[progress]") {
  Config config;
  std::map<std::string, NodeFailure> failed;
  JobContext ctx{&failed, false, 1000, &config, ""};
  JobRecord r;
  r.max_attempts = 2;
  r.nodes = {"n1", "n2"};
  Job j;
  j.state = JobState::Running;
  j.nodes = r.nodes;
  CHECK(decide(r, j, ctx).phase == JobPhase::Running);  // not hung
  ctx.hung_for = 700;
  ctx.hang_timeout = 600;
  JobDecision d = decide(r, j, ctx);
  CHECK(d.phase == JobPhase::Requeueing);
  CHECK(d.action == JobAction::Requeue);
  CHECK(d.event == "job_hung");
  CHECK(d.hang);
  CHECK(d.failed_node.empty());
  CHECK(d.why == "hung: no progress for 700 s (hang timeout 600 s), its nodes healthy");
  config.signal_before_requeue = 10;
  CHECK(decide(r, j, ctx).phase == JobPhase::Signalled);
  failed.emplace("n2", NodeFailure{FailureSource::AutoResume, "gpu0: xid 79", true});  // a failed node goes first
  d = decide(r, j, ctx);
  CHECK(d.failed_node == "n2");
  CHECK_FALSE(d.hang);
  failed.clear();
  r.attempts = 2;  // its budget spent: requeued held, not run again
  d = decide(r, j, ctx);
  CHECK(d.phase == JobPhase::Exhausted);
  CHECK(d.action == JobAction::RequeueHold);
  CHECK(d.why.find("hung: no progress for 700 s") == 0);
}

TEST_CASE("goodput: productive time over the whole, less lost work, recovery and startup", "[progress]") {
  JobRecord r;
  CHECK(goodput_of(r, 100).ratio == 1);  // never ran
  r.first_start = 1000;
  r.lost_work = 100;
  r.recovery = 50;
  r.startup = 50;
  r.redone_steps = 7;
  Goodput g = goodput_of(r, 2000);
  CHECK(g.elapsed == 1000);
  CHECK(g.productive == 800);
  CHECK(near(g.ratio, 0.8));
  CHECK(g.redone_steps == 7);
  r.phase = JobPhase::WaitingPending;  // recovering since 1900: that counts too
  r.failure_at = 1900;
  CHECK(goodput_of(r, 2000).recovery == 150);
  r.lost_work = 5000;  // never below 0
  CHECK(goodput_of(r, 2000).ratio == 0);
}

namespace {

struct HangWorld {
  FakeSlurm slurm;
  std::unique_ptr<Store> store = Store::open(":memory:").value();
  Config config;
  ProgressBoard board;
  std::unique_ptr<Controller> ctl;
  HangWorld() {
    set_log_level(LogLevel::Error);
    config.restart_settle = std::chrono::seconds(0);
    for (const char* n : {"n1", "n2", "n3", "n4"}) slurm.add_node(n);
    ctl = std::make_unique<Controller>(slurm, *store, config);
    ctl->recover();
    ctl->set_progress(&board);
  }
  // Job 1 on n1 and n2, started `ran` seconds ago, with a hang timeout of 30 s in its intent.
  Job& hang_job(double ran) {
    Job& j = slurm.add_job(1, {"n1", "n2"});
    Intent intent{3};
    intent.hang_timeout = 30;
    j.admin_comment = intent_token(intent);
    j.start_time = static_cast<std::time_t>(now() - ran);
    return j;
  }
  void report(uint32_t job, uint64_t step, double at, std::optional<Report> checkpoint = std::nullopt) {
    for (const char* node : {"n1", "n2"}) board.report(node, job, ProgressReport{step, at, 1, checkpoint, now()});
  }
};

}  // namespace

TEST_CASE("the control loop requeues a hung job once its nodes answer, and counts what the hang cost", "[progress]") {
  HangWorld w;
  Job& j = w.hang_job(600);
  w.ctl->tick();
  REQUIRE(w.ctl->jobs().at(1).hang_timeout == 30);
  CHECK(w.ctl->jobs().at(1).first_start == static_cast<double>(j.start_time));
  w.ctl->tick();  // no report yet: a job that never reports is never hung, however long it runs
  CHECK(w.ctl->jobs().at(1).phase == JobPhase::Running);

  double t = now();
  w.report(1, 50, t - 10, Report{40, t - 100});  // progressing: 10 s ago
  w.slurm.calls.clear();
  w.ctl->tick();
  CHECK(w.ctl->jobs().at(1).phase == JobPhase::Running);
  CHECK(w.ctl->snapshot()->progress.at(1).step == 50);
  CHECK(near(w.ctl->jobs().at(1).startup, t - 10 - static_cast<double>(j.start_time), 0.01));

  w.report(1, 50, t - 45, Report{40, t - 100});  // no progress for 45 s, over its 30
  w.slurm.dead_slurmds.insert("n2");             // one node's slurmd is dead: a node failure, not a hang
  w.slurm.calls.clear();
  w.ctl->tick();
  CHECK(w.slurm.calls == std::vector<std::string>{"probe n1", "probe n2", "down n2 autoresume: slurmd not responding (probe refused) under a hung job"});
  CHECK(w.ctl->jobs().at(1).hangs == 0);

  w.slurm.dead_slurmds.clear();
  w.slurm.nodes["n2"].base = NodeBase::Allocated;
  w.slurm.nodes["n2"].reason.clear();
  w.slurm.calls.clear();
  w.ctl->tick();
  CHECK(w.slurm.calls == std::vector<std::string>{"probe n1", "probe n2", "requeue 1"});
  JobRecord r = w.ctl->jobs().at(1);
  CHECK(r.phase == JobPhase::Requeueing);
  CHECK(r.hangs == 1);
  CHECK(r.failed_node.empty());
  CHECK(r.redone_steps == 10);  // step 50, checkpoint of step 40
  CHECK(near(r.lost_work, 100, 2));  // from the checkpoint to now
  auto events = w.store->events();
  REQUIRE_FALSE(events.empty());
  CHECK(events.back().kind == "job_hung");

  // Saved: a restarted controller has the same account.
  auto again = w.store->find_job(1);
  REQUIRE(again);
  CHECK(again->hangs == 1);
  CHECK(again->redone_steps == 10);
  CHECK(again->hang_timeout == 30);
}

TEST_CASE("progress from stale reports (the agents stopped) or from an earlier run never makes a hang", "[progress]") {
  HangWorld w;
  w.hang_job(60);
  w.ctl->tick();
  double t = now();
  for (const char* node : {"n1", "n2"}) w.board.report(node, 1, ProgressReport{5, t - 45, 1, std::nullopt, t - 60});
  w.slurm.calls.clear();
  w.ctl->tick();  // received a minute ago: the agents are silent, not the job
  CHECK(w.slurm.calls.empty());
  w.report(1, 5, t - 120);  // before this run started: the previous run's
  w.ctl->tick();
  CHECK(w.slurm.calls.empty());
  CHECK(w.ctl->jobs().at(1).phase == JobPhase::Running);
  CHECK(w.ctl->snapshot()->progress.count(1) == 0);
}
