// SPDX-License-Identifier: GPL-2.0-or-later
#include "store/store.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>

#include "util/strings.hpp"

namespace autoresume {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS jobs (
  job_id INTEGER PRIMARY KEY, max_attempts INTEGER NOT NULL, attempts INTEGER NOT NULL, phase TEXT NOT NULL,
  restart_seen INTEGER NOT NULL, nodes TEXT NOT NULL, failed_node TEXT NOT NULL, failure_at REAL NOT NULL,
  phase_since REAL NOT NULL, signal_at REAL NOT NULL, overdue_reported INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS actions (
  id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, kind TEXT NOT NULL, target TEXT NOT NULL,
  detail TEXT NOT NULL, state TEXT NOT NULL, finished_at REAL, error TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, kind TEXT NOT NULL, subject TEXT NOT NULL,
  detail TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS lease (
  id INTEGER PRIMARY KEY CHECK (id = 1), holder TEXT NOT NULL, host TEXT NOT NULL, generation INTEGER NOT NULL,
  expires REAL NOT NULL, since REAL NOT NULL, wanted_by TEXT NOT NULL DEFAULT '', wanted_at REAL NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS node_failures (
  id INTEGER PRIMARY KEY AUTOINCREMENT, node TEXT NOT NULL, cause TEXT NOT NULL, reason TEXT NOT NULL,
  at REAL NOT NULL, cleared_at REAL);
CREATE TABLE IF NOT EXISTS nodes (
  name TEXT PRIMARY KEY, phase TEXT NOT NULL, phase_since REAL NOT NULL, cause TEXT NOT NULL, action TEXT NOT NULL,
  failures TEXT NOT NULL, validation_failures INTEGER NOT NULL, program_pid INTEGER NOT NULL,
  program_started REAL NOT NULL, validation_job INTEGER NOT NULL, validation_started REAL NOT NULL,
  owns_reservation INTEGER NOT NULL, manual INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS events_by_subject ON events (subject, id);
CREATE INDEX IF NOT EXISTS events_by_time ON events (at);
CREATE INDEX IF NOT EXISTS actions_by_state ON actions (state);
CREATE INDEX IF NOT EXISTS actions_by_time ON actions (at);
CREATE INDEX IF NOT EXISTS jobs_by_phase ON jobs (phase, phase_since);
CREATE INDEX IF NOT EXISTS open_node_failures ON node_failures (node) WHERE cleared_at IS NULL;
CREATE INDEX IF NOT EXISTS node_failures_by_time ON node_failures (cleared_at);
)sql";

std::string join_times(const std::vector<double>& times) {
  std::vector<std::string> parts;
  for (double t : times) parts.push_back(std::to_string(t));
  return join_commas(parts);
}

std::vector<double> split_times(const std::string& text) {
  std::vector<double> out;
  for (const auto& p : split_commas(text)) out.push_back(std::atof(p.c_str()));
  return out;
}

// What the fencing triggers raise (install_fence).
constexpr const char* kFenced = "fenced:";

// The tables a lease holder writes: every change to them is fenced.
constexpr const char* kFencedTables[] = {"jobs", "actions", "events", "meta", "node_failures", "nodes"};

// A prepared statement with positional binds; throws on SQLite errors (a broken state database is fatal).
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &st_, nullptr) != SQLITE_OK) fail("prepare");
  }
  ~Statement() { sqlite3_finalize(st_); }
  Statement& bind(int i, int64_t v) { return check(sqlite3_bind_int64(st_, i, v)); }
  Statement& bind(int i, double v) { return check(sqlite3_bind_double(st_, i, v)); }
  Statement& bind(int i, const std::string& v) {
    return check(sqlite3_bind_text(st_, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  }
  bool step() {
    int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) fail("step");
    return false;
  }
  int64_t integer(int col) { return sqlite3_column_int64(st_, col); }
  double real(int col) { return sqlite3_column_double(st_, col); }
  std::string text(int col) {
    auto p = sqlite3_column_text(st_, col);
    return p ? reinterpret_cast<const char*>(p) : "";
  }

 private:
  Statement& check(int rc) {
    if (rc != SQLITE_OK) fail("bind");
    return *this;
  }
  [[noreturn]] void fail(const char* what) {
    std::string msg = sqlite3_errmsg(db_);
    if (msg.rfind(kFenced, 0) == 0) throw LeaseLost(msg);
    throw std::runtime_error(std::string("sqlite ") + what + ": " + msg);
  }
  sqlite3* db_;
  sqlite3_stmt* st_ = nullptr;
};

// The job phases after which a record is history (model/records.hpp: is_terminal), as an SQL list.
constexpr const char* kTerminalPhases = "('exhausted','not_resumed','finished')";

}  // namespace

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Result<std::unique_ptr<Store>> Store::open(const std::string& path, JournalMode mode) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    if (int err = db ? sqlite3_system_errno(db) : 0) msg += std::string(" (") + std::strerror(err) + ")";
    sqlite3_close(db);
    return Error{0, path + ": cannot open the state database: " + msg};
  }
  std::unique_ptr<Store> store(new Store(db));
  try {
    // First: switching to WAL takes a lock, and a reader opening the database at the same moment (the CLI,
    // --reset-breaker) must make us wait, not fail at start.
    store->exec("PRAGMA busy_timeout=5000");
    if (mode == JournalMode::Wal) {
      store->exec("PRAGMA journal_mode=WAL");
    } else {
      // Leaving WAL needs the database to itself: another process still holding it open in WAL mode (an
      // autoresumed of an older configuration) is said, not waited for.
      Statement st(store->db_, "PRAGMA journal_mode=DELETE");
      if (st.step() && st.text(0) != "delete")
        throw std::runtime_error("cannot leave WAL mode for the shared StateDir's rollback journal (journal_mode is " +
                                 st.text(0) + "): stop every other process that has the database open");
    }
    store->exec("PRAGMA synchronous=FULL");  // a journaled intent must be on disk before the action is sent
    // The schema and its added columns under one write lock: two autoresumed of a pair starting together on a new
    // StateDir would otherwise both find a column missing and the second one's ADD COLUMN fail its start.
    store->exec("BEGIN IMMEDIATE");
    try {
      store->exec(kSchema);
      store->migrate();
      store->exec("COMMIT");
    } catch (...) {
      sqlite3_exec(store->db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  } catch (const std::exception& e) {
    return Error{0, path + ": " + e.what()};
  }
  return store;
}

Store::~Store() { sqlite3_close(db_); }

// Columns added since the first release: a database written by an older version gains them with their defaults.
void Store::migrate() {
  struct Column {
    const char* table;
    const char* name;
    const char* declaration;
  };
  static const Column kAdded[] = {
      {"nodes", "program_start_ticks", "INTEGER NOT NULL DEFAULT 0"},
      {"jobs", "user_id", "INTEGER NOT NULL DEFAULT 0"},
      {"jobs", "submit_time", "INTEGER NOT NULL DEFAULT 0"},
      {"jobs", "held_by_us", "INTEGER NOT NULL DEFAULT 0"},
      {"actions", "attempts", "INTEGER NOT NULL DEFAULT 1"},
      {"jobs", "in_place", "INTEGER NOT NULL DEFAULT 0"},
      {"jobs", "swaps", "INTEGER NOT NULL DEFAULT 0"},
      {"jobs", "swap_stage", "TEXT NOT NULL DEFAULT 'none'"},
      {"jobs", "swap_steps", "TEXT NOT NULL DEFAULT ''"},
      {"jobs", "swap_job", "INTEGER NOT NULL DEFAULT 0"},
      {"jobs", "swap_width", "INTEGER NOT NULL DEFAULT 0"},
      {"jobs", "swap_started", "REAL NOT NULL DEFAULT 0"},
      {"jobs", "hang_timeout", "INTEGER NOT NULL DEFAULT -1"},
      {"jobs", "first_start", "REAL NOT NULL DEFAULT 0"},
      {"jobs", "run_start", "REAL NOT NULL DEFAULT 0"},
      {"jobs", "first_report", "REAL NOT NULL DEFAULT 0"},
      {"jobs", "lost_work", "REAL NOT NULL DEFAULT 0"},
      {"jobs", "recovery", "REAL NOT NULL DEFAULT 0"},
      {"jobs", "startup", "REAL NOT NULL DEFAULT 0"},
      {"jobs", "redone_steps", "INTEGER NOT NULL DEFAULT 0"},
      {"jobs", "hangs", "INTEGER NOT NULL DEFAULT 0"},
      {"nodes", "method", "TEXT NOT NULL DEFAULT ''"},
      {"nodes", "remedy_stage", "INTEGER NOT NULL DEFAULT 0"},
      {"nodes", "remedy_at", "REAL NOT NULL DEFAULT 0"},
  };
  for (const auto& c : kAdded) {
    Statement info(db_, (std::string("SELECT 1 FROM pragma_table_info('") + c.table + "') WHERE name=?").c_str());
    info.bind(1, std::string(c.name));
    if (info.step()) continue;
    exec((std::string("ALTER TABLE ") + c.table + " ADD COLUMN " + c.name + " " + c.declaration).c_str());
  }
}

void Store::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    if (msg.rfind(kFenced, 0) == 0) throw LeaseLost(msg);
    throw std::runtime_error("sqlite: " + msg);
  }
}

Lease Store::lease() {
  Lease l;
  Statement st(db_, "SELECT holder, host, generation, expires, since, wanted_by, wanted_at FROM lease WHERE id=1");
  if (st.step()) {
    l.holder = st.text(0), l.host = st.text(1), l.generation = st.integer(2), l.expires = st.real(3);
    l.since = st.real(4), l.wanted_by = st.text(5), l.wanted_at = st.real(6);
  }
  return l;
}

// Temporary triggers (this connection's own): a write to any state table aborts, inside its own transaction
// and so under SQLite's write lock, unless the lease's generation is still the one this connection took.
void Store::install_fence(int64_t generation) {
  exec("CREATE TEMP TABLE IF NOT EXISTS fence (generation INTEGER)");
  for (const char* table : kFencedTables)
    for (const char* op : {"INSERT", "UPDATE", "DELETE"}) {
      std::string sql = std::string("CREATE TEMP TRIGGER IF NOT EXISTS fence_") + table + "_" + op + " BEFORE " + op +
                        " ON main." + table +
                        " WHEN (SELECT generation FROM main.lease WHERE id=1) IS NOT (SELECT generation FROM temp.fence)"
                        " BEGIN SELECT RAISE(ABORT, '" + kFenced + " another autoresumed holds the lease'); END";
      exec(sql.c_str());
    }
  exec("DELETE FROM temp.fence");
  fence_ = generation;
  if (generation == 0) return;  // nothing may be written until a lease is taken
  Statement st(db_, "INSERT INTO temp.fence (generation) VALUES (?)");
  st.bind(1, generation);
  st.step();
}

std::optional<int64_t> Store::take_lease(const std::string& holder, const std::string& host, double seconds,
                                         double expired_for) {
  exec("BEGIN IMMEDIATE");
  try {
    double now = unix_now();
    Lease l = lease();
    bool free = (!l.host.empty() && l.host == host) || now > l.expires + expired_for;
    if (!free) {
      exec("COMMIT");
      return std::nullopt;
    }
    Statement st(db_,
                 "INSERT INTO lease (id, holder, host, generation, expires, since) VALUES (1,?,?,?,?,?) "
                 "ON CONFLICT(id) DO UPDATE SET holder=excluded.holder, host=excluded.host, "
                 "generation=excluded.generation, expires=excluded.expires, since=excluded.since, wanted_by='', wanted_at=0");
    st.bind(1, holder).bind(2, host).bind(3, l.generation + 1).bind(4, now + seconds).bind(5, now);
    st.step();
    exec("COMMIT");
    install_fence(l.generation + 1);
    lease_seconds_ = seconds;
    return l.generation + 1;
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

bool Store::renew_lease(double seconds) {
  if (fence_ == 0) return false;
  Statement st(db_, "UPDATE lease SET expires=max(expires, ?) WHERE id=1 AND generation=?");
  st.bind(1, unix_now() + seconds).bind(2, fence_);
  st.step();
  return sqlite3_changes(db_) == 1;
}

void Store::release_lease() {
  if (fence_ == 0) return;
  // Expired now and nobody's: the one that asked takes it at once, any other only once it is abandoned.
  Statement st(db_, "UPDATE lease SET expires=?, holder='', host='' WHERE id=1 AND generation=?");
  st.bind(1, unix_now()).bind(2, fence_);
  st.step();
  exec("DELETE FROM temp.fence");
  fence_ = 0;
}

void Store::want_lease(const std::string& host) {
  Statement st(db_, "UPDATE lease SET wanted_by=?, wanted_at=? WHERE id=1");
  st.bind(1, host).bind(2, unix_now());
  st.step();
}

namespace {
constexpr const char* kJobColumns =
    "job_id, max_attempts, attempts, phase, restart_seen, nodes, failed_node, failure_at, phase_since, signal_at, "
    "overdue_reported, user_id, submit_time, held_by_us, in_place, swaps, swap_stage, swap_steps, swap_job, swap_width, "
    "swap_started, hang_timeout, first_start, run_start, first_report, lost_work, recovery, startup, redone_steps, "
    "hangs";

std::vector<uint32_t> split_ids(const std::string& text) {
  std::vector<uint32_t> out;
  for (const auto& s : split_commas(text)) {
    uint32_t n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec == std::errc() && end == s.data() + s.size()) out.push_back(n);
  }
  return out;
}

JobRecord job_row(Statement& st) {
  JobRecord r;
  r.job_id = static_cast<uint32_t>(st.integer(0));
  r.max_attempts = static_cast<unsigned>(st.integer(1));
  r.attempts = static_cast<unsigned>(st.integer(2));
  if (!parse_job_phase(st.text(3), r.phase)) r.phase = JobPhase::Running;
  r.restart_seen = static_cast<uint32_t>(st.integer(4));
  r.nodes = split_commas(st.text(5));
  r.failed_node = st.text(6);
  r.failure_at = st.real(7);
  r.phase_since = st.real(8);
  r.signal_at = st.real(9);
  r.overdue_reported = st.integer(10) != 0;
  r.user_id = static_cast<uint32_t>(st.integer(11));
  r.submit_time = st.integer(12);
  r.held_by_us = st.integer(13) != 0;
  r.in_place = st.integer(14) != 0;
  r.swaps = static_cast<unsigned>(st.integer(15));
  if (!parse_swap_stage(st.text(16), r.swap_stage)) r.swap_stage = SwapStage::None;
  r.swap_steps = split_ids(st.text(17));
  r.swap_job = static_cast<uint32_t>(st.integer(18));
  r.swap_width = static_cast<uint32_t>(st.integer(19));
  r.hang_timeout = st.integer(21);
  r.first_start = st.real(22);
  r.run_start = st.real(23);
  r.first_report = st.real(24);
  r.lost_work = st.real(25);
  r.recovery = st.real(26);
  r.startup = st.real(27);
  r.redone_steps = static_cast<uint64_t>(std::max<int64_t>(0, st.integer(28)));
  r.hangs = static_cast<unsigned>(st.integer(29));
  r.swap_started = st.real(20);
  return r;
}
}  // namespace

std::map<uint32_t, JobRecord> Store::load_jobs() {
  std::map<uint32_t, JobRecord> out;
  Statement st(db_, (std::string("SELECT ") + kJobColumns + " FROM jobs WHERE phase NOT IN " + kTerminalPhases).c_str());
  while (st.step()) {
    JobRecord r = job_row(st);
    out[r.job_id] = r;
  }
  return out;
}

std::optional<JobRecord> Store::find_job(uint32_t job_id) {
  Statement st(db_, (std::string("SELECT ") + kJobColumns + " FROM jobs WHERE job_id=?").c_str());
  st.bind(1, int64_t{job_id});
  if (!st.step()) return std::nullopt;
  return job_row(st);
}

void Store::save_job(const JobRecord& r) {
  Statement st(db_, (std::string("INSERT OR REPLACE INTO jobs (") + kJobColumns + ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)").c_str());
  st.bind(1, int64_t{r.job_id}).bind(2, int64_t{r.max_attempts}).bind(3, int64_t{r.attempts});
  st.bind(4, std::string(to_string(r.phase))).bind(5, int64_t{r.restart_seen}).bind(6, join_commas(r.nodes));
  st.bind(7, r.failed_node).bind(8, r.failure_at).bind(9, r.phase_since).bind(10, r.signal_at);
  st.bind(11, int64_t{r.overdue_reported}).bind(12, int64_t{r.user_id}).bind(13, r.submit_time);
  st.bind(14, int64_t{r.held_by_us}).bind(15, int64_t{r.in_place}).bind(16, int64_t{r.swaps});
  st.bind(17, std::string(to_string(r.swap_stage))).bind(18, join_ids(r.swap_steps)).bind(19, int64_t{r.swap_job});
  st.bind(20, int64_t{r.swap_width}).bind(21, r.swap_started).bind(22, r.hang_timeout).bind(23, r.first_start);
  st.bind(24, r.run_start).bind(25, r.first_report).bind(26, r.lost_work).bind(27, r.recovery).bind(28, r.startup);
  st.bind(29, static_cast<int64_t>(r.redone_steps)).bind(30, int64_t{r.hangs});
  st.step();
}

std::map<std::string, NodeRecord> Store::load_nodes() {
  std::map<std::string, NodeRecord> out;
  Statement st(db_,
               "SELECT name, phase, phase_since, cause, action, failures, validation_failures, program_pid, "
               "program_started, validation_job, validation_started, owns_reservation, manual, program_start_ticks, "
               "method, remedy_stage, remedy_at FROM nodes");
  while (st.step()) {
    NodeRecord r;
    r.name = st.text(0);
    if (!parse_node_phase(st.text(1), r.phase)) r.phase = NodePhase::Healthy;
    r.phase_since = st.real(2);
    r.cause = st.text(3);
    r.action = st.text(4);
    r.failures = split_times(st.text(5));
    r.validation_failures = static_cast<int>(st.integer(6));
    r.program_pid = static_cast<int>(st.integer(7));
    r.program_started = st.real(8);
    r.validation_job = static_cast<uint32_t>(st.integer(9));
    r.validation_started = st.real(10);
    r.owns_reservation = st.integer(11) != 0;
    r.manual = st.integer(12) != 0;
    r.program_start_ticks = static_cast<uint64_t>(st.integer(13));
    r.method = st.text(14);
    r.remedy_stage = static_cast<int>(st.integer(15));
    r.remedy_at = st.real(16);
    out[r.name] = r;
  }
  return out;
}

void Store::save_node(const NodeRecord& r) {
  Statement st(db_,
               "INSERT OR REPLACE INTO nodes (name, phase, phase_since, cause, action, failures, validation_failures, "
               "program_pid, program_started, validation_job, validation_started, owns_reservation, manual, "
               "program_start_ticks, method, remedy_stage, remedy_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  st.bind(1, r.name).bind(2, std::string(to_string(r.phase))).bind(3, r.phase_since).bind(4, r.cause);
  st.bind(5, r.action).bind(6, join_times(r.failures)).bind(7, int64_t{r.validation_failures});
  st.bind(8, int64_t{r.program_pid}).bind(9, r.program_started).bind(10, int64_t{r.validation_job});
  st.bind(11, r.validation_started).bind(12, int64_t{r.owns_reservation}).bind(13, int64_t{r.manual});
  st.bind(14, static_cast<int64_t>(r.program_start_ticks));
  st.bind(15, r.method).bind(16, int64_t{r.remedy_stage}).bind(17, r.remedy_at);
  st.step();
}

int64_t Store::begin_action(const std::string& kind, const std::string& target, const std::string& detail) {
  // Under a lease, each action pushes its expiry out by a whole LeaseTime first: whoever takes over next can do
  // so no sooner than that after this action was journaled (and so, sent).
  if (fence_ != 0 && !renew_lease(lease_seconds_)) throw LeaseLost(std::string(kFenced) + " the lease was taken over");
  Statement st(db_, "INSERT INTO actions (at, kind, target, detail, state) VALUES (?,?,?,?,'intended')");
  st.bind(1, unix_now()).bind(2, kind).bind(3, target).bind(4, detail);
  st.step();  // fenced too: refused here, before the action is sent, if another autoresumed took the lease
  return sqlite3_last_insert_rowid(db_);
}

void Store::finish_action(int64_t id, bool ok, const std::string& error) {
  Statement st(db_, "UPDATE actions SET state=?, finished_at=?, error=? WHERE id=?");
  st.bind(1, std::string(ok ? "done" : "failed")).bind(2, unix_now()).bind(3, error).bind(4, id);
  st.step();
}

void Store::retry_action(int64_t id) {
  Statement st(db_, "UPDATE actions SET state='intended', at=?, attempts=attempts+1, finished_at=NULL WHERE id=?");
  st.bind(1, unix_now()).bind(2, id);
  st.step();
}

std::vector<ActionRow> Store::actions(const std::string& state) {
  std::vector<ActionRow> out;
  Statement st(db_, state.empty() ? "SELECT id, at, kind, target, detail, state, error, attempts FROM actions ORDER BY id"
                                  : "SELECT id, at, kind, target, detail, state, error, attempts FROM actions "
                                    "WHERE state=? ORDER BY id");
  if (!state.empty()) st.bind(1, state);
  while (st.step())
    out.push_back({st.integer(0), st.real(1), st.text(2), st.text(3), st.text(4), st.text(5), st.text(6),
                   static_cast<int>(st.integer(7))});
  return out;
}

void Store::add_event(const std::string& kind, const std::string& subject, const std::string& detail) {
  Statement st(db_, "INSERT INTO events (at, kind, subject, detail) VALUES (?,?,?,?)");
  st.bind(1, unix_now()).bind(2, kind).bind(3, subject).bind(4, detail);
  st.step();
}

namespace {
// Rows of a SELECT id, at, kind, subject, detail FROM events ...
std::vector<EventRow> event_rows(Statement& st) {
  std::vector<EventRow> out;
  while (st.step()) out.push_back({st.integer(0), st.real(1), st.text(2), st.text(3), st.text(4)});
  return out;
}
}  // namespace

std::vector<EventRow> Store::events(int64_t since_id, size_t limit) {
  Statement st(db_, "SELECT id, at, kind, subject, detail FROM events WHERE id > ? ORDER BY id LIMIT ?");
  st.bind(1, since_id).bind(2, limit == 0 ? int64_t{-1} : static_cast<int64_t>(limit));
  return event_rows(st);
}

std::vector<EventRow> Store::events_of(const std::string& subject, size_t limit) {
  Statement st(db_, "SELECT id, at, kind, subject, detail FROM (SELECT id, at, kind, subject, detail FROM events "
                    "WHERE subject = ? ORDER BY id DESC LIMIT ?) ORDER BY id");
  st.bind(1, subject).bind(2, static_cast<int64_t>(limit));
  return event_rows(st);
}

PruneCounts Store::prune(double before) {
  PruneCounts n;
  auto run = [&](const char* sql) {
    Statement st(db_, sql);
    st.bind(1, before);
    st.step();
    return static_cast<int64_t>(sqlite3_changes(db_));
  };
  exec("BEGIN");
  try {
    n.events = run("DELETE FROM events WHERE at < ?");
    n.actions = run("DELETE FROM actions WHERE at < ? AND state != 'intended'");
    n.node_failures = run("DELETE FROM node_failures WHERE cleared_at < ?");
    // An exhausted job is left held in Slurm, possibly for longer: its record stays, or it would be adopted
    // again with a fresh budget.
    n.jobs = run("DELETE FROM jobs WHERE phase_since < ? AND phase IN ('not_resumed','finished')");
    exec("COMMIT");
  } catch (...) {
    exec("ROLLBACK");
    throw;
  }
  return n;
}

std::string Store::meta(const std::string& key) {
  Statement st(db_, "SELECT value FROM meta WHERE key=?");
  st.bind(1, key);
  return st.step() ? st.text(0) : "";
}

void Store::set_meta(const std::string& key, const std::string& value) {
  Statement st(db_, "INSERT OR REPLACE INTO meta (key, value) VALUES (?,?)");
  st.bind(1, key).bind(2, value);
  st.step();
}

void Store::record_node_failure(const std::string& node, const std::string& cause, const std::string& reason) {
  Statement st(db_, "INSERT INTO node_failures (node, cause, reason, at) VALUES (?,?,?,?)");
  st.bind(1, node).bind(2, cause).bind(3, reason).bind(4, unix_now());
  st.step();
}

std::vector<std::string> Store::nodes_with_open_failures() {
  std::vector<std::string> out;
  Statement st(db_, "SELECT DISTINCT node FROM node_failures WHERE cleared_at IS NULL");
  while (st.step()) out.push_back(st.text(0));
  return out;
}

void Store::clear_node_failure(const std::string& node) {
  Statement st(db_, "UPDATE node_failures SET cleared_at=? WHERE node=? AND cleared_at IS NULL");
  st.bind(1, unix_now()).bind(2, node);
  st.step();
}

}  // namespace autoresume
