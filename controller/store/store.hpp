// SPDX-License-Identifier: GPL-2.0-or-later
// The controller's durable memory: SQLite in WAL mode under StateDir. Actions are journaled before they are sent
// to Slurm (state "intended") and completed after ("done"/"failed"); job records carry each auto-resume job's
// budget and phase; events and node failures are the history users read.
#pragma once

#include <sqlite3.h>

#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "autoresume/result.hpp"
#include "model/records.hpp"

namespace autoresume {

// A write refused because another autoresumed holds the lease now (its generation is not ours): this process
// must stop acting at once (engine/lease.hpp).
class LeaseLost : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Who acts on the state: one autoresumed at a time holds it; every take raises the generation.
struct Lease {
  std::string holder;   // "HOST pid N"; empty: released
  std::string host;     // the SlurmctldHost it runs beside
  int64_t generation = 0;
  double expires = 0;   // unix seconds; another may take it after this
  double since = 0;     // when this holder took it
  std::string wanted_by;  // a standby beside the slurmctld in control asks for it (the holder hands over)
  double wanted_at = 0;
};

// WAL needs memory shared between the processes that open the database: one host only. A StateDir on a
// filesystem shared between hosts (HighAvailability=yes) uses a rollback journal and POSIX locks instead.
enum class JournalMode { Wal, Rollback };

struct PruneCounts {
  int64_t events = 0, actions = 0, node_failures = 0, jobs = 0;
  int64_t total() const { return events + actions + node_failures + jobs; }
};

class Store {
 public:
  // Opens (creating if needed) the database at `path`; ":memory:" for tests.
  static Result<std::unique_ptr<Store>> open(const std::string& path, JournalMode mode = JournalMode::Wal);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  std::map<uint32_t, JobRecord> load_jobs();  // the jobs still watched (not in a terminal phase)
  std::optional<JobRecord> find_job(uint32_t job_id);  // any phase
  void save_job(const JobRecord& job);

  std::map<std::string, NodeRecord> load_nodes();
  void save_node(const NodeRecord& node);

  int64_t begin_action(const std::string& kind, const std::string& target, const std::string& detail);
  void finish_action(int64_t id, bool ok, const std::string& error = "");
  void retry_action(int64_t id);  // the same action sent again: its row back to "intended", one more attempt
  std::vector<ActionRow> actions(const std::string& state = "");  // all, or only those in `state`

  void add_event(const std::string& kind, const std::string& subject, const std::string& detail);
  std::vector<EventRow> events(int64_t since_id = 0, size_t limit = 0);  // limit 0: all
  std::vector<EventRow> events_of(const std::string& subject, size_t limit = 200);  // the newest `limit`, oldest first
  // Deletes history older than `before` (unix seconds): events, finished actions, cleared node failures, and
  // records of jobs that ended (not an exhausted one: it is left held in Slurm). What is still in
  // progress is never deleted.
  PruneCounts prune(double before);

  // Small durable settings (the breaker's state): key -> value, "" when absent.
  std::string meta(const std::string& key);
  void set_meta(const std::string& key, const std::string& value);

  // The lease (engine/lease.hpp). take_lease takes it for `holder` on `host` for `seconds` if nobody holds it, it
  // expired at least `expired_for` seconds ago, or `host` held it (this autoresumed's previous process), and
  // returns the new generation. From then on every write through this connection is fenced: SQLite refuses it
  // (LeaseLost) as soon as the lease's generation is not this one's, inside the same transaction as the write.
  Lease lease();
  std::optional<int64_t> take_lease(const std::string& holder, const std::string& host, double seconds, double expired_for);
  bool renew_lease(double seconds);  // false: lost (another generation holds it)
  void release_lease();              // expires now; this connection writes nothing more
  void want_lease(const std::string& host);
  int64_t fence() const { return fence_; }
  // Every write fenced from now on (a lease holder's generation, or 0: nothing may be written until one is taken).
  void install_fence(int64_t generation);

  void record_node_failure(const std::string& node, const std::string& cause, const std::string& reason);
  std::vector<std::string> nodes_with_open_failures();
  void clear_node_failure(const std::string& node);

 private:
  explicit Store(sqlite3* db) : db_(db) {}
  void exec(const char* sql);
  void migrate();
  sqlite3* db_;
  int64_t fence_ = 0;  // the lease generation this connection writes under (0: none taken)
  double lease_seconds_ = 0;
};

double unix_now();

}  // namespace autoresume
