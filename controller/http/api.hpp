// SPDX-License-Identifier: GPL-2.0-or-later
// The controller's HTTP API as plain request -> response (server.cpp binds it to cpp-httplib; the unit tests
// call it directly). Reads come from the latest snapshot and the event history; node commands and the breaker
// reset go to the loop thread through the command queue and answer with its verdict.
//
// Auth: a POST needs "Authorization: MUNGE <credential>" made for "POST <path>" by root or SlurmUser (401
// without a valid credential, 403 for anyone else). Reads are open unless ReadAuth=munge; then any user may
// read, but a user who is not an admin sees only their own jobs and no event history. Nothing changes on any
// error.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <mutex>
#include <set>
#include <string>

#include "engine/heartbeats.hpp"
#include "engine/progress.hpp"
#include "engine/snapshot.hpp"
#include "http/command_queue.hpp"
#include "http/metrics.hpp"
#include "store/store.hpp"

namespace autoresume {

struct ApiRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> query;
  std::string authorization;  // the Authorization header
  std::string body;
  std::string remote_addr;    // the peer's address, as the listener saw it
};

struct ApiResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
};

struct ApiSettings {
  std::string munge_socket;  // empty: munge's default
  std::set<uid_t> admins;    // root and SlurmUser
  bool read_auth = false;    // ReadAuth=munge
  std::chrono::milliseconds command_timeout{10000};
  std::string metrics_token;  // MetricsTokenFile's contents: with ReadAuth=munge, /metrics also takes this bearer token
  bool heartbeat_from_node = true;  // HeartbeatFrom=node: a heartbeat must come from the node's own address
  std::string validation_reports_dir;  // StateDir/validation (recovery/validation_report.hpp); "": not shown
};

class Api {
 public:
  Api(ApiSettings settings, SnapshotBoard& board, CommandQueue& commands, Store& history, Metrics& metrics,
      HeartbeatBoard* heartbeats = nullptr, ProgressBoard* progress = nullptr);
  ApiResponse handle(const ApiRequest& request);

 private:
  struct Caller {
    bool authenticated = false;
    uid_t uid = 0;
    bool admin = false;
    std::string origin;  // the munge credential's encoding host (IPv4), if munge said
  };
  ApiResponse get(const ApiRequest& r, const Caller& who);
  ApiResponse post(const ApiRequest& r, const Caller& who);
  ApiResponse run_command(const std::string& verb, const std::string& node, const Caller& who);
  ApiResponse heartbeat(const ApiRequest& r, const Caller& who, const std::string& node);
  std::optional<ApiResponse> authenticate(const ApiRequest& r, bool required, Caller& who);
  std::optional<ApiResponse> refuse_metrics(const ApiRequest& r);
  bool from_node(const Node& node, const ApiRequest& r, const Caller& who);

  ApiSettings settings_;
  SnapshotBoard& board_;
  CommandQueue& commands_;
  std::mutex history_mutex_;
  Store& history_;
  Metrics& metrics_;
  HeartbeatBoard* heartbeats_;
  ProgressBoard* progress_;
  std::mutex resolved_mutex_;
  std::map<std::string, std::pair<std::vector<std::string>, std::chrono::steady_clock::time_point>> resolved_;
};

ApiResponse error_response(int status, const std::string& reason);

}  // namespace autoresume
