// SPDX-License-Identifier: GPL-2.0-or-later
#include "catch_compat.hpp"

#include "recovery/node_failure.hpp"

using namespace autoresume;

namespace {
Node node(NodeBase base, std::string reason = "", bool drain = false, bool no_respond = false, bool fail = false) {
  Node n;
  n.name = "n2";
  n.base = base;
  n.reason = std::move(reason);
  n.drain = drain;
  n.not_responding = no_respond;
  n.fail = fail;
  return n;
}
}  // namespace

TEST_CASE("healthy and admin-drained nodes are not failures", "[nodes]") {
  CHECK_FALSE(classify_node(node(NodeBase::Idle)));
  CHECK_FALSE(classify_node(node(NodeBase::Allocated)));
  CHECK_FALSE(classify_node(node(NodeBase::Mixed, "maintenance: new PSU", true)));
  CHECK_FALSE(classify_node(node(NodeBase::Down, "maintenance: new PSU")));       // the admin's DOWN
  CHECK_FALSE(classify_node(node(NodeBase::Idle, "action:replace", false, false, true)));  // case-sensitive
  CHECK_FALSE(classify_node(node(NodeBase::Idle, "Action:Replace ", false, false, true)));
}

TEST_CASE("Slurm's own verdicts are failures, and get our drain", "[nodes]") {
  auto down = node(NodeBase::Down, "Not responding", false, true);
  auto f = classify_node(down);
  REQUIRE(f);
  CHECK(f->source == FailureSource::Slurm);
  CHECK(f->cause == "slurmd not responding");
  CHECK_FALSE(f->alive);
  CHECK(needs_drain(down, *f));
  CHECK(drain_reason(*f) == "autoresume: slurmd not responding");
  down.drain = true;
  CHECK_FALSE(needs_drain(down, *f));

  auto killfail = classify_node(node(NodeBase::Down, "Kill task failed"));
  REQUIRE(killfail);
  CHECK(killfail->cause == "slurm: Kill task failed");
}

TEST_CASE("autoresume and Action reasons are failures: an Action request is taken over, ours is kept", "[nodes]") {
  auto agent = node(NodeBase::Mixed, "autoresume: gpu3: xid 79", true);
  auto f = classify_node(agent);
  REQUIRE(f);
  CHECK(f->source == FailureSource::AutoResume);
  CHECK(f->cause == "gpu3: xid 79");
  CHECK(f->alive);
  CHECK_FALSE(needs_drain(agent, *f));

  for (const char* r : {"Action:Replace", "Action:Reboot"}) {
    auto admin = node(NodeBase::Allocated, r, false, false, true);
    auto a = classify_node(admin);
    REQUIRE(a);
    CHECK(a->source == FailureSource::AdminAction);
    CHECK(a->alive);
    CHECK(needs_drain(admin, *a));  // consumed: drained with auto-resume's own reason
    CHECK(drain_reason(*a) == std::string("autoresume: admin ") + r);
  }
}

TEST_CASE("NOT_RESPONDING before DOWN is a suspect, not a failure", "[nodes]") {
  auto n = node(NodeBase::Allocated, "", false, true);
  CHECK_FALSE(classify_node(n));
  CHECK(is_suspect(n));
  CHECK_FALSE(is_suspect(node(NodeBase::Allocated)));
  CHECK_FALSE(is_suspect(node(NodeBase::Allocated, "maintenance", true, true)));  // an admin's node
}

// Every state in which Slurm schedules nothing on a node until it is resumed, and the reasons judged only there.
TEST_CASE("one out-of-service predicate: DRAIN, FAIL and DOWN, not NOT_RESPONDING or MAINT alone", "[nodes]") {
  Node n;
  n.base = NodeBase::Idle;
  CHECK_FALSE(n.out_of_service());
  n.not_responding = true;
  CHECK_FALSE(n.out_of_service());  // Slurm's suspect: DOWN follows, or it answers again
  n.not_responding = false;
  n.maint = true;
  CHECK_FALSE(n.out_of_service());  // a reservation flag: jobs of the reservation run there
  n.maint = false;
  for (auto set : {+[](Node& x) { x.drain = true; }, +[](Node& x) { x.fail = true; },
                   +[](Node& x) { x.base = NodeBase::Down; }}) {
    Node m = n;
    set(m);
    CHECK(m.out_of_service());
    m.reason = "Action:Replace";
    CHECK(classify_node(m));
  }
  // 24.11 keeps the reason across state=RESUME: an idle node with our old words is not failed again.
  n.reason = "autoresume: gpu0: xid 79";
  CHECK_FALSE(classify_node(n));
  n.reason = "Action:Replace";
  CHECK_FALSE(classify_node(n));
}

TEST_CASE("reason classes: hardware, resource, admin, foreign, from one place", "[nodes][resource]") {
  CHECK(reason_class("autoresume: gpu0: xid 79") == ReasonClass::Hardware);
  CHECK(reason_class("autoresume: resource: memory: 100 MiB available (min 512 MiB) for 60 s") == ReasonClass::Resource);
  CHECK(reason_class("Action:Replace") == ReasonClass::Admin);
  CHECK(reason_class("Action:Reboot") == ReasonClass::Admin);
  CHECK(reason_class("action:replace") == ReasonClass::Foreign);
  CHECK(reason_class("maintenance: new PSU") == ReasonClass::Foreign);
  // A resource drain is no failure and no admin's: the controller neither replaces the node nor leaves it alone as
  // a person's; a resource-drained node that also died is Slurm's verdict.
  Node n;
  n.base = NodeBase::Mixed;
  n.drain = true;
  n.reason = "autoresume: resource: disk:/tmp: 1 GiB free (min 10 GiB) for 60 s";
  CHECK_FALSE(classify_node(n));
  CHECK_FALSE(is_admin_owned(n));
  n.base = NodeBase::Down;
  auto f = classify_node(n);
  REQUIRE(f);
  CHECK(f->source == FailureSource::Slurm);
}
