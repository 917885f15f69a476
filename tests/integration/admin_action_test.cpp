// SPDX-License-Identifier: GPL-2.0-or-later
// HyperPod's admin requests on a real cluster: `scontrol update nodename=X state=fail|drain|down
// reason=Action:Replace|Action:Reboot` under a running auto-resume job. In every state an admin may use, the
// controller takes the request over, replaces (or reboots) the node, validates it in its reservation, returns
// it, and the job runs again: with a spare node at once, without one after the validation; no step waits for
// one of the lifecycle's timeouts.
#include <thread>

#include "catch_compat.hpp"
#include "devcluster.hpp"
#include "resume_cluster.hpp"

using namespace autoresume;
using namespace autoresume::testing;
using namespace std::chrono_literals;

namespace {

struct Request {
  std::string state;  // what the admin sets: fail, drain or down
  bool spare;         // a free node the job can move to at once
};

// Timeouts far above what each step takes here (seconds): reaching one would fail the test's own deadline.
std::vector<std::string> controller_conf(const std::string& name, const std::string& action) {
  std::string program = std::string(action == "Action:Reboot" ? "RebootProgram=" : "ReplaceProgram=") +
                        source_dir() + "/scripts/devcluster replace-node --dir " + cluster_dir(name);
  return {program, "ValidationProgram=/bin/true", "BreakerSettle=0s", "ReplaceTimeout=10m", "DrainTimeout=10m",
          "ValidationTimeout=10m"};
}

void run_requests(const std::string& name, const std::string& action, const std::vector<Request>& requests) {
  ResumeCluster rc(name, controller_conf(name, action), "", 3);
  std::string work = rc.c.work_dir();
  int done = 0;
  for (const Request& req : requests) {
    INFO(action << " with state=" << req.state << (req.spare ? ", a spare node" : ", no spare node"));
    // Three nodes: the job takes all of them (no spare) or two (one spare).
    std::string nodes = req.spare ? "2" : "3";
    uint32_t id = rc.c.sbatch_as(as_user("sbatch --parsable --auto-resume=1 -N" + nodes + " -D " + work +
                                         " -o /dev/null --wrap 'sleep 600'"));
    rc.wait_running(id);
    // The controller watches the job before the request (a job Slurm requeued before it was ever watched starts
    // with its requeue already counted, and is not one of the controller's to resume).
    REQUIRE(wait_until(10s, [&] {
      for (const auto& e : rc.events("job_watched"))
        if (e.subject == std::to_string(id)) return true;
      return false;
    }));
    std::string target = rc.c.job(id).nodes.back();
    auto started = std::chrono::steady_clock::now();
    rc.admin(target, req.state, action);

    bool held_seen = false;
    REQUIRE(wait_until(60s, [&] {
      Job j = rc.c.job(id);
      held_seen |= j.held && j.state == JobState::Pending;
      return static_cast<int>(rc.events("node_validated").size()) == done + 1 && j.state == JobState::Running &&
             j.restart_count == 1;
    }));
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    INFO("request to running again: " << seconds << " s");
    ++done;
    CHECK(static_cast<int>(rc.events("admin_request_taken").size()) == done);
    CHECK(static_cast<int>(rc.actions(action == "Action:Reboot" ? "reboot" : "replace").size()) == done);
    CHECK(rc.actions(action == "Action:Reboot" ? "replace" : "reboot").empty());
    // No spare: the job waited, held, for the validated node. A spare: it never had to.
    CHECK(held_seen == !req.spare);
    Node n = rc.c.node(target);
    CHECK_FALSE(n.out_of_service());
    CHECK(n.reason.empty());  // the request was consumed, and the reason went with the drain
    rc.c.sh("scancel " + std::to_string(id));
    REQUIRE(wait_until(30s, [&] {
      for (const char* name : {"n1", "n2", "n3"})
        if (rc.c.node(name).base != NodeBase::Idle || rc.c.node(name).out_of_service()) return false;
      return true;
    }));
  }
  for (const char* timeout : {"drain_timeout", "validation_timeout", "replace_failed", "node_quarantined"})
    CHECK(rc.events(timeout).empty());
}

}  // namespace

TEST_CASE("admin Action:Replace with state=fail, drain and down: replaced, validated, returned, the job resumes",
          "[lifecycle][admin]") {
  run_requests("adm-replace", "Action:Replace", {{"fail", false}, {"drain", true}, {"down", false}});
}

TEST_CASE("admin Action:Reboot with state=fail, drain and down: rebooted, validated, returned, the job resumes",
          "[lifecycle][admin]") {
  run_requests("adm-reboot", "Action:Reboot", {{"fail", true}, {"drain", false}, {"down", true}});
}
