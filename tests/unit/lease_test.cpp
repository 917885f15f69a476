// SPDX-License-Identifier: GPL-2.0-or-later
// High availability (engine/lease.hpp): the lease in the state database, the fencing of a holder that lost it, and
// which of two autoresumed acts, on two real SQLite connections to one file and the fake Slurm's controller pings.
#include <unistd.h>

#include "catch_compat.hpp"
#include <filesystem>
#include <thread>

#include "engine/lease.hpp"
#include "slurm/fake_slurm.hpp"
#include "store/store.hpp"

using namespace autoresume;

namespace {

struct SharedDb {
  std::string path = (std::filesystem::temp_directory_path() / ("lease-test-" + std::to_string(getpid()) + ".db")).string();
  SharedDb() { std::filesystem::remove(path); }
  ~SharedDb() {
    for (const char* suffix : {"", "-journal", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  }
  std::unique_ptr<Store> open() { return Store::open(path, JournalMode::Rollback).value(); }
};

Config ha_config(const std::string& host) {
  Config c;
  c.high_availability = true;
  c.controller_host = host;
  c.poll_interval = std::chrono::milliseconds(100);
  c.lease_time = std::chrono::milliseconds(2000);
  return c;
}

// slurm.conf's SlurmctldHost ctl1 and ctl2, answering pings as given.
FakeSlurm pair_of_controllers(bool ctl1_up, bool ctl2_up) {
  FakeSlurm slurm;
  slurm.settings.controllers = {"ctl1", "ctl2"};
  slurm.controllers_up = {ctl1_up, ctl2_up};
  return slurm;
}

}  // namespace

TEST_CASE("lease: a holder whose lease was taken over cannot write anything, not even half an action", "[lease]") {
  SharedDb db;
  auto a = db.open(), b = db.open();
  REQUIRE(a->take_lease("ctl1 pid 1", "ctl1", 0.3, 0) == 1);
  a->add_event("node_failed", "n1", "by the holder");
  CHECK_FALSE(b->take_lease("ctl2 pid 2", "ctl2", 5, 0));  // held and not expired
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  REQUIRE(b->take_lease("ctl2 pid 2", "ctl2", 5, 0) == 2);  // expired: taken, generation raised

  // The stale holder: every write refused inside its own transaction, its journal untouched.
  CHECK_THROWS_AS(a->begin_action("requeue", "7", "stale"), LeaseLost);
  CHECK_THROWS_AS(a->add_event("node_failed", "n2", "stale"), LeaseLost);
  CHECK_THROWS_AS(a->set_meta("breaker_open", "1"), LeaseLost);
  CHECK_FALSE(a->renew_lease(5));
  CHECK(b->actions().empty());
  CHECK(b->events().size() == 1);
  CHECK(b->meta("breaker_open").empty());
  // The new holder writes; its action pushed the lease out.
  double before = b->lease().expires;
  b->begin_action("requeue", "7", "attempt 1");
  CHECK(b->lease().expires >= before);
  CHECK(b->actions().size() == 1);
  CHECK(b->lease().holder == "ctl2 pid 2");
}

TEST_CASE("lease: a restarted autoresumed takes its own lease back at once, a released one waits for the asker",
          "[lease]") {
  SharedDb db;
  auto first = db.open();
  REQUIRE(first->take_lease("ctl1 pid 1", "ctl1", 60, 0) == 1);
  auto restarted = db.open();
  CHECK(restarted->take_lease("ctl1 pid 9", "ctl1", 60, 0) == 2);  // same host: its previous process
  CHECK_THROWS_AS(first->add_event("x", "y", "z"), LeaseLost);

  restarted->release_lease();
  auto other = db.open();
  CHECK_FALSE(other->take_lease("ctl2 pid 3", "ctl2", 60, 30));  // not preferred: only an abandoned lease
  CHECK(other->take_lease("ctl2 pid 3", "ctl2", 60, 0) == 3);     // preferred: at once
}

TEST_CASE("lease: a standby that never held it writes nothing", "[lease]") {
  SharedDb db;
  auto holder = db.open(), standby = db.open();
  REQUIRE(holder->take_lease("ctl1 pid 1", "ctl1", 60, 0));
  standby->install_fence(0);
  CHECK_THROWS_AS(standby->add_event("x", "y", "z"), LeaseLost);
  CHECK_THROWS_AS(standby->save_node(NodeRecord{}), LeaseLost);
}

TEST_CASE("leadership: the one beside the slurmctld in control acts, the other asks, takes over and hands back",
          "[lease]") {
  SharedDb db;
  FakeSlurm slurm = pair_of_controllers(true, true);
  Config c1 = ha_config("ctl1"), c2 = ha_config("ctl2");
  auto s1 = db.open(), s2 = db.open();
  Leadership one(*s1, slurm, c1), two(*s2, slurm, c2);

  CHECK(one.update(true));
  CHECK_FALSE(two.update(true));
  CHECK(two.view().why.find("lease held by ctl1") == 0);
  CHECK(two.view().why.find("before ours answers") != std::string::npos);

  // ctl1's slurmctld and autoresumed die: the lease expires, ctl2 (now beside the one in control) takes it.
  slurm.controllers_up = {false, true};
  CHECK_FALSE(two.update(true));  // not before the lease expires
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  CHECK(two.update(true));
  CHECK(two.view().lease.generation == 2);
  CHECK_THROWS_AS(s1->add_event("x", "y", "z"), LeaseLost);  // the old holder, were it alive, is fenced

  // ctl1 comes back: it asks; ctl2 hands over between ticks; ctl1 takes it.
  slurm.controllers_up = {true, true};
  auto s1b = db.open();
  Leadership back(*s1b, slurm, c1);
  CHECK_FALSE(back.update(true));
  CHECK(s2->lease().wanted_by == "ctl1");
  CHECK_FALSE(two.update(true));
  CHECK(two.view().why.find("handed over to ctl1") == 0);
  CHECK(back.update(true));
  CHECK(back.view().lease.generation == 3);
  CHECK_FALSE(two.update(true));  // and it does not take it back
}

TEST_CASE("leadership: a holder not beside the slurmctld in control keeps acting while nobody asks", "[lease]") {
  SharedDb db;
  FakeSlurm slurm = pair_of_controllers(false, true);
  auto s2 = db.open();
  Config c2 = ha_config("ctl2");
  Leadership two(*s2, slurm, c2);
  REQUIRE(two.update(true));
  slurm.controllers_up = {true, true};  // ctl1's slurmctld is back, its autoresumed is not
  CHECK(two.update(true));
  CHECK(two.update(true));
}

TEST_CASE("leadership: a ControllerHost that slurm.conf does not name stays standby and says why", "[lease]") {
  SharedDb db;
  FakeSlurm slurm = pair_of_controllers(true, true);
  auto s = db.open();
  Config c = ha_config("ctl9");
  Leadership l(*s, slurm, c);
  CHECK_FALSE(l.update(true));
  CHECK_FALSE(l.update(true));
  CHECK(high_availability_missing(c, slurm.settings).at(0).find("ControllerHost ctl9 is none of") == 0);
  Config lone;
  CHECK(high_availability_missing(lone, slurm.settings).at(0).find("HighAvailability=no") != std::string::npos);
}
