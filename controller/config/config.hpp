// SPDX-License-Identifier: GPL-2.0-or-later
// autoresumed's configuration: a Slurm-style Key=Value file. Every key, its default and meaning is in
// packaging/autoresume.conf; an unknown key or a bad value is an error naming the file and line.
#pragma once

#include <chrono>
#include <csignal>
#include <string>
#include <vector>

#include "autoresume/result.hpp"
#include "recovery/remediation.hpp"
#include "util/listen_address.hpp"
#include "util/log.hpp"

namespace autoresume {

struct Config {
  std::chrono::milliseconds poll_interval{1000};    // PollInterval=1s
  std::string state_dir = "/var/lib/autoresume";     // StateDir
  unsigned max_attempts = 10;                        // MaxAttempts: the most resumes any job gets
  int no_resume_exit_code = 93;                      // NoResumeExitCode: the job's "do not resume me"
  int signal_before_requeue = 0;                     // SignalBeforeRequeue=none|USR1|TERM|...: 0 = none
  std::chrono::seconds requeue_grace{30};            // RequeueGracePeriod: wait after the signal
  std::chrono::seconds pending_timeout{300};         // PendingTimeout: a requeued job not PENDING by then -> event
  // FailedExitWindow: a job that failed by itself (non-zero exit, not NoResumeExitCode) is watched this long from
  // its end; one of its nodes failing within it (or already failed) makes the failure that node's: resumed.
  std::chrono::seconds failed_exit_window{120};
  // HangTimeout: a job that reported progress (autoresume-progress) and then none for this long, on healthy nodes,
  // is requeued as hung; for jobs whose intent names no timeout of its own (--auto-resume-hang-timeout). 0: never.
  std::chrono::seconds hang_timeout{1800};
  // Not a key: how long after the requeue of a job's previous run it may be started. slurmd refuses a launch
  // credential created in the same second as its kill of that run (slurm_cred.c: ctime <= revoked, "Job
  // credential revoked": the job FAILS), which Slurm's own requeue BeginTime exists to avoid. Tests set 0.
  std::chrono::seconds restart_settle{2};
  bool in_place_retry = true;                        // InPlaceRetry=yes|no: steps that asked are retried in place
  std::chrono::seconds in_place_wait{300};           // InPlaceWait: how long a swap waits for a healthy node
  LogLevel log_level = LogLevel::Info;               // LogLevel=info|debug|warning|error
  double breaker_fraction = 0.2;                     // BreakerFraction: more than this share of nodes failing ...
  std::chrono::seconds breaker_window{600};          // BreakerWindow: ... within this long opens the breaker
  std::chrono::seconds breaker_settle{30};           // BreakerSettle: a failed node waits this long before
                                                     // its replacement, so that a storm seen over several ping
                                                     // cycles opens the breaker before anything is replaced
  int breaker_replace_failures = 3;                  // BreakerReplaceFailures: replace programs failing in a row

  // Node lifecycle (recovery/node_lifecycle.hpp).
  std::string replace_program;                       // ReplaceProgram: site command, called with the node name
  std::string reboot_program;                        // RebootProgram: the same, for Action:Reboot / reboot
  std::string default_action = "replace";            // DefaultAction=replace|reboot for failures without Action:
  MethodChoice replace_method;                       // ReplaceMethod=auto|program|reboot|power_cycle|none[,GLOB:M]
  MethodChoice reboot_method;                        // RebootMethod= the same, for reboots (recovery/remediation.hpp)
  std::chrono::seconds replace_timeout{600};         // ReplaceTimeout: program run + fresh slurmd registered
  std::chrono::seconds drain_timeout{1800};          // DrainTimeout: jobs leaving a draining node
  std::string validation_program;                    // ValidationProgram: run on the node as a job; exit 0 = pass
  std::chrono::seconds validation_timeout{600};      // ValidationTimeout: reservation made to verdict
  int validation_attempts = 2;                       // ValidationAttempts: failed validations before quarantine
  // HTTP API and /metrics (http/), notifications (notify/).
  std::chrono::milliseconds heartbeat_interval{1000}; // HeartbeatInterval: the agents' (they are told too)
  int heartbeat_miss = 3;                            // HeartbeatMiss: intervals without one make a suspect
  std::string listen_address = "127.0.0.1:6828";    // ListenAddress=HOST:PORT, or none
  std::string munge_socket;                          // MungeSocket: munged's socket (empty: munge's default)
  std::string slurm_user = "slurm";                  // SlurmUser: may act through the API, besides root
  bool read_auth = false;                            // ReadAuth=none|munge
  std::string metrics_token;                         // MetricsTokenFile: its first line (/metrics bearer token)
  bool heartbeat_from_node = true;                   // HeartbeatFrom=node|any
  std::string webhook_url;                           // WebhookURL: Slack-style incoming webhook
  std::string notify_program;                        // NotifyProgram: called with kind, subject, message
  int quarantine_after = 3;                          // QuarantineAfter: failures of one node ...
  std::chrono::seconds quarantine_window{86400};     // QuarantineWindow: ... within this long quarantine it
  std::chrono::seconds history_retention{30 * 86400}; // HistoryRetention: events, actions, ended jobs kept this long
  // High availability (engine/lease.hpp): one autoresumed beside each SlurmctldHost, one shared StateDir.
  bool high_availability = false;                    // HighAvailability=yes|no
  std::string controller_host;                       // ControllerHost: the SlurmctldHost beside us ("": hostname)
  std::chrono::milliseconds lease_time{15000};       // LeaseTime: a silent active one is taken over after this
};

// Parses `text` (the contents of `path`, used in messages).
Result<Config> parse_config(const std::string& text, const std::string& path);
// Every key the parser accepts (autoresume.conf(5) documents each one; a test holds them together).
std::vector<std::string> config_keys();
// Reads and parses the file; a missing file is an error.
Result<Config> load_config(const std::string& path);

// A reload (SIGHUP): the keys of `next` that differ from `running` but take a restart to change (the listener,
// the state database, high availability, what the API and the notifier were built with) get their running values
// back; their names are returned. Everything else applies from the next tick.
std::vector<std::string> keep_restart_only(const Config& running, Config& next);


// "30s", "500ms", "2m", "1h", "30d", or a bare number of seconds.
Result<std::chrono::milliseconds> parse_duration(const std::string& value);

}  // namespace autoresume
