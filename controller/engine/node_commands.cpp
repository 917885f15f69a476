// SPDX-License-Identifier: GPL-2.0-or-later
// Admins' commands on one node, from the HTTP API. They start, restart or end the node's lifecycle; the steps
// themselves are taken by the normal tick, journaled like any other.
#include "engine/controller.hpp"
#include "http/command_queue.hpp"
#include "recovery/breaker.hpp"
#include "util/log.hpp"

namespace autoresume {
namespace {

constexpr int kNotFound = 404;
constexpr int kConflict = 409;

Error conflict(const std::string& node, NodePhase phase, const std::string& what) {
  return Error{kConflict, node + " is " + to_string(phase) + ": " + what};
}

}  // namespace

Result<std::string> Controller::node_command(const std::string& verb, const std::string& node_name, const std::string& by) {
  const Node* node = nodes_->find(node_name);
  if (!node) return Error{kNotFound, "no node \"" + node_name + "\" in Slurm"};
  if (verb != "replace" && verb != "reboot" && verb != "validate" && verb != "release")
    return Error{kNotFound, "unknown command \"" + verb + "\" (expected replace, reboot, validate or release)"};

  NodeRecord& r = node_records_[node_name];
  if (r.name.empty()) r.name = node_name;
  NodeRecord before = r;
  double now = unix_now();
  if (verb == "release") {
    if (r.phase == NodePhase::Healthy) return conflict(node_name, r.phase, "nothing to release");
    if (r.phase == NodePhase::Replacing) return conflict(node_name, r.phase, "its replace program is running");
    Status s = release_node(r, *node, by);
    if (!s) return Error{500, s.error().message};
  } else {
    if (breaker_.open()) return Error{kConflict, "the circuit breaker is open: reset it first"};
    if (r.phase != NodePhase::Healthy && r.phase != NodePhase::Quarantined)
      return conflict(node_name, r.phase, "already in its lifecycle (release it first to start over)");
    if (verb == "validate") {
      if (!node_transition_allowed(r.phase, NodePhase::Validating)) return conflict(node_name, r.phase, "cannot be validated now");
      r.phase = NodePhase::Validating;
      r.validation_failures = 0, r.validation_job = 0, r.validation_started = 0;
    } else {
      r.phase = NodePhase::Failed;
      r.action = verb;
    }
    r.cause = "manual " + verb + " by " + by;
    r.manual = true;
    r.phase_since = now;
  }
  if (observer_ && before.phase != NodePhase::Healthy && before.phase != r.phase)
    observer_->on_node_phase_left(before.phase, now - before.phase_since);
  store_.save_node(r);
  record_event("manual_" + verb, node_name, "by " + by);
  log(LogLevel::Info, "node_command", {{"node", node_name}, {"command", verb}, {"by", by}, {"phase", to_string(r.phase)}});
  if (verb == "release") return std::string("released: back in service, without validation");
  if (verb == "validate") return std::string("accepted: validating in reservation ") + validation_reservation_name(node_name);
  return "accepted: " + verb + " after its jobs leave (DrainTimeout), then validation";
}

// Back to service now, without validation: the validation job cancelled, our reservation deleted, our drain
// (or HyperPod's Action:*) cleared. A drain with an admin's own reason is not ours to clear.
Status Controller::release_node(NodeRecord& r, const Node& n, const std::string& by) {
  if (r.validation_job != 0) {
    Status s = act("cancel_validation", r.name, std::to_string(r.validation_job), [&] { return slurm_.cancel_job(r.validation_job); });
    if (!s) return s;
  }
  if (r.owns_reservation) {
    Status s = act("unreserve", r.name, validation_reservation_name(r.name),
                   [&] { return slurm_.delete_reservation(validation_reservation_name(r.name)); });
    if (!s) return s;
    r.owns_reservation = false;
  }
  if ((n.drain || n.down() || n.fail) && !is_admin_owned(n)) {
    Status s = act("resume", r.name, "released by " + by, [&] { return slurm_.resume_node(r.name); });
    if (!s) return s;
  }
  r.phase = NodePhase::Healthy;
  r.phase_since = unix_now();
  r.failures.clear();
  r.validation_failures = 0, r.validation_job = 0, r.validation_started = 0, r.program_pid = 0, r.program_started = 0;
  r.program_start_ticks = 0;
  r.manual = false;
  return ok_status();
}

void serve_commands(std::deque<std::unique_ptr<QueuedCommand>>& queued, Controller& controller, Store& store) {
  for (auto& cmd : queued) {
    // A state database error answers the waiting request (500 with the reason) before it goes up to the
    // daemon's handler: the client never sees a dropped connection; commands behind it are refused the same way.
    try {
      if (cmd->verb == "breaker_reset") {
        Breaker::reset(store, "API (" + cmd->by + ")");
        cmd->done.set_value(std::string("closed"));
      } else {
        cmd->done.set_value(controller.node_command(cmd->verb, cmd->node, cmd->by));
      }
    } catch (const std::exception& e) {
      std::string why = std::string("the controller's state database failed: ") + e.what();
      cmd->done.set_value(Error{500, why});
      for (auto& rest : queued)
        if (rest.get() != cmd.get()) try {
            rest->done.set_value(Error{503, why + "; the controller is stopping"});
          } catch (const std::future_error&) {  // already answered
          }
      throw;
    }
  }
}

}  // namespace autoresume
