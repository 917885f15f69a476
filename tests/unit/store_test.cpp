// SPDX-License-Identifier: GPL-2.0-or-later
// The state database: what is loaded at start, what is pruned, an older database upgraded in place, and the
// reads the API serves bounded.
#include <sqlite3.h>
#include <unistd.h>

#include "catch_compat.hpp"
#include <atomic>
#include <filesystem>
#include <thread>
#include <vector>

#include "store/store.hpp"

using namespace autoresume;

TEST_CASE("store: only watched jobs are loaded at start, any record is found by id", "[store]") {
  auto store = Store::open(":memory:").value();
  const JobPhase all[] = {JobPhase::Running, JobPhase::Signalled, JobPhase::Requeueing, JobPhase::WaitingPending,
                          JobPhase::Held,    JobPhase::Starting,  JobPhase::Exhausted,  JobPhase::NotResumed,
                          JobPhase::Finished};
  uint32_t id = 1;
  for (JobPhase p : all) {
    JobRecord r;
    r.job_id = id++;
    r.phase = p;
    r.user_id = 1000 + r.job_id;
    r.submit_time = 1'700'000'000 + r.job_id;
    r.held_by_us = r.job_id % 2;
    store->save_job(r);
  }
  auto loaded = store->load_jobs();
  for (uint32_t i = 1; i < id; ++i) {
    INFO("phase " << to_string(all[i - 1]));
    CHECK(loaded.count(i) == (is_terminal(all[i - 1]) ? 0u : 1u));
    auto found = store->find_job(i);
    REQUIRE(found);
    CHECK(found->phase == all[i - 1]);
    CHECK(found->user_id == 1000 + i);
    CHECK(found->submit_time == 1'700'000'000 + i);
    CHECK(found->held_by_us == bool(i % 2));
  }
  CHECK_FALSE(store->find_job(99));
}

TEST_CASE("store: history older than the retention is pruned, what is in progress stays", "[store]") {
  auto store = Store::open(":memory:").value();
  store->add_event("node_failed", "n1", "old");
  int64_t intended = store->begin_action("requeue", "7", "attempt 1 of 3");  // in flight: never pruned
  int64_t done = store->begin_action("drain", "n1", "x");
  store->finish_action(done, true);
  store->record_node_failure("n1", "xid", "autoresume: gpu0: xid 79");
  store->clear_node_failure("n1");
  store->record_node_failure("n2", "xid", "autoresume: gpu0: xid 79");  // still open
  JobRecord finished, exhausted, running;
  finished.job_id = 1, finished.phase = JobPhase::Finished;
  exhausted.job_id = 2, exhausted.phase = JobPhase::Exhausted;
  running.job_id = 3, running.phase = JobPhase::Running;
  for (auto* r : {&finished, &exhausted, &running}) r->phase_since = unix_now(), store->save_job(*r);

  CHECK(store->prune(unix_now() - 3600).total() == 0);  // nothing older than an hour ago
  PruneCounts n = store->prune(unix_now() + 1);
  CHECK(n.events == 1);
  CHECK(n.actions == 1);
  CHECK(n.node_failures == 1);
  CHECK(n.jobs == 1);
  CHECK(store->events().empty());
  REQUIRE(store->actions().size() == 1);
  CHECK(store->actions()[0].id == intended);
  CHECK(store->nodes_with_open_failures() == std::vector<std::string>{"n2"});
  CHECK_FALSE(store->find_job(1));
  CHECK(store->find_job(2));  // left held in Slurm: kept, or it would be adopted again with a fresh budget
  CHECK(store->find_job(3));
}

TEST_CASE("store: a node's or job's history is read newest first, bounded", "[store]") {
  auto store = Store::open(":memory:").value();
  for (int i = 0; i < 250; ++i) store->add_event("node_failed", "n1", std::to_string(i));
  store->add_event("node_failed", "n2", "other");
  auto events = store->events_of("n1", 200);
  REQUIRE(events.size() == 200);
  CHECK(events.front().detail == "50");  // the newest 200, oldest of them first
  CHECK(events.back().detail == "249");
  CHECK(store->events_of("n2").size() == 1);
}

TEST_CASE("store: a database written by the first release is upgraded in place", "[store]") {
  auto path = std::filesystem::temp_directory_path() / ("autoresume-store-" + std::to_string(getpid()) + ".db");
  std::filesystem::remove(path);
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  const char* v1 = R"sql(
CREATE TABLE jobs (
  job_id INTEGER PRIMARY KEY, max_attempts INTEGER NOT NULL, attempts INTEGER NOT NULL, phase TEXT NOT NULL,
  restart_seen INTEGER NOT NULL, nodes TEXT NOT NULL, failed_node TEXT NOT NULL, failure_at REAL NOT NULL,
  phase_since REAL NOT NULL, signal_at REAL NOT NULL, overdue_reported INTEGER NOT NULL DEFAULT 0);
CREATE TABLE actions (
  id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, kind TEXT NOT NULL, target TEXT NOT NULL,
  detail TEXT NOT NULL, state TEXT NOT NULL, finished_at REAL, error TEXT NOT NULL DEFAULT '');
CREATE TABLE nodes (
  name TEXT PRIMARY KEY, phase TEXT NOT NULL, phase_since REAL NOT NULL, cause TEXT NOT NULL, action TEXT NOT NULL,
  failures TEXT NOT NULL, validation_failures INTEGER NOT NULL, program_pid INTEGER NOT NULL,
  program_started REAL NOT NULL, validation_job INTEGER NOT NULL, validation_started REAL NOT NULL,
  owns_reservation INTEGER NOT NULL, manual INTEGER NOT NULL DEFAULT 0);
INSERT INTO jobs VALUES (7, 3, 1, 'running', 1, 'n1,n2', 'n2', 1.0, 2.0, 0.0, 0);
INSERT INTO nodes VALUES ('n2', 'replacing', 1.0, 'xid', 'replace', '', 0, 4242, 3.0, 0, 0.0, 0, 0);
INSERT INTO actions (at, kind, target, detail, state) VALUES (1.0, 'requeue', '7', 'attempt 1 of 3', 'done');
)sql";
  REQUIRE(sqlite3_exec(db, v1, nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);

  {
  auto store = Store::open(path.string());
  REQUIRE(store);
  auto jobs = (*store)->load_jobs();
  REQUIRE(jobs.count(7));
  CHECK(jobs[7].attempts == 1);
  CHECK(jobs[7].submit_time == 0);  // unknown: matched by restart count alone, as before
  auto nodes = (*store)->load_nodes();
  CHECK(nodes.at("n2").program_pid == 4242);
  CHECK(nodes.at("n2").program_start_ticks == 0);  // unknown: never signalled
  CHECK((*store)->actions().at(0).attempts == 1);
  }
  CHECK(Store::open(path.string()));  // a second open finds everything in place
  std::filesystem::remove(path);
  std::filesystem::remove(path.string() + "-wal");
  std::filesystem::remove(path.string() + "-shm");
}

TEST_CASE("store: the two of a pair opening one new shared StateDir at once both start", "[store]") {
  // Each open creates the schema and adds the columns a newer release has; two processes doing it together must
  // not both add the same column (the second would fail its start: "duplicate column name").
  auto path = std::filesystem::temp_directory_path() / ("autoresume-store-pair-" + std::to_string(getpid()) + ".db");
  for (int round = 0; round < 20; ++round) {
    std::filesystem::remove(path);
    std::filesystem::remove(path.string() + "-journal");
    std::atomic<int> ready{0};
    std::vector<std::string> errors(4);
    std::vector<std::thread> openers;
    for (size_t i = 0; i < errors.size(); ++i)
      openers.emplace_back([&, i] {
        ++ready;
        while (ready < static_cast<int>(errors.size())) std::this_thread::yield();
        auto store = Store::open(path.string(), JournalMode::Rollback);  // each its own connection, as two hosts
        if (!store) errors[i] = store.error().message;
      });
    for (auto& t : openers) t.join();
    for (const auto& e : errors) CHECK(e == "");
  }
  std::filesystem::remove(path);
  std::filesystem::remove(path.string() + "-journal");
}
