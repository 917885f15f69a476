// SPDX-License-Identifier: GPL-2.0-or-later
// autoresumed on a real cluster with the real plugin: node failures, admin reasons, budgets, crashes.
#include <arpa/inet.h>
#include <signal.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "catch_compat.hpp"
#include "prometheus.hpp"  // trim
#include <atomic>
#include <cmath>
#include <fstream>
#include <regex>
#include <set>
#include <thread>

#include "autoresume/intent.hpp"
#include "devcluster.hpp"
#include "resume_cluster.hpp"
#include "store/store.hpp"

using namespace autoresume;
using namespace autoresume::testing;
using namespace std::chrono_literals;


TEST_CASE("(a) a node of a 2-node auto-resume job dies: it runs again on healthy nodes from its checkpoint",
          "[controller]") {
  ResumeCluster rc("ctl-resume");
  uint32_t id = rc.submit_counter("--auto-resume=1");
  rc.wait_running(id);
  REQUIRE(wait_until(30s, [&] { return rc.checkpoint() >= 8; }));
  std::vector<std::string> first_nodes = rc.c.job(id).nodes;
  rc.c.kill_node(first_nodes.back());
  // Slurm alone would wait SlurmdTimeout + 121 s of BeginTime; well under a minute means the controller acted.
  REQUIRE(wait_until(60s, [&] {
    Job j = rc.c.job(id);
    return j.state == JobState::Running && j.restart_count == 1;
  }));
  Job again = rc.c.job(id);
  CHECK(std::count(again.nodes.begin(), again.nodes.end(), first_nodes.back()) == 0);
  REQUIRE(wait_until(60s, [&] { return rc.c.job(id).state == JobState::Completed; }));
  std::string out = read_file(rc.c.work_dir() + "/counter.out");
  INFO(out);
  CHECK(out.find("attempt=1 resuming from step") != std::string::npos);
  CHECK(out.find("attempt=1 done: 30 steps") != std::string::npos);
  check_steps_resumed_once(rc.steps_log(), read_file(rc.c.work_dir() + "/counter.out"), 30);
  CHECK(rc.actions("start_now").size() == 1);
  CHECK(rc.events("job_resumed").size() == 1);
}

TEST_CASE("(b) the same job without auto-resume is left to Slurm", "[controller]") {
  ResumeCluster rc("ctl-noflag");
  uint32_t id = rc.submit_counter("--auto-resume=0");  // overrides the script's #SBATCH --auto-resume=1
  REQUIRE(rc.c.job(id).admin_comment.empty());
  rc.wait_stepping(id);
  rc.c.kill_node(rc.c.job(id).nodes.back());
  REQUIRE(wait_until(60s, [&] {
    Job j = rc.c.job(id);
    return j.state == JobState::Pending && j.restart_count == 1 && !j.completing;
  }));
  std::this_thread::sleep_for(3s);
  Job j = rc.c.job(id);
  CHECK(j.state == JobState::Pending);
  CHECK(j.begin_time > std::time(nullptr) + 60);  // Slurm's requeue delay, untouched
  for (const char* kind : {"requeue", "start_now", "hold", "release"}) CHECK(rc.actions(kind).empty());
}

TEST_CASE("(c) an admin drain with another reason under an auto-resume job: job and node untouched",
          "[controller]") {
  ResumeCluster rc("ctl-admin");
  uint32_t id = rc.submit_counter("--auto-resume=1", 20);
  rc.wait_running(id);
  std::string node = rc.c.job(id).nodes.back();
  rc.admin(node, "drain", "maintenance: new PSU");
  std::this_thread::sleep_for(4s);
  Job j = rc.c.job(id);
  CHECK(j.state == JobState::Running);
  CHECK(j.restart_count == 0);
  CHECK(rc.c.node(node).reason == "maintenance: new PSU");
  CHECK(rc.actions("drain").empty());
  CHECK(rc.actions("requeue").empty());
}

TEST_CASE("(d) Action:Replace by an admin under an auto-resume job: requeued and running elsewhere",
          "[controller]") {
  ResumeCluster rc("ctl-replace");
  uint32_t id = rc.submit_counter("--auto-resume=1");
  rc.wait_running(id);
  REQUIRE(wait_until(30s, [&] { return rc.checkpoint() >= 4; }));
  std::string node = rc.c.job(id).nodes.back();
  rc.admin(node, "fail", "Action:Replace");
  REQUIRE(wait_until(30s, [&] {
    Job j = rc.c.job(id);
    return j.state == JobState::Running && j.restart_count == 1;
  }));
  auto nodes = rc.c.job(id).nodes;
  CHECK(std::count(nodes.begin(), nodes.end(), node) == 0);
  CHECK(rc.c.node(node).reason == "autoresume: admin Action:Replace");  // the request, taken over
  REQUIRE(wait_until(60s, [&] { return rc.c.job(id).state == JobState::Completed; }));
  check_steps_resumed_once(rc.steps_log(), read_file(rc.c.work_dir() + "/counter.out"), 30);
  CHECK(rc.actions("requeue").size() == 1);
}

TEST_CASE("(e) a budget of 1 and two failures: the second leaves the job held, with the reason", "[controller]") {
  ResumeCluster rc("ctl-budget", {"BreakerFraction=0.5"});  // two failed nodes of four must not open the breaker
  uint32_t id = rc.submit_counter("--auto-resume-max-attempts=1", 60);
  rc.wait_running(id);
  rc.admin(rc.c.job(id).nodes.back(), "fail", "Action:Replace");
  REQUIRE(wait_until(30s, [&] {
    Job j = rc.c.job(id);
    return j.state == JobState::Running && j.restart_count == 1;
  }));
  rc.admin(rc.c.job(id).nodes.back(), "fail", "Action:Replace");
  REQUIRE(wait_until(30s, [&] {
    Job j = rc.c.job(id);
    return j.state == JobState::Pending && j.held;
  }));
  std::this_thread::sleep_for(2s);
  Job j = rc.c.job(id);
  CHECK(j.state == JobState::Pending);
  CHECK(j.held);
  CHECK(j.admin_comment.find("autoresume_gaveup=budget_1/1") != std::string::npos);
  CHECK(rc.events("budget_exhausted").size() == 1);
  CHECK(rc.c.controller_log().find("event=budget_exhausted job=" + std::to_string(id)) != std::string::npos);
}

TEST_CASE("(f) a job that exits by itself is not resumed, nor one that exits 93 after the checkpoint signal",
          "[controller]") {
  ResumeCluster rc("ctl-exit", {"SignalBeforeRequeue=USR1", "RequeueGracePeriod=30s"});
  uint32_t failing = rc.c.sbatch_as(as_user("sbatch --parsable -o /dev/null --auto-resume=1 --wrap 'sleep 2; exit 93'"));
  uint32_t handler = rc.c.sbatch_as(as_user(
      "sbatch --parsable -o /dev/null -N2 --auto-resume=1 --wrap 'trap \"exit 93\" USR1; sleep 120 & wait'"));
  REQUIRE(wait_until(30s, [&] { return rc.c.job(failing).state == JobState::Failed; }));
  rc.wait_running(handler);
  rc.admin(rc.c.job(handler).nodes.back(), "fail", "Action:Replace");
  REQUIRE(wait_until(30s, [&] { return !rc.c.job(handler).active() && !rc.c.job(handler).completing; }));
  std::this_thread::sleep_for(3s);
  for (uint32_t id : {failing, handler}) {
    Job j = rc.c.job(id);
    INFO("job " << id);
    CHECK_FALSE(j.active());
    CHECK(j.restart_count == 0);
  }
  CHECK(rc.actions("signal").size() == 1);
  CHECK(rc.actions("requeue").empty());
  CHECK(rc.events("not_resumed").size() == 1);
}

TEST_CASE("(h) a job that fails by itself when its peer node dies, before Slurm notices the node: resumed as its failure",
          "[controller]") {
  ClusterOptions o = ResumeCluster::options("ctl-peer", 4);
  o.slurmd_timeout = 30;  // Slurm's ping cycle (SlurmdTimeout/3) flags the dead node well after the job failed
  ResumeCluster rc(o, "ctl-peer");
  // Like a training job's ranks on a collective's timeout: the batch script (rank 0) exits 1 once the task on
  // the second node stops beating for 2 s. The resumed attempt finishes.
  std::string script = rc.c.work_dir() + "/peer.sbatch";
  std::ofstream(script) << R"(#!/bin/bash
w=$1
if [ "${AUTO_RESUME_ATTEMPT:-0}" -ge 1 ]; then sleep 3; echo "attempt $AUTO_RESUME_ATTEMPT done" >>"$w/peer.out"; exit 0; fi
srun -N1 -n1 -r1 bash -c "while :; do date +%s >$w/beat.tmp; mv $w/beat.tmp $w/beat; sleep 0.5; done" &
until [ -s "$w/beat" ]; do sleep 0.2; done
echo started >>"$w/peer.out"
while [ $(( $(date +%s) - $(cat "$w/beat") )) -lt 2 ]; do sleep 0.5; done
echo "peer lost" >>"$w/peer.out"
exit 1
)";
  uint32_t id = rc.c.sbatch_as(as_user("sbatch --parsable -N2 --auto-resume=1 -o " + rc.c.work_dir() + "/peer.log " +
                                       script + " " + rc.c.work_dir()));
  std::string out = rc.c.work_dir() + "/peer.out";
  REQUIRE(wait_until(30s, [&] { return read_file(out).find("started") != std::string::npos; }));
  std::string peer = rc.c.job(id).nodes.back();
  rc.c.kill_node(peer);
  std::time_t failed_at = 0;  // Slurm's end time of the failed run
  REQUIRE(wait_until(20s, [&] {
    Job j = rc.c.job(id);
    if (j.state == JobState::Failed && j.restart_count == 0) failed_at = j.end_time;
    return failed_at != 0;
  }));
  bool resumed = wait_until(90s, [&] {
    Job j = rc.c.job(id);
    return j.state == JobState::Completed && j.restart_count == 1;
  });
  std::string log = rc.c.controller_log();
  INFO(log << "\n" << read_file(out));
  CHECK(resumed);
  CHECK(read_file(out).find("peer lost") != std::string::npos);
  CHECK(read_file(out).find("attempt 1 done") != std::string::npos);
  CHECK(log.find("job=" + std::to_string(id) + " from=running to=ending") != std::string::npos);
  CHECK(rc.actions("requeue").size() == 1);
  auto resumed_events = rc.events("job_resumed");
  REQUIRE(resumed_events.size() == 1);
  // Timed from the job's failure (Slurm's end time of the failed run), not from the node's failure being noticed
  // (the controller's probe, once the job ended).
  std::smatch m;
  REQUIRE(std::regex_search(resumed_events[0].detail, m, std::regex("running again ([0-9.]+) s after the failure of")));
  double reported = std::stod(m[1]), resumed_at = resumed_events[0].at;
  CHECK(std::abs(reported - (resumed_at - static_cast<double>(failed_at))) < 0.5);  // the tick's start, its end
  auto noticed = rc.events("node_failed");
  REQUIRE(noticed.size() == 1);
  CHECK(noticed[0].subject == peer);
  CHECK(reported > resumed_at - noticed[0].at);
}

TEST_CASE("(g) the controller SIGKILLed right after it requeued a job, and restarted: exactly one requeue",
          "[controller]") {
  ResumeCluster rc("ctl-crash", {}, "AUTORESUME_CRASH_AFTER=requeue");
  uint32_t id = rc.submit_counter("--auto-resume=1");
  rc.wait_running(id);
  REQUIRE(wait_until(30s, [&] { return rc.checkpoint() >= 4; }));
  rc.admin(rc.c.job(id).nodes.back(), "fail", "Action:Replace");
  REQUIRE(wait_until(30s, [&] { return rc.c.controller_log().find("event=crash_hook after=requeue") != std::string::npos; }));
  REQUIRE(wait_until(10s, [&] { return rc.c.sh(source_dir() + "/scripts/devcluster status --dir " + rc.c.dir()).out.find("autoresumed    not running") != std::string::npos; }));
  auto interrupted = rc.actions("requeue");
  REQUIRE(interrupted.size() == 1);
  CHECK(interrupted[0].state == "intended");

  rc.c.start_controller();
  REQUIRE(wait_until(60s, [&] { return rc.c.job(id).state == JobState::Completed; }));
  CHECK(rc.c.job(id).restart_count == 1);
  auto requeues = rc.actions("requeue");
  REQUIRE(requeues.size() == 1);
  CHECK(requeues[0].error.find("interrupted") != std::string::npos);
  check_steps_resumed_once(rc.steps_log(), read_file(rc.c.work_dir() + "/counter.out"), 30);
}

TEST_CASE("autoresumed: the packaged config is valid, a bad line stops it at start with file and line",
          "[controller]") {
  std::string bin = binary_dir() + "/controller/autoresumed";
  auto ok = run(bin + " --check-config --config " + source_dir() + "/packaging/autoresume.conf");
  INFO(ok.out);
  CHECK(ok.rc == 0);

  std::string bad = std::string(AUTORESUME_ITEST_ROOT) + "/bad-autoresume.conf";
  run("mkdir -p " + std::string(AUTORESUME_ITEST_ROOT) + " && printf 'PollInterval=1s\\nReplacprogram=/bin/x\\n' > " + bad);
  for (std::string mode : {" --check-config", " --foreground"}) {
    auto r = run("timeout 10 " + bin + mode + " --config " + bad);
    INFO(r.out);
    CHECK(r.rc == 1);
    CHECK(r.out.find("autoresumed: " + bad + ":2: unknown key \"Replacprogram\" (known: ") != std::string::npos);
  }
  auto missing = run(bin + " --foreground --config /nonexistent.conf");
  CHECK(missing.rc == 1);
  CHECK(missing.out.find("/nonexistent.conf: cannot read the configuration file") != std::string::npos);
}

TEST_CASE("(breaker) two of four nodes killed at once open the breaker: nothing more is done until a reset",
          "[controller][breaker]") {
  // BreakerSettle covers the ping cycle that may separate the two nodes' detection.
  ResumeCluster rc("ctl-breaker", {replace_program("ctl-breaker"), "BreakerSettle=25s"});
  uint32_t first = rc.submit_counter("--auto-resume=1");
  rc.wait_stepping(first);
  auto nodes = rc.c.job(first).nodes;
  rc.c.kill_node(nodes[0]);
  rc.c.kill_node(nodes[1]);
  REQUIRE(wait_until(60s, [&] { return rc.events("breaker_tripped").size() == 1; }));
  double tripped_at = rc.events("breaker_tripped")[0].at;
  CHECK(rc.c.controller_log().find("event=breaker_tripped") != std::string::npos);

  // While open: a watched job whose node an admin marks Action:Replace is left alone.
  uint32_t second = rc.c.sbatch("-N1 -o /dev/null --auto-resume=1 --wrap 'sleep 300'");
  rc.wait_running(second);
  std::string node = rc.c.job(second).nodes.at(0);
  rc.admin(node, "fail", "Action:Replace");
  std::this_thread::sleep_for(4s);
  Job j = rc.c.job(second);
  CHECK(j.state == JobState::Running);
  CHECK(j.restart_count == 0);
  for (const char* kind : {"down", "requeue", "start_now", "hold", "release"})
    for (const auto& a : rc.actions(kind)) CHECK(a.at < tripped_at);
  CHECK(rc.actions("replace").empty());  // the killed nodes wait, drained
  CHECK(rc.c.node(nodes[0]).unavailable());

  auto reset = run(binary_dir() + "/controller/autoresumed --reset-breaker --config " + rc.c.dir() + "/autoresume.conf");
  INFO(reset.out);
  REQUIRE(reset.rc == 0);
  REQUIRE(wait_until(30s, [&] {
    Job k = rc.c.job(second);
    return k.state == JobState::Running && k.restart_count == 1;
  }));
  // Elsewhere, or on its own node once that was replaced and returned (an admin's request waits no BreakerSettle).
  if (rc.c.job(second).nodes.at(0) == node) {
    bool returned = false;
    for (const auto& e : rc.events("node_returned")) returned |= e.subject == node;
    CHECK(returned);
  }
  CHECK(rc.events("breaker_reset").size() == 1);
  CHECK(rc.events("breaker_tripped").size() == 1);  // failures from before the reset do not trip it again
  // ... and the node lifecycles go on: the two killed nodes and the Action:Replace one are replaced.
  REQUIRE(wait_until(60s, [&] { return rc.actions("replace").size() == 3; }));
  REQUIRE(wait_until(60s, [&] { return !rc.c.node(nodes[0]).drain && !rc.c.node(nodes[1]).drain; }));
}

TEST_CASE("(breaker) slurmctld paused for twice SlurmdTimeout and resumed: no breaker, nothing drained, replaced or "
          "requeued",
          "[controller][breaker]") {
  // The controller's defaults for the breaker (BreakerSettle 30 s): what a site runs.
  ResumeCluster rc("ctl-ctld-pause", {replace_program("ctl-ctld-pause")});
  uint32_t id = rc.submit_counter("--auto-resume=1", 400);
  rc.wait_stepping(id);
  REQUIRE(wait_until(10s, [&] { return !rc.events("job_watched").empty(); }));
  std::smatch m;
  std::string status = rc.c.sh(source_dir() + "/scripts/devcluster status --dir " + rc.c.dir()).out;
  REQUIRE(std::regex_search(status, m, std::regex("slurmctld +pid ([0-9]+)")));
  int ctld = std::stoi(m[1]);

  // Stopped, as a slurmctld stalls (a hung filesystem under StateSaveLocation, a swapping host): for 2 x SlurmdTimeout
  // no RPC is answered, then everything it missed arrives at once.
  REQUIRE(kill(ctld, SIGSTOP) == 0);
  std::this_thread::sleep_for(20s);  // SlurmdTimeout=10 (ClusterOptions)
  REQUIRE(kill(ctld, SIGCONT) == 0);
  // Long enough for the ping cycle after the pause, BreakerSettle, and the controller's reaction to any of it.
  std::this_thread::sleep_for(45s);

  INFO(rc.c.controller_log());
  CHECK(rc.events("breaker_tripped").empty());
  for (const char* kind : {"drain", "down", "replace", "power_down", "reboot", "requeue", "hold", "signal"}) {
    INFO(kind);
    CHECK(rc.actions(kind).empty());
  }
  for (const char* node : {"n1", "n2", "n3", "n4"}) {
    INFO(node);
    CHECK_FALSE(rc.c.node(node).unavailable());
  }
  Job j = rc.c.job(id);
  CHECK(j.state == JobState::Running);
  CHECK(j.restart_count == 0);
  rc.c.sh("scancel " + std::to_string(id));
}

namespace {

int connect_nonblocking(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  return fd;
}

// GET path over a fresh connection; the status line, or "" when no answer came within `timeout`.
std::string status_line(int port, const std::string& path, int timeout_s) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval t{timeout_s, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, sizeof t);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &t, sizeof t);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string line;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    char buf[256] = {};
    if (write(fd, req.data(), req.size()) > 0 && read(fd, buf, sizeof buf - 1) > 0) line = std::string(buf).substr(0, 12);
  }
  close(fd);
  return line;
}

}  // namespace

TEST_CASE("(flood) the API flooded under a 1024-descriptor limit: recovery decisions go on, then it answers again",
          "[controller][security]") {
  // systemd's default descriptor limit, hard: the controller cannot raise it.
  ResumeCluster rc("ctl-flood", {}, "prlimit --nofile=1024:1024");
  std::smatch m;
  std::string url = read_file(rc.c.dir() + "/autoresume.url");
  REQUIRE(std::regex_search(url, m, std::regex(":([0-9]+)")));
  int port = std::stoi(m[1]);
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  setrlimit(RLIMIT_NOFILE, &lim);
  REQUIRE(lim.rlim_cur > 1500);

  uint32_t id = rc.submit_counter("--auto-resume=1", 400);  // long enough to outlast the flood's set-up
  rc.wait_stepping(id);
  // 1,100 connections that send nothing, and 20 that trickle a header a byte a second (each read in time).
  std::vector<int> crowd;
  for (int i = 0; i < 1100; ++i) crowd.push_back(connect_nonblocking(port));
  std::atomic<bool> flooding{true};
  std::thread slow([&] {
    std::vector<int> fds;
    while (flooding) {
      while (fds.size() < 20) {
        int fd = connect_nonblocking(port);
        send(fd, "GET /v1/status HTTP/1.1\r\n", 25, MSG_NOSIGNAL);
        fds.push_back(fd);
      }
      for (int& fd : fds)
        if (send(fd, "a", 1, MSG_NOSIGNAL) != 1) close(fd), fd = -1;  // cut by the server: open another
      std::erase(fds, -1);
      std::this_thread::sleep_for(1s);
    }
    for (int fd : fds) close(fd);
  });
  Job before = rc.c.job(id);
  REQUIRE(before.state == JobState::Running);
  rc.c.kill_node(before.nodes.back());
  Job last;
  bool resumed = wait_until(90s, [&] {
    last = rc.c.job(id);
    return last.state == JobState::Running && last.restart_count == 1;
  });
  flooding = false;
  slow.join();
  for (int fd : crowd) close(fd);
  std::string log = rc.c.controller_log();
  INFO("job " << id << " last seen: state " << to_string(last.state) << ", restarts " << last.restart_count
              << ", nodes " << last.nodes.size() << ", reason " << last.state_reason);
  INFO(rc.c.sh("scontrol show job " + std::to_string(id) + "; sinfo -N -o '%N %T %E'").out);
  INFO(log.substr(log.size() > 4000 ? log.size() - 4000 : 0));
  CHECK(resumed);
  CHECK(rc.actions("start_now").size() == 1);
  CHECK(log.find("Too many open files") == std::string::npos);
  CHECK(log.find("slurmctld_unreachable") == std::string::npos);
  REQUIRE(wait_until(30s, [&] { return status_line(port, "/v1/status", 5) == "HTTP/1.1 200"; }));
}

// systemctl reload sends SIGHUP: the file is read again between ticks. A setting applies at once (PollInterval
// 500ms -> 100ms: the ticks counted in /metrics come faster), a key that takes a restart keeps its running value and is named, a file that does not
// parse changes nothing and is named with its line; the daemon keeps running and answering throughout.
TEST_CASE("(reload) SIGHUP reads the configuration again: applied, restart-only keys named, a bad file changes nothing",
          "[controller][reload]") {
  ClusterOptions o;
  o.nodes = 1;
  DevCluster c("reload", o);
  c.start_controller({"BreakerSettle=0s"});
  std::string conf = c.dir() + "/autoresume.conf";
  std::string pid = trim(read_file(c.dir() + "/run/autoresumed.pid"));
  std::string url = trim(read_file(c.dir() + "/autoresume.url"));
  REQUIRE(wait_until(20s, [&] { return run("curl -sf " + url + "/v1/status").rc == 0; }));
  auto ticks_in_2s = [&] {
    auto count = [&] {
      std::string m = run("curl -s " + url + "/metrics").out;
      std::smatch hit;
      return std::regex_search(m, hit, std::regex("autoresume_poll_duration_seconds_count (\\d+)")) ? std::stod(hit[1]) : -1.0;
    };
    double before = count();
    std::this_thread::sleep_for(2s);
    return count() - before;
  };
  double slow = ticks_in_2s();

  REQUIRE(run("sed -i 's/^ListenAddress=.*/ListenAddress=127.0.0.1:1/' " + conf).rc == 0);
  REQUIRE(run("sed -i 's/^PollInterval=.*/PollInterval=100ms/' " + conf).rc == 0);
  run("kill -HUP " + pid);
  REQUIRE(wait_until(10s, [&] { return c.controller_log().find("event=reloaded") != std::string::npos; }));
  CHECK(c.controller_log().find("needs_restart=ListenAddress") != std::string::npos);
  double fast = ticks_in_2s();
  INFO("ticks in 2 s: " << slow << " at 500ms, " << fast << " at 100ms");
  CHECK(slow <= 6);
  CHECK(fast >= 2 * slow);
  CHECK(run("curl -sf " + url + "/v1/status").rc == 0);  // still on its running address

  REQUIRE(run("sed -i 's/^PollInterval=.*/PollInterval=soon/' " + conf).rc == 0);
  run("kill -HUP " + pid);
  REQUIRE(wait_until(10s, [&] { return c.controller_log().find("event=reload_failed") != std::string::npos; }));
  std::string log = c.controller_log();
  std::string failed = log.substr(log.find("event=reload_failed"));
  failed = failed.substr(0, failed.find('\n'));
  INFO(failed);
  CHECK(failed.find(conf + ":") != std::string::npos);
  CHECK(failed.find("PollInterval") != std::string::npos);
  CHECK(run("kill -0 " + pid).rc == 0);
  CHECK(run("curl -sf " + url + "/v1/status").rc == 0);
}
