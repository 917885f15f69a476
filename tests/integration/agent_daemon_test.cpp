// SPDX-License-Identifier: GPL-2.0-or-later
// `autoresume-agent run` on every node of a real cluster (fake NVML per node, real Slurm, real controller): an
// XID drains its node in well under a second and the job moves on; a temperature spike drains nothing, a
// sustained one does; heartbeats find a dead node in seconds, an agent dying alone is only reported; a real
// Prometheus scrapes the agents and promtool accepts what they serve.
#include "catch_compat.hpp"
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "devcluster.hpp"
#include "prometheus.hpp"
#include "resume_cluster.hpp"

using namespace autoresume;
using namespace autoresume::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

TEST_CASE("(agent run) XID 79 on a node of an auto-resume job: its agent drains it, the job resumes elsewhere",
          "[agent-run]") {
  ResumeCluster rc("agent-xid", {"BreakerSettle=0s"});
  start_agents(rc.c);
  uint32_t id = rc.submit_counter("--auto-resume=1", 30);
  rc.wait_running(id);
  REQUIRE(wait_until(30s, [&] { return rc.checkpoint() >= 5; }));
  std::string victim = rc.c.job(id).nodes.back();
  auto t0 = std::chrono::steady_clock::now();
  set_gpu(rc.c, victim, 40, R"([{"id": 1, "gpu": 0, "xid": 79}])");
  REQUIRE(wait_until(5s, [&] { return rc.c.node(victim).drain; }));
  // Speed is measured by bench/agent_latency, not asserted here; the reason shows whose drain it was.
  WARN("drained " << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s after the XID");
  CHECK(rc.c.node(victim).reason == "autoresume: gpu0: xid 79 [reboot]");
  REQUIRE(wait_until(30s, [&] {
    Job j = rc.c.job(id);
    return j.state == JobState::Running && j.restart_count == 1;
  }));
  auto nodes = rc.c.job(id).nodes;
  CHECK(std::count(nodes.begin(), nodes.end(), victim) == 0);
  REQUIRE(wait_until(60s, [&] { return rc.c.job(id).state == JobState::Completed; }));
  check_steps_resumed_once(rc.steps_log(), read_file(rc.c.work_dir() + "/counter.out"), 30);
  CHECK(read_file(rc.c.dir() + "/log/agent-" + victim + ".log").find("event=xid gpu=0 xid=79 critical=yes") != std::string::npos);
}

TEST_CASE("(agent run) a 2-second temperature spike drains nothing, a sustained one drains", "[agent-run]") {
  ClusterOptions o;
  o.nodes = 2;
  DevCluster c("agent-temp", o);
  c.start_controller({"BreakerSettle=0s"});
  start_agents(c, " --agent-arg=--gpu-temp-for --agent-arg=5");
  set_gpu(c, "n1", 95);
  std::this_thread::sleep_for(2s);
  set_gpu(c, "n1", 40);
  std::this_thread::sleep_for(5s);
  CHECK_FALSE(c.node("n1").drain);
  set_gpu(c, "n1", 95);
  REQUIRE(wait_until(15s, [&] { return c.node("n1").drain; }));
  CHECK(c.node("n1").reason.rfind("autoresume: gpu0:temperature: 95 C (max 85 C) for ", 0) == 0);
  CHECK_FALSE(c.node("n2").drain);
}

TEST_CASE("(agent run) heartbeats: a dead node is set DOWN in seconds, an agent dying alone is only reported",
          "[agent-run]") {
  ResumeCluster rc("agent-beat", {"BreakerSettle=0s", "BreakerFraction=1.0"});
  start_agents(rc.c);
  std::this_thread::sleep_for(2s);  // beats recorded
  auto t0 = std::chrono::steady_clock::now();
  rc.c.kill_node("n3");
  REQUIRE(wait_until(20s, [&] { return rc.c.node("n3").down(); }));
  WARN("DOWN " << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s after the kill");
  // Set DOWN by the controller on missed heartbeats, not by Slurm's SlurmdTimeout ("Not responding").
  CHECK(rc.c.node("n3").reason == "autoresume: heartbeats stopped, slurmd not answering");

  std::string pid = trim(read_file(rc.c.dir() + "/run/agent-n1.pid"));
  run("kill " + pid);
  REQUIRE(wait_until(15s, [&] { return rc.events("agent_silent").size() == 1; }));
  CHECK(rc.events("agent_silent")[0].subject == "n1");
  Node n1 = rc.c.node("n1");
  CHECK_FALSE(n1.drain);
  CHECK_FALSE(n1.down());
  for (const auto& a : rc.store_actions()) CHECK(a.target != "n1");
}

TEST_CASE("(agent run) Prometheus scrapes every agent, promtool accepts agent and controller metrics", "[agent-run]") {
  ResumeCluster rc("agent-prom", {"BreakerSettle=0s"}, "", 2);
  start_agents(rc.c);
  std::vector<std::pair<std::string, std::string>> jobs;
  std::string controller = trim(read_file(rc.c.dir() + "/autoresume.url"));
  jobs.emplace_back("autoresume-controller", controller.substr(7));
  for (const char* n : {"n1", "n2"})
    jobs.emplace_back("autoresume-agent", trim(read_file(rc.c.dir() + "/agent-" + n + ".url")).substr(7));
  Prometheus prom(rc.c.dir(), jobs);
  REQUIRE(wait_until(30s, [&] { return prom.value("count(autoresume_gpu_temperature_celsius)") == 2; }));
  CHECK(prom.value("sum(up{job=\"autoresume-agent\"})") == 2);
  CHECK(prom.value("autoresume_gpu_temperature_celsius{node=\"n2\"}") == 40);
  for (const auto& [job, target] : jobs) {
    auto check = run("curl -s http://" + target + "/metrics | promtool check metrics");
    INFO(job << " " << target << "\n" << check.out);
    CHECK(check.rc == 0);
  }
}

// A job that fills a disk or uses its memory is not a broken node: a sustained shortage drains with a resource
// reason (no new jobs there), the running auto-resume job is left alone, nothing is replaced, and the agent lifts
// its drain once the shortage is gone. Here the shortage is a threshold no disk meets; "gone" is the agent
// restarted without it.
TEST_CASE("(agent run) a sustained disk shortage drains as a resource: no requeue, no replacement, undrained after",
          "[agent-run][resource]") {
  const std::string name = "agent-resource";
  ResumeCluster rc(name, {"BreakerSettle=0s", replace_program(name)}, "", 2);
  uint32_t id = rc.submit_counter("--auto-resume=1", 60);
  rc.wait_running(id);
  std::string disk = " --agent-arg=--disk --agent-arg=" + rc.c.work_dir() + ":100000G --agent-arg=--resource-for --agent-arg=3";
  start_agents(rc.c, disk);
  std::this_thread::sleep_for(1500ms);
  CHECK_FALSE(rc.c.node("n1").drain);  // a shortage shorter than --resource-for: a warn
  REQUIRE(wait_until(15s, [&] { return rc.c.node("n1").drain && rc.c.node("n2").drain; }));
  CHECK(rc.c.node("n1").reason.rfind("autoresume: resource: disk:" + rc.c.work_dir() + ": ", 0) == 0);
  std::this_thread::sleep_for(3s);  // ticks of the controller with both nodes drained
  Job j = rc.c.job(id);
  CHECK(j.state == JobState::Running);
  CHECK(j.restart_count == 0);
  CHECK(rc.actions("requeue").empty());
  CHECK(rc.actions("replace").empty());
  CHECK(rc.events("node_failed").empty());

  run("kill " + trim(read_file(rc.c.dir() + "/run/agent-n1.pid")));
  REQUIRE(wait_until(10s, [&] { return run("kill -0 " + trim(read_file(rc.c.dir() + "/run/agent-n1.pid"))).rc != 0; }));
  rc.c.devcluster("start-agents");  // n1's agent again, without the disk threshold
  REQUIRE(wait_until(15s, [&] { return !rc.c.node("n1").drain; }));
  CHECK(rc.c.node("n2").drain);  // still short there
  CHECK(read_file(rc.c.dir() + "/log/agent-n1.log").find("event=resource_cleared") != std::string::npos);
  rc.c.sh("scancel " + std::to_string(id));
}

// The ladder's reset_gpu rung end to end: the agent names the rung in its drain, the controller waits in Replacing
// (no program, no power cycle), the agent resets the GPU once the node is drained and idle and says so in the
// reason, and the node is validated and returned. The reset command is a script here (never a real GPU reset).
TEST_CASE("(agent run) XID 62: the agent resets the GPU on the drained idle node, the node is validated and returned",
          "[agent-run][ladder]") {
  const std::string name = "agent-reset";
  ResumeCluster rc(name, {"BreakerSettle=0s", "ValidationProgram=" + binary_dir() + "/agent/autoresume-agent check"}, "", 2);
  std::string marker = rc.c.dir() + "/reset.calls";
  std::string script = rc.c.dir() + "/reset-gpu.sh";
  std::filesystem::remove(marker);  // left by an earlier run in the same directory
  std::ofstream(script) << "#!/bin/sh\necho \"$*\" >>" << marker << "\n";
  run("chmod +x " + script);
  start_agents(rc.c, " --agent-arg=--gpu-reset-command='" + script + " -r -i {gpu}'");
  uint32_t blocker = rc.c.sbatch("-N1 -w n2 -o /dev/null --wrap 'sleep 600'");
  rc.wait_running(blocker);
  set_gpu(rc.c, "n2", 40, R"([{"id": 1, "gpu": 0, "xid": 62}])");
  REQUIRE(wait_until(10s, [&] { return rc.c.node("n2").drain; }));
  CHECK(rc.c.node("n2").reason == "autoresume: gpu0: xid 62 [reset_gpu]");
  std::this_thread::sleep_for(3s);
  CHECK_FALSE(std::filesystem::exists(marker));  // a job is still on the node: no reset under it
  rc.c.sh("scancel " + std::to_string(blocker));

  REQUIRE(wait_until(60s, [&] { return rc.events("node_validated").size() == 1; }));
  CHECK(read_file(marker) == "-r -i 0\n");  // once, for GPU 0
  CHECK(rc.events("node_replaced").size() == 1);
  CHECK(rc.actions("power_down").empty());
  Node n2 = rc.c.node("n2");
  CHECK_FALSE(n2.drain);
  CHECK(n2.reason.empty());
  auto metrics = run("curl -s " + trim(read_file(rc.c.dir() + "/agent-n2.url")) + "/metrics");
  CHECK(metrics.out.find("autoresume_agent_remediation_total{node=\"n2\",outcome=\"done\",rung=\"reset_gpu\"} 1") !=
        std::string::npos);
  std::this_thread::sleep_for(2s);  // released after the reset: the agent does not drain again
  CHECK_FALSE(rc.c.node("n2").drain);
}
