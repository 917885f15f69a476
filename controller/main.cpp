// SPDX-License-Identifier: GPL-2.0-or-later
// autoresumed: the auto-resume controller, beside slurmctld.
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <set>
#include <mutex>
#include <thread>

#include "config/config.hpp"
#include "engine/controller.hpp"
#include "engine/lease.hpp"
#include "http/api.hpp"
#include "http/server.hpp"
#include "notify/notifier.hpp"
#include "slurm/libslurm_client.hpp"
#include "store/store.hpp"
#include "util/files.hpp"
#include "util/log.hpp"

using namespace autoresume;

namespace {

std::atomic<bool> stopping{false};
std::atomic<bool> reload_requested{false};

void on_stop_signal(int) { stopping = true; }
void on_reload_signal(int) { reload_requested = true; }

// SIGHUP (systemctl reload): the configuration file is read again between two ticks. A file that does not parse
// changes nothing (the error names file and line); keys that take a restart keep their running values and are
// named. The loop thread is the only one that reads the configuration then (the standby observer is idle).
void reload_config(const std::string& path, Config& running) {
  auto next = load_config(path);
  if (!next) {
    log(LogLevel::Error, "reload_failed", {{"error", next.error().message}, {"effect", "the running configuration stays"}});
    return;
  }
  std::vector<std::string> kept = keep_restart_only(running, next.value());
  running = std::move(next).value();
  set_log_level(running.log_level);
  std::string names;
  for (const auto& k : kept) names += (names.empty() ? "" : ",") + k;
  log(LogLevel::Info, "reloaded", {{"config", path}, {"needs_restart", names.empty() ? "none" : names}});
}

// AUTORESUME_CRASH_AFTER=<action>[#N]: the process kills itself with SIGKILL right after that action (its Nth, by
// default the first) succeeded in Slurm and before the journal records it as done: the crash window the restart
// and takeover logic must survive (tests only).
std::function<void(const std::string&)> crash_hook() {
  const char* at = std::getenv("AUTORESUME_CRASH_AFTER");
  if (!at || !*at) return nullptr;
  std::string kind = at;
  int nth = 1;
  if (auto hash = kind.find('#'); hash != std::string::npos) {
    nth = std::max(1, std::atoi(kind.c_str() + hash + 1));
    kind.resize(hash);
  }
  auto seen = std::make_shared<int>(0);
  return [kind, nth, seen](const std::string& done) {
    if (done != kind || ++*seen < nth) return;
    log(LogLevel::Warning, "crash_hook", {{"after", done}});
    raise(SIGKILL);
  };
}

// Waits for the next tick, serving admin commands as they come; a command or an agent's wake-up is followed by a
// tick at once. The lease is renewed (or, standby, watched) about once a second meanwhile; a change of role ends
// the wait. A standby answers commands with 503: the active one acts.
void wait_next_tick(CommandQueue& commands, Controller& controller, Store& store, Leadership& leader,
                    std::chrono::milliseconds d) {
  auto until = std::chrono::steady_clock::now() + d;
  bool was_active = leader.active();
  while (!stopping && !reload_requested && std::chrono::steady_clock::now() < until) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    bool woken = commands.wait_for(std::min(left, std::chrono::milliseconds(100)));  // an agent saw a fault
    auto queued = commands.take();
    if (leader.active()) {
      serve_commands(queued, controller, store);
    } else {
      for (auto& c : queued)
        c->done.set_value(Error{503, "this autoresumed (" + leader.view().host + ") is standby: " + leader.view().why});
    }
    if (leader.update() != was_active) return;
    if (was_active && (woken || !queued.empty())) return;
  }
}

// A standby's view of Slurm and of the journal, for the read API, taken off the loop thread: with the active
// one's slurmctld dead, libslurm waits (up to SlurmctldTimeout) for a backup to take control, and the loop thread
// must meanwhile watch the lease to take over. Its own libslurm client, state connection and Controller; what it
// publishes is dropped once this process is no longer standby.
class StandbyObserver {
 public:
  StandbyObserver(const Config& config, const std::string& db, JournalMode journal, std::function<void(std::shared_ptr<const ControllerSnapshot>)> publish)
      : config_(config), db_(db), journal_(journal), publish_(std::move(publish)) {}
  ~StandbyObserver() {
    if (thread_.joinable()) thread_.join();
  }
  // Standby now: one observation in the background, unless one is still running. `role` is what it reports.
  void poke(const RoleView& role) {
    {
      std::lock_guard lock(mutex_);
      role_ = role;
      standby_ = true;
    }
    if (busy_) return;
    if (thread_.joinable()) thread_.join();
    busy_ = true;
    thread_ = std::thread([this] { observe(); });
  }
  // No observation running (the configuration may change).
  void wait_idle() {
    if (thread_.joinable()) thread_.join();
  }
  void stop_publishing() {
    std::lock_guard lock(mutex_);
    standby_ = false;
  }

 private:
  void observe() {
    try {
      if (!slurm_) {
        auto client = LibSlurmClient::open();
        auto store = Store::open(db_, journal_);
        if (client && store) {
          slurm_ = std::move(client).value();
          store_ = std::move(store).value();
          controller_ = std::make_unique<Controller>(*slurm_, *store_, config_);
        }
      }
      if (controller_) {
        controller_->observe_standby();
        std::lock_guard lock(mutex_);
        if (standby_) {
          controller_->set_role(role_);
          publish_(controller_->snapshot());
        }
      }
    } catch (const std::exception& e) {
      log(LogLevel::Warning, "standby_observe_failed", {{"error", e.what()}});
    }
    busy_ = false;
  }

  const Config& config_;
  std::string db_;
  JournalMode journal_;
  std::function<void(std::shared_ptr<const ControllerSnapshot>)> publish_;
  std::unique_ptr<LibSlurmClient> slurm_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Controller> controller_;
  std::thread thread_;
  std::atomic<bool> busy_{false};
  std::mutex mutex_;
  RoleView role_;
  bool standby_ = false;
};

std::set<uid_t> api_admins(const Config& config) {
  std::set<uid_t> admins = {0};
  if (const passwd* pw = getpwnam(config.slurm_user.c_str())) admins.insert(pw->pw_uid);
  else log(LogLevel::Warning, "slurm_user_unknown", {{"user", config.slurm_user}, {"effect", "only root may act through the API"}});
  return admins;
}

// autoresumed --check-slurm: what slurm.conf lacks for the controller's features, read from slurmctld itself.
int check_slurm_config(const Config& config) {
  auto slurm = LibSlurmClient::open();
  if (!slurm) {
    std::cerr << "autoresumed: " << slurm.error().message << "\n";
    return 1;
  }
  auto settings = (*slurm)->load_settings();
  if (!settings) {
    std::cerr << "autoresumed: slurmctld: " << settings.error().message << "\n";
    return 1;
  }
  int rc = 0;
  // The built-in remediation methods: what slurm.conf offers, and what `auto` picks for a replace and a reboot.
  auto power = settings->power_cycle_missing();
  std::cout << "autoresumed: power_cycle (POWER_DOWN_FORCE, POWER_UP through power saving): "
            << (power.empty() ? "available" : "unavailable") << "\n";
  for (const auto& line : power) std::cout << "  - " << line << "\n";
  std::cout << "autoresumed: reboot (scontrol reboot, slurm.conf's RebootProgram): "
            << (settings->reboot_program.empty() ? "unavailable (no RebootProgram)" : "available") << "\n";
  for (const char* action : {"replace", "reboot"}) {
    std::string node = "(a node)";
    Method m = resolve_method(action, node, config, &*settings);
    std::cout << "autoresumed: Action:" << (std::string(action) == "replace" ? "Replace" : "Reboot") << " by "
              << to_string(m) << (m == Method::None ? " (waits for the node's slurmd to come back)" : "") << "\n";
    bool asked_power = (std::string(action) == "replace" ? config.replace_method : config.reboot_method).fallback == Method::PowerCycle;
    if (asked_power && !power.empty()) rc = 3;
  }
  std::string ping = settings->ping_timing_risk();
  std::cout << "autoresumed: node detection (SlurmdTimeout=" << settings->slurmd_timeout
            << ", MessageTimeout=" << settings->message_timeout << "): " << (ping.empty() ? "ok" : "check") << "\n";
  if (!ping.empty()) {
    std::cout << "  - " << ping << "\n";
    rc = 3;
  }
  auto ha = high_availability_missing(config, *settings);
  std::cout << "autoresumed: high availability (" << settings->controllers.size() << " SlurmctldHost, HighAvailability="
            << (config.high_availability ? "yes" : "no") << "): " << (ha.empty() ? "ok" : "check") << "\n";
  for (const auto& line : ha) std::cout << "  - " << line << "\n";
  if (!ha.empty()) rc = 3;
  auto missing = settings->in_place_missing();
  if (missing.empty()) {
    std::cout << "autoresumed: in-place retry of srun --auto-resume=1 steps: available\n";
    return rc;
  }
  std::cout << "autoresumed: in-place retry of srun --auto-resume=1 steps: unavailable"
            << (config.in_place_retry ? " (such jobs are requeued whole instead):" : " (and InPlaceRetry=no):") << "\n";
  for (const auto& line : missing) std::cout << "  - " << line << "\n";
  return 3;
}

// Said once at start, where an admin looks: a feature the configuration asks for that slurm.conf does not allow.
void report_slurm_settings(SlurmClient& slurm, const Config& config) {
  auto settings = slurm.load_settings();
  if (!settings) return;  // slurmctld not up yet: the loop says so
  auto power = settings->power_cycle_missing();
  bool asks_power = config.replace_method.fallback == Method::PowerCycle || config.reboot_method.fallback == Method::PowerCycle;
  for (const auto& [glob, m] : config.replace_method.rules) asks_power |= m == Method::PowerCycle;
  for (const auto& [glob, m] : config.reboot_method.rules) asks_power |= m == Method::PowerCycle;
  if (asks_power)
    for (const auto& line : power)
      log(LogLevel::Warning, "power_cycle_unavailable", {{"missing", line}, {"effect", "power cycles fail"}});
  for (const auto& line : high_availability_missing(config, *settings))
    log(LogLevel::Warning, "high_availability_check", {{"missing", line}});
  if (std::string ping = settings->ping_timing_risk(); !ping.empty())
    log(LogLevel::Warning, "slurm_ping_timing", {{"check", ping}});
  if (!config.in_place_retry) return;
  for (const auto& line : settings->in_place_missing())
    log(LogLevel::Warning, "in_place_unavailable", {{"missing", line}, {"effect", "steps that asked are requeued whole"}});
}

int run(int argc, char** argv) {
  CLI::App app{"autoresumed: requeues and restarts auto-resume jobs after hardware failures"};
  std::string config_path = "/etc/slurm/autoresume.conf";
  bool check_only = false;
  bool foreground = false;
  bool reset_breaker = false;
  bool check_slurm = false;
  app.add_option("-c,--config", config_path, "configuration file")->capture_default_str();
  app.add_flag("--check-config", check_only, "validate the configuration and exit");
  app.add_flag("--check-slurm", check_slurm,
               "ask slurmctld whether its configuration allows what the controller does (in-place retry) and exit: "
               "0 all present, 3 something missing (named), 1 slurmctld not reachable");
  app.add_flag("--reset-breaker", reset_breaker,
               "close the circuit breaker (the running daemon resumes on its next tick) and exit");
  app.add_flag("-f,--foreground", foreground, "stay in the foreground (the default under systemd: Type=simple)");
  app.set_version_flag("--version", std::string(AUTORESUME_VERSION));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  auto config = load_config(config_path);
  if (!config) {
    std::cerr << "autoresumed: " << config.error().message << "\n";
    return 1;
  }
  if (check_only) {
    std::cout << "autoresumed: " << config_path << ": configuration is valid\n";
    return 0;
  }
  set_log_level(config->log_level);
  if (check_slurm) return check_slurm_config(*config);
  // Before daemonizing: an unusable StateDir or slurm.conf is said where the admin who started us looks.
  if (auto dir = check_writable_dir(config->state_dir, "StateDir"); !dir) {
    std::cerr << "autoresumed: " << dir.error().message << "\n";
    return 1;
  }
  const std::string db_path = config->state_dir + "/autoresume.db";
  const JournalMode journal = config->high_availability ? JournalMode::Rollback : JournalMode::Wal;
  if (reset_breaker) {
    auto store = Store::open(db_path, journal);
    if (!store) {
      std::cerr << "autoresumed: " << store.error().message << "\n";
      return 1;
    }
    Breaker::reset(**store, "autoresumed --reset-breaker (uid " + std::to_string(getuid()) + ")");
    std::cout << "autoresumed: circuit breaker reset\n";
    return 0;
  }
  auto slurm_client = LibSlurmClient::open();
  if (!slurm_client) {
    std::cerr << "autoresumed: " << slurm_client.error().message << "\n";
    return 1;
  }
  if (!foreground && daemon(0, 1) != 0) {
    std::cerr << "autoresumed: cannot daemonize: " << std::strerror(errno) << "\n";
    return 1;
  }

  auto store = Store::open(db_path, journal);
  if (!store) {
    log(LogLevel::Error, "startup_failed", {{"error", store.error().message}});
    return 1;
  }
  signal(SIGTERM, on_stop_signal);
  signal(SIGINT, on_stop_signal);
  signal(SIGHUP, on_reload_signal);

  LibSlurmClient& slurm = **slurm_client;
  report_slurm_settings(slurm, *config);
  log(LogLevel::Info, "started", {{"version", AUTORESUME_VERSION}, {"config", config_path}, {"state", db_path},
                                  {"high_availability", config->high_availability ? "yes" : "no"},
                                  {"pid", std::to_string(getpid())}});
  Leadership leader(**store, slurm, *config);
  // A new Controller on every change of role: taking over starts from the journal, as a restart does.
  std::unique_ptr<Controller> controller;
  auto hook = crash_hook();
  auto fresh_controller = [&] {
    auto next = std::make_unique<Controller>(slurm, **store, *config);
    next->after_action = hook;
    if (controller) next->carry_counters(*controller);
    controller = std::move(next);
  };
  fresh_controller();

  // The API's own connection to the state database (reads of the event history, from the HTTP threads).
  auto history = Store::open(db_path, journal);
  if (!history) {
    log(LogLevel::Error, "startup_failed", {{"error", history.error().message}});
    return 1;
  }
  Metrics metrics;
  Notifier notifier(NotifySettings{config->webhook_url, config->notify_program, "", 3, std::chrono::seconds(5)});
  ObserverList observers;
  observers.add(&metrics);
  observers.add(&notifier);
  SnapshotBoard board;
  CommandQueue commands;
  HeartbeatBoard heartbeats;
  ProgressBoard progress;
  auto wire = [&] {
    controller->set_observer(&observers);
    controller->set_heartbeats(&heartbeats);
    controller->set_progress(&progress);
  };
  wire();
  ApiSettings api_settings;
  api_settings.munge_socket = config->munge_socket;
  api_settings.admins = api_admins(*config);
  api_settings.read_auth = config->read_auth;
  api_settings.metrics_token = config->metrics_token;
  api_settings.heartbeat_from_node = config->heartbeat_from_node;
  api_settings.validation_reports_dir = validation_reports_dir(*config);
  Api api(api_settings, board, commands, **history, metrics, &heartbeats, &progress);
  HttpServer server(api);
  if (config->listen_address != "none") {
    Status listening = server.start(config->listen_address);
    if (!listening) {
      log(LogLevel::Error, "startup_failed", {{"error", listening.error().message}});
      return 1;
    }
  }
  int rc = 0;
  bool acting = false;  // this process's controller has recovered the journal and acts
  std::mutex publishing;
  auto publish = [&](std::shared_ptr<const ControllerSnapshot> snapshot) {
    std::lock_guard lock(publishing);
    metrics.update(*snapshot);
    board.publish(std::move(snapshot));
  };
  StandbyObserver observer(*config, db_path, journal, publish);
  while (!stopping) {
    try {
      if (reload_requested.exchange(false)) {
        observer.wait_idle();
        reload_config(config_path, config.value());
      }
      bool active = leader.update(true);
      if (active != acting) {
        if (active) observer.stop_publishing();
        fresh_controller();
        wire();
        controller->set_cluster(board.current()->cluster);  // as the standby's observer learned it
        if (active) controller->recover();  // what the previous holder left in flight: read back, not replayed
        acting = active;
        // Said at once: the next tick may wait on libslurm until a backup slurmctld is in control.
        controller->set_role(leader.view());
        publish(controller->snapshot());
      }
      if (!acting) {
        observer.poke(leader.view());
        wait_next_tick(commands, *controller, **store, leader, config->poll_interval);
        continue;
      }
      controller->tick();
      controller->set_role(leader.view());
      publish(controller->snapshot());
      wait_next_tick(commands, *controller, **store, leader, controller->next_delay());
    } catch (const LeaseLost& e) {
      // Another autoresumed took the lease while this one was acting: nothing more was journaled or sent.
      leader.lost(e.what());
    } catch (const std::exception& e) {
      // A state database error (read-only or full StateDir): stop, promptly and non-zero, rather than act
      // without a journal; systemd restarts us (Restart=on-failure).
      log(LogLevel::Error, "tick_failed", {{"error", e.what()}});
      rc = 1;
      break;
    }
  }
  commands.stop();
  server.stop();
  log(LogLevel::Info, "stopped", {{"exit", std::to_string(rc)}});
  return rc;
}

}  // namespace

// Nothing leaves the process as an uncaught exception (util/files.hpp).
int main(int argc, char** argv) { return autoresume::main_without_exceptions("autoresumed", 1, run, argc, argv); }
