// SPDX-License-Identifier: GPL-2.0-or-later
// The HTTP API as compute nodes and users reach it: any method, path, query, Authorization header and body.
// Every answer is a status between 200 and 599 with a JSON body (text for /metrics), and nothing a request
// without a valid credential sends changes anything: no command reaches the loop, no heartbeat is recorded.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "http/api.hpp"

using namespace autoresume;

namespace {

struct World {
  SnapshotBoard board;
  CommandQueue commands;
  Metrics metrics;
  HeartbeatBoard beats;
  std::unique_ptr<Store> store = Store::open(":memory:").value();
  std::unique_ptr<Api> api;
  World() {
    auto s = std::make_shared<ControllerSnapshot>();
    s->cluster = "cluster1";
    std::vector<Node> nodes;
    for (const char* name : {"n1", "n2"}) {
      Node n;
      n.name = name;
      n.address = "127.0.0.1";
      nodes.push_back(n);
    }
    s->nodes = std::make_shared<const NodeTable>(std::move(nodes));
    JobRecord r;
    r.job_id = 7;
    s->job_records[7] = r;
    board.publish(s);
    store->add_event("node_failed", "n1", "xid 79");
    ApiSettings settings;
    settings.munge_socket = "/nonexistent/munge.socket";  // no credential can be valid
    settings.admins = {0};
    settings.read_auth = false;
    settings.command_timeout = std::chrono::milliseconds(1);
    api = std::make_unique<Api>(settings, board, commands, *store, metrics, &beats);
  }
};

// Splits at the first '\n' (or the end).
std::string field(std::string& rest) {
  size_t nl = rest.find('\n');
  std::string out = rest.substr(0, nl);
  rest = nl == std::string::npos ? "" : rest.substr(nl + 1);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World w;
  std::string rest(reinterpret_cast<const char*>(data), size);
  ApiRequest r;
  r.method = field(rest);
  r.path = field(rest);
  std::string query = field(rest);
  if (!query.empty()) r.query[field(query)] = query;
  r.authorization = field(rest);
  r.remote_addr = "127.0.0.1";
  r.body = rest;
  ApiResponse out = w.api->handle(r);
  if (out.status < 200 || out.status > 599) std::abort();
  if (out.content_type == "application/json" && nlohmann::json::parse(out.body, nullptr, false).is_discarded())
    std::abort();
  if (!w.commands.take().empty() || !w.beats.last().empty()) std::abort();  // nothing unauthenticated acts
  return 0;
}
