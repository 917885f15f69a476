// SPDX-License-Identifier: GPL-2.0-or-later
// High availability on a real cluster: a primary and a backup slurmctld (two SlurmctldHost on loopback, one
// StateSaveLocation: scripts/devcluster --backup-ctld), four slurmd with their agents, and an autoresumed beside
// each slurmctld sharing one StateDir. The primary's host dies (its slurmctld and autoresumed SIGKILLed) while a
// node's replacement is running and right after a job's requeue was sent, before it was journaled as done.
#include <signal.h>
#include <sys/stat.h>

#include "catch_compat.hpp"
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "devcluster.hpp"
#include "resume_cluster.hpp"
#include "store/store.hpp"

using namespace autoresume;
using namespace autoresume::testing;
using namespace std::chrono_literals;

namespace {

struct HaCluster {
  DevCluster c;
  std::string name;
  explicit HaCluster(const std::string& n) : c(n, options(n)), name(n) {}
  static ClusterOptions options(const std::string& n) {
    ClusterOptions o;
    o.plugstack = plugstack_with_plugin(n);
    o.nodes = 4;
    o.backup_ctld = true;
    return o;
  }
  std::string log(const std::string& ctl) const { return read_file(c.dir() + "/log/autoresumed-" + ctl + ".log"); }
  std::string url(const std::string& ctl) const {
    auto u = read_file(c.dir() + "/url-" + ctl);
    return u.substr(0, u.find('\n'));
  }
  void start(const std::string& ctl, const std::vector<std::string>& conf, const std::string& env = "") {
    auto count = [&] {
      std::string l = log(ctl);
      size_t n = 0;
      for (size_t at = l.find("event=started"); at != std::string::npos; at = l.find("event=started", at + 1)) ++n;
      return n;
    };
    size_t before = count();
    std::string cmd = env + " AUTORESUMED=" + binary_dir() + "/controller/autoresumed " + source_dir() +
                      "/scripts/devcluster start-controller " + ctl + " --dir " + c.dir();
    for (const auto& line : conf) cmd += " --controller-conf '" + line + "'";
    auto r = run(cmd);
    INFO(r.out);
    REQUIRE(r.rc == 0);
    REQUIRE(wait_until(15s, [&] { return count() > before; }));
  }
  // AUTORESUME_CLUSTER given: learning ClusterName from slurmctld would wait out the slurmctld failover itself.
  std::string cluster() const {
    std::smatch m;
    std::string conf = read_file(c.conf());
    return std::regex_search(conf, m, std::regex("ClusterName=(\\S+)")) ? m[1].str() : "";
  }
  nlohmann::json status(const std::string& ctl) const {
    auto r = run("env AUTORESUME_CLUSTER=" + cluster() + " AUTORESUME_MUNGE_SOCKET=" + c.dir() + "/munge/munge.socket SLURM_CONF=" + c.conf() + " " +
                 binary_dir() + "/ctl/autoresumectl --json --url " + url(ctl) + " status");
    if (r.rc != 0) return nlohmann::json::object();
    return nlohmann::json::parse(r.out, nullptr, false);
  }
  bool active(const std::string& ctl) const {
    auto s = status(ctl);
    return s.is_object() && s.contains("role") && s["role"].value("active", false);
  }
  // The shared state, opened as the pair opens it (a rollback journal: never switched to WAL under them).
  std::unique_ptr<Store> store() const { return Store::open(c.controller_db(), JournalMode::Rollback).value(); }
  std::vector<ActionRow> actions(const std::string& kind, const std::string& target) const {
    auto all = store()->actions();
    std::erase_if(all, [&](const ActionRow& a) { return a.kind != kind || a.target != target; });
    return all;
  }
  std::vector<EventRow> events(const std::string& kind, const std::string& subject) const {
    auto all = store()->events();
    std::erase_if(all, [&](const EventRow& e) { return e.kind != kind || e.subject != subject; });
    return all;
  }
  int pid_of(const std::string& tag) const { return std::stoi("0" + read_file(c.dir() + "/run/" + tag + ".pid")); }
};

uint32_t submit_counter(DevCluster& c, const std::string& sub) {
  std::string dir = c.work_dir() + "/" + sub;
  c.sh(as_user("mkdir -p " + dir));
  return c.sbatch_as(as_user("env STEP_COUNTER=" + source_dir() + "/examples/step_counter.py STEPS=30 STEP_SECONDS=0.4 "
                             "CHECKPOINT_EVERY=4 sbatch --parsable --exclusive -o " + dir + "/counter.out --auto-resume=1 " +
                             source_dir() + "/examples/step_counter.sbatch " + dir));
}

// SIGSTOP the process at a moment it holds no POSIX lock on the file (/proc/locks: "N: POSIX ADVISORY READ|WRITE
// PID MAJ:MIN:INODE START END"); stopped while it holds one, it is continued and tried again.
bool stop_outside_db_lock(int pid, const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return false;
  std::string inode = ":" + std::to_string(st.st_ino);
  for (int attempt = 0; attempt < 200; ++attempt) {
    if (kill(pid, SIGSTOP) != 0) return false;
    bool locked = false;
    std::istringstream locks(read_file("/proc/locks"));
    for (std::string line; std::getline(locks, line);) {
      std::istringstream f(line);
      std::string n, kind, mode, access, who, where;
      f >> n >> kind >> mode >> access >> who >> where;
      if (who == std::to_string(pid) && where.size() > inode.size() &&
          where.compare(where.size() - inode.size(), inode.size(), inode) == 0)
        locked = true;
    }
    if (!locked) return true;
    kill(pid, SIGCONT);
    std::this_thread::sleep_for(std::chrono::milliseconds(10 + attempt % 7));
  }
  return false;
}

size_t lines_with(const std::string& text, const std::string& word) {
  size_t n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) n += line == word;
  return n;
}

}  // namespace

TEST_CASE("(ha) the primary's slurmctld and autoresumed SIGKILLed mid-recovery: the standby takes over, nothing is "
          "done twice, the primary takes control back",
          "[ha]") {
  HaCluster hc("ha");
  DevCluster& c = hc.c;
  // The site's replace program, slow enough to be running when the primary dies; it logs every call.
  std::string program = c.dir() + "/replace.sh", calls = c.dir() + "/replace-calls.log";
  run("rm -f " + calls);
  run("printf '#!/bin/sh\\necho \"$1\" >> " + calls + "\\nsleep 8\\nexec " + source_dir() +
      "/scripts/devcluster replace-node --dir " + c.dir() + " \"$1\"\\n' > " + program + " && chmod 755 " + program);
  // BreakerSettle 1 s for a prompt replacement; the breaker is off (fraction 1): after the failover the backup
  // slurmctld reports nodes NOT_RESPONDING for some seconds until they register, which the default BreakerSettle
  // (30 s) absorbs and a 1 s one does not.
  std::vector<std::string> conf = {"ReplaceProgram=" + program, "LeaseTime=3s", "BreakerFraction=1", "BreakerSettle=1s"};
  hc.start("ctl1", conf, "AUTORESUME_CRASH_AFTER=requeue");
  hc.start("ctl2", conf);
  c.devcluster("start-agents");
  REQUIRE(wait_until(20s, [&] { return hc.active("ctl1"); }));
  auto standby = hc.status("ctl2");
  INFO(standby.dump(2));
  CHECK(standby["role"]["active"] == false);
  CHECK(standby["role"]["lease"]["host"] == "ctl1");
  CHECK(run("curl -s " + hc.url("ctl2") + "/metrics").out.find("autoresume_active 0") != std::string::npos);
  CHECK(run("curl -s " + hc.url("ctl1") + "/metrics").out.find("autoresume_active 1") != std::string::npos);
  // A standby refuses commands, the CLI given the pair goes on to the active one.
  auto cli = "env AUTORESUME_MUNGE_SOCKET=" + c.dir() + "/munge/munge.socket SLURM_CONF=" + c.conf() + " " +
             binary_dir() + "/ctl/autoresumectl ";
  auto refused = run(cli + "--url " + hc.url("ctl2") + " breaker reset");
  INFO(refused.out);
  CHECK(refused.rc != 0);
  CHECK(refused.out.find("HTTP 503") != std::string::npos);
  CHECK(refused.out.find("is standby") != std::string::npos);
  auto pair = run(cli + "--url " + hc.url("ctl2") + "," + hc.url("ctl1") + " breaker reset");
  INFO(pair.out);
  CHECK(pair.rc == 0);
  auto check = run("SLURM_CONF=" + c.conf() + " " + binary_dir() + "/controller/autoresumed --check-slurm --config " +
                   c.dir() + "/autoresume-ctl2.conf");
  INFO(check.out);
  CHECK(check.out.find("high availability (2 SlurmctldHost, HighAvailability=yes): ok") != std::string::npos);

  uint32_t a = submit_counter(c, "a"), b = submit_counter(c, "b");
  REQUIRE(wait_until(40s, [&] {
    return c.job(a).state == JobState::Running && c.job(b).state == JobState::Running &&
           !read_file(c.work_dir() + "/a/steps.log").empty() && !read_file(c.work_dir() + "/b/steps.log").empty();
  }));
  std::string node_a = c.job(a).nodes.back(), node_b = c.job(b).nodes.back();
  c.kill_node(node_a);
  REQUIRE(wait_until(40s, [&] { return lines_with(read_file(calls), node_a) == 1; }));  // its replacement runs
  // An admin's Action:Replace on b's node: the controller requeues b (Slurm did a's, its node being DOWN), and the
  // primary dies right after, before journaling it; its host's slurmctld with it.
  REQUIRE(c.sh("scontrol update nodename=" + node_b + " state=fail reason=Action:Replace").rc == 0);
  REQUIRE(wait_until(40s, [&] { return hc.log("ctl1").find("event=crash_hook after=requeue") != std::string::npos; }));
  run("touch " + c.dir() + "/crashed");  // slurmctld's state files newer than this have the requeue (below)
  // Read at once: with its slurmctld still up, the standby takes an abandoned lease after 2 x LeaseTime (6 s) and
  // closes what it finds in flight as interrupted, which the wait for the state save below can outlast.
  auto in_flight = hc.actions("requeue", std::to_string(b));
  std::string journal;
  for (const auto& a : hc.store()->actions()) journal += a.kind + " " + a.target + " " + a.state + " " + a.error + "\n";
  INFO("journal:\n" << journal << "ctl1's log:\n" << hc.log("ctl1"));
  REQUIRE(in_flight.size() == 1);
  CHECK(in_flight[0].state == "intended");
  // The host dies once its slurmctld has saved the requeue to StateSaveLocation (it saves a second or so after a
  // change): the backup takes over only what was saved, and a SIGKILL before that would be a test of Slurm's own
  // state loss, not of the takeover.
  REQUIRE(wait_until(15s, [&] {
    return !run("find " + c.dir() + "/state/job_state -newer " + c.dir() + "/crashed").out.empty() &&
           !run("find " + c.dir() + "/state/node_state -newer " + c.dir() + "/crashed").out.empty();
  }));
  auto killed_at = std::chrono::steady_clock::now();
  c.devcluster("kill-ctld ctl1");
  CHECK(lines_with(read_file(calls), node_a) == 1);  // still running: in flight

  REQUIRE(wait_until(30s, [&] { return hc.active("ctl2"); }));
  double takeover = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
  WARN("standby active " << takeover << " s after the primary's host died (LeaseTime 3 s, SlurmctldTimeout 10 s)");
  CHECK(takeover <= 10 + 2 * 0.5 + 1);  // SlurmctldTimeout + 2 polls (+ this test's own 0.2 s polling and CLI)
  CHECK(hc.status("ctl2")["role"]["lease"]["generation"] == 2);

  REQUIRE(wait_until(150s, [&] {
    return c.job(a).state == JobState::Completed && c.job(b).state == JobState::Completed;
  }));
  for (auto [id, sub] : {std::pair{a, "a"}, std::pair{b, "b"}}) {
    INFO("job " << id);
    CHECK(c.job(id).restart_count == 1);  // one requeue each, in Slurm's own count
    check_steps_resumed_once(read_file(c.work_dir() + "/" + sub + "/steps.log"),
                             read_file(c.work_dir() + "/" + sub + "/counter.out"), 30);
  }
  CHECK(hc.actions("requeue", std::to_string(b)).size() == 1);  // closed as interrupted, read back, not sent again
  CHECK(hc.actions("requeue", std::to_string(b))[0].error.find("interrupted") != std::string::npos);
  REQUIRE(wait_until(60s, [&] {
    return !hc.events("node_returned", node_a).empty() && !hc.events("node_returned", node_b).empty();
  }));
  std::string all_calls = read_file(calls);
  INFO(all_calls);
  CHECK(lines_with(all_calls, node_a) == 1);  // one replacement each: the one in flight was finished, not redone
  CHECK(lines_with(all_calls, node_b) == 1);
  CHECK(hc.events("node_replaced", node_a).size() == 1);
  CHECK(hc.events("node_replaced", node_b).size() == 1);

  // The primary's host comes back: its slurmctld takes control again, its autoresumed asks for the lease and the
  // standby hands it over between two ticks.
  size_t actions_before = hc.store()->actions().size();
  c.devcluster("start-ctld ctl1");
  hc.start("ctl1", conf);
  REQUIRE(wait_until(30s, [&] { return hc.active("ctl1"); }));
  CHECK(wait_until(15s, [&] { return !hc.active("ctl2"); }));
  // Handed over between two ticks, or, while its tick waited on the slurmctld switching back, taken after
  // LeaseTime and its next write fenced: either way it stopped.
  std::string ctl2_log = hc.log("ctl2");
  CHECK((ctl2_log.find("event=lease_handed_over to=ctl1") != std::string::npos ||
         ctl2_log.find("event=lease_lost") != std::string::npos));
  CHECK(hc.status("ctl1")["role"]["lease"]["generation"] == 3);
  std::this_thread::sleep_for(3s);
  CHECK(hc.store()->actions().size() == actions_before);  // nothing was left to do, and nothing was done again

  // Split brain: the active one frozen (SIGSTOP) past its lease. Its slurmctld still answers, so the other takes
  // only the abandoned lease (2 x LeaseTime); thawed, the stale one writes nothing: it finds its lease gone,
  // stands by, asks, and gets it back.
  // Stopped between two statements on the database: one stopped inside a statement keeps SQLite's lock on the
  // shared file, and then nobody can write, the lease included, until it runs on (docs/architecture.md).
  int frozen = hc.pid_of("autoresumed-ctl1");
  REQUIRE(frozen > 0);
  REQUIRE(stop_outside_db_lock(frozen, c.controller_db()));  // by its PID, from the cluster's pid file
  bool took_over = wait_until(20s, [&] { return hc.active("ctl2"); });
  if (!took_over) UNSCOPED_INFO("ctl2's status: " << hc.status("ctl2").dump() << "\nctl2's log:\n" << hc.log("ctl2"));
  REQUIRE(took_over);
  CHECK(hc.status("ctl2")["role"]["why"].get<std::string>().find("lease abandoned by ctl1") == 0);
  REQUIRE(kill(frozen, SIGCONT) == 0);
  REQUIRE(wait_until(15s, [&] { return hc.log("ctl1").find("event=lease_lost") != std::string::npos; }));
  // Until the thawed one publishes its standby view it still shows its last one (active): wait for the new lease.
  REQUIRE(wait_until(15s, [&] {
    auto st = hc.status("ctl1");
    return hc.active("ctl1") && st.contains("role") && st["role"]["lease"]["generation"] == 5;
  }));
  CHECK(wait_until(15s, [&] { return !hc.active("ctl2"); }));
  CHECK(hc.store()->actions().size() == actions_before);
}
