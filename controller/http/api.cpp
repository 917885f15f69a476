// SPDX-License-Identifier: GPL-2.0-or-later
#include "http/api.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <cmath>
#include <cstdint>
#include <regex>

#include "munge/munge_credential.hpp"
#include "model/goodput.hpp"
#include "recovery/node_lifecycle.hpp"

namespace autoresume {
namespace {

using nlohmann::json;

const std::regex kNodeName("[A-Za-z0-9._-]{1,64}");

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 1;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return parts;
}

// Job names, reasons and paths are whatever users and admins typed, not always UTF-8: invalid bytes become U+FFFD
// instead of an exception that would turn every listing with such a job into a 500.
std::string to_text(const json& body) { return body.dump(-1, ' ', false, json::error_handler_t::replace); }

ApiResponse ok(const json& body, int status = 200) { return ApiResponse{status, to_text(body), "application/json"}; }

const char* slurm_state_name(const Node& n) {
  if (n.down()) return "down";
  if (n.fail) return "fail";
  if (n.drain) return n.base == NodeBase::Idle || n.base == NodeBase::Down ? "drained" : "draining";
  if (n.not_responding) return "not_responding";
  if (n.maint) return "maint";
  return to_string(n.base);
}

json node_json(const ControllerSnapshot& s, const Node& n) {
  json j = {{"name", n.name}, {"slurm_state", slurm_state_name(n)}, {"reason", n.reason}, {"partitions", n.partitions},
            {"phase", to_string(s.phase_of(n.name))}};
  auto it = s.node_records.find(n.name);
  if (it != s.node_records.end()) {
    const NodeRecord& r = it->second;
    j["phase_since"] = r.phase_since;
    j["cause"] = r.cause;
    j["action"] = r.action;
    j["failures"] = r.failures.size();
    j["validation_failures"] = r.validation_failures;
    j["validation_job"] = r.validation_job;
    j["reservation"] = r.owns_reservation ? validation_reservation_name(n.name) : "";
    j["manual"] = r.manual;
  }
  return j;
}

json job_json(const ControllerSnapshot& s, const JobRecord& r) {
  json j = {{"id", r.job_id}, {"phase", to_string(r.phase)}, {"attempts", r.attempts}, {"max_attempts", r.max_attempts},
            {"nodes", r.nodes}, {"failed_node", r.failed_node}, {"failure_at", r.failure_at}, {"phase_since", r.phase_since},
            {"hangs", r.hangs}, {"hang_timeout", r.hang_timeout >= 0 ? json(r.hang_timeout) : json(nullptr)}};
  const Job* job = s.job(r.job_id);
  double until = !is_terminal(r.phase) ? s.taken_at
                 : job && job->end_time != 0 && !job->active() ? static_cast<double>(job->end_time) : r.phase_since;
  Goodput g = goodput_of(r, until);
  j["goodput"] = {{"ratio", g.ratio},         {"elapsed_seconds", g.elapsed},   {"productive_seconds", g.productive},
                  {"lost_work_seconds", g.lost_work}, {"recovery_seconds", g.recovery}, {"startup_seconds", g.startup},
                  {"redone_steps", g.redone_steps}};
  auto p = s.progress.find(r.job_id);
  if (p != s.progress.end()) {
    j["progress"] = {{"step", p->second.step}, {"at", p->second.at}, {"ranks", p->second.ranks}};
    if (p->second.checkpoint)
      j["progress"]["checkpoint"] = {{"step", p->second.checkpoint->step}, {"at", p->second.checkpoint->at}};
  } else {
    j["progress"] = nullptr;
  }
  if (job) {
    j["state"] = to_string(job->state);
    j["user_id"] = job->user_id;
    j["name"] = job->name;
    j["partition"] = job->partition;
    j["restart_count"] = job->restart_count;
  }
  return j;
}

json event_json(const EventRow& e) {
  return {{"id", e.id}, {"at", e.at}, {"kind", e.kind}, {"subject", e.subject}, {"detail", e.detail}};
}

// A heartbeat's {"jobs": [{"job": ID, "step": N, "at": T, "ranks": R, "checkpoint_step": C, "checkpoint_at": T}]}
// (agent/daemon/run.cpp), checked whole before anything is recorded: an error names the entry and the field.
constexpr size_t kMaxReportedJobs = 256;
using Reports = std::vector<std::pair<uint32_t, ProgressReport>>;

Result<Reports> parse_reports(const json& body, double now) {
  Reports out;
  if (!body.contains("jobs")) return out;
  const json& jobs = body["jobs"];
  if (!jobs.is_array()) return Error{400, "jobs: expected an array"};
  if (jobs.size() > kMaxReportedJobs)
    return Error{400, "jobs: " + std::to_string(jobs.size()) + " entries, at most " + std::to_string(kMaxReportedJobs)};
  // A node's clock may run a little ahead of ours; a report from far in the future would never look hung.
  double latest = now + 300;
  for (size_t i = 0; i < jobs.size(); ++i) {
    const json& e = jobs[i];
    std::string where = "jobs[" + std::to_string(i) + "]";
    if (!e.is_object()) return Error{400, where + ": expected an object"};
    auto integer = [&](const char* key, uint64_t lo, uint64_t hi, bool required) -> Result<std::optional<uint64_t>> {
      if (!e.contains(key)) {
        if (required) return Error{400, where + "." + key + ": missing"};
        return std::optional<uint64_t>{};
      }
      const json& v = e[key];
      if (!v.is_number_unsigned() || v.get<uint64_t>() < lo || v.get<uint64_t>() > hi)
        return Error{400, where + "." + key + ": expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi)};
      return std::optional<uint64_t>(v.get<uint64_t>());
    };
    auto time = [&](const char* key, bool required) -> Result<std::optional<double>> {
      if (!e.contains(key)) {
        if (required) return Error{400, where + "." + key + ": missing"};
        return std::optional<double>{};
      }
      const json& v = e[key];
      if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() <= 0 || v.get<double>() > latest)
        return Error{400, where + "." + key + ": expected a unix time (seconds) not after the controller's clock + 300 s"};
      return std::optional<double>(v.get<double>());
    };
    auto job = integer("job", 1, 0xfffffffeULL, true);
    if (!job) return job.error();
    auto step = integer("step", 0, kMaxStep, true);
    if (!step) return step.error();
    auto at = time("at", true);
    if (!at) return at.error();
    auto ranks = integer("ranks", 1, 1000000, true);
    if (!ranks) return ranks.error();
    auto checkpoint_step = integer("checkpoint_step", 0, kMaxStep, false);
    if (!checkpoint_step) return checkpoint_step.error();
    auto checkpoint_at = time("checkpoint_at", false);
    if (!checkpoint_at) return checkpoint_at.error();
    if (checkpoint_step->has_value() != checkpoint_at->has_value())
      return Error{400, where + ": checkpoint_step and checkpoint_at come together"};
    ProgressReport p;
    p.step = **step;
    p.at = **at;
    p.ranks = static_cast<unsigned>(**ranks);
    if (checkpoint_step->has_value()) p.checkpoint = Report{**checkpoint_step, **checkpoint_at};
    p.received = now;
    out.emplace_back(static_cast<uint32_t>(**job), p);
  }
  return out;
}

bool owns(const ControllerSnapshot& s, uint32_t job_id, uid_t uid) {
  const Job* j = s.job(job_id);
  return j && j->user_id == uid;
}

}  // namespace

ApiResponse error_response(int status, const std::string& reason) {
  return ApiResponse{status, to_text(json{{"error", reason}}), "application/json"};
}

Api::Api(ApiSettings settings, SnapshotBoard& board, CommandQueue& commands, Store& history, Metrics& metrics,
         HeartbeatBoard* heartbeats, ProgressBoard* progress)
    : settings_(std::move(settings)), board_(board), commands_(commands), history_(history), metrics_(metrics),
      heartbeats_(heartbeats), progress_(progress) {}

std::optional<ApiResponse> Api::authenticate(const ApiRequest& r, bool required, Caller& who) {
  static const std::string kScheme = "MUNGE ";
  if (r.authorization.empty()) {
    if (required) return error_response(401, "a munge credential is required: header \"Authorization: MUNGE <credential>\"");
    return std::nullopt;
  }
  if (r.authorization.rfind(kScheme, 0) != 0)
    return error_response(401, "Authorization: expected \"MUNGE <credential>\"");
  std::string cluster = board_.current()->cluster;
  if (cluster.empty()) return error_response(503, "the controller has not yet learned ClusterName from slurmctld");
  auto id = decode_credential(settings_.munge_socket, r.authorization.substr(kScheme.size()),
                              credential_payload(cluster, r.method, r.path));
  if (!id) return error_response(401, id.error().message);
  who.authenticated = true;
  who.uid = id->uid;
  who.admin = settings_.admins.count(id->uid) != 0;
  who.origin = id->origin;
  return std::nullopt;
}

// With ReadAuth=munge, /metrics needs a munge credential (any user) or the bearer token of MetricsTokenFile
// (what Prometheus can send: a munge credential is good for one request only).
std::optional<ApiResponse> Api::refuse_metrics(const ApiRequest& r) {
  if (!settings_.read_auth) return std::nullopt;
  static const std::string kBearer = "Bearer ";
  if (!settings_.metrics_token.empty() && r.authorization.rfind(kBearer, 0) == 0) {
    std::string given = r.authorization.substr(kBearer.size());
    const std::string& want = settings_.metrics_token;
    unsigned char diff = given.size() == want.size() ? 0 : 1;
    for (size_t i = 0; i < given.size() && i < want.size(); ++i) diff |= static_cast<unsigned char>(given[i] ^ want[i]);
    if (diff == 0) return std::nullopt;
    return error_response(401, "/metrics: wrong bearer token");
  }
  Caller who;
  return authenticate(r, true, who);
}

// The addresses a node's NodeAddr names (resolved at most once a minute), checked against where the heartbeat
// came from: the peer of the connection, or the host munge says encoded the credential.
bool Api::from_node(const Node& node, const ApiRequest& r, const Caller& who) {
  if (!settings_.heartbeat_from_node) return true;
  std::vector<std::string> addresses;
  {
    std::lock_guard lock(resolved_mutex_);
    auto it = resolved_.find(node.address);
    auto now = std::chrono::steady_clock::now();
    if (it == resolved_.end() || now - it->second.second > std::chrono::minutes(1)) {
      std::vector<std::string> found;
      addrinfo hints{};
      hints.ai_socktype = SOCK_STREAM;
      addrinfo* res = nullptr;
      if (!node.address.empty() && getaddrinfo(node.address.c_str(), nullptr, &hints, &res) == 0) {
        for (addrinfo* a = res; a; a = a->ai_next) {
          char text[INET6_ADDRSTRLEN] = {};
          const void* raw = a->ai_family == AF_INET ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr)
                                                    : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr);
          if (inet_ntop(a->ai_family, raw, text, sizeof text)) found.push_back(text);
        }
        freeaddrinfo(res);
      }
      if (resolved_.size() > 100000) resolved_.clear();
      it = resolved_.insert_or_assign(node.address, std::make_pair(found, now)).first;
    }
    addresses = it->second.first;
  }
  auto named = [&](const std::string& a) { return !a.empty() && std::find(addresses.begin(), addresses.end(), a) != addresses.end(); };
  return named(r.remote_addr) || named(who.origin);
}

ApiResponse Api::handle(const ApiRequest& r) {
  if (r.path == "/metrics") {
    if (r.method != "GET") return error_response(405, "/metrics: only GET");
    if (auto refused = refuse_metrics(r)) return *refused;
    return ApiResponse{200, metrics_.render(), "text/plain; version=0.0.4"};
  }
  if (r.path.rfind("/v1/", 0) != 0) return error_response(404, "no such path: " + r.path + " (the API is under /v1/)");
  Caller who;
  if (r.method == "GET") {
    if (auto refused = authenticate(r, settings_.read_auth, who)) return *refused;
    return get(r, who);
  }
  if (r.method == "POST") {
    if (auto refused = authenticate(r, true, who)) return *refused;
    if (!who.admin) return error_response(403, "uid " + std::to_string(who.uid) + " may read but not act: only root and SlurmUser may");
    return post(r, who);
  }
  return error_response(405, r.method + " is not supported (GET or POST)");
}

ApiResponse Api::get(const ApiRequest& r, const Caller& who) {
  auto s = board_.current();
  auto parts = split_path(r.path);  // {"v1", ...}
  bool restricted = settings_.read_auth && !who.admin;
  if (parts.size() == 2 && parts[1] == "status") {
    json by_phase = json::object(), jobs_by_phase = json::object();
    // Every node is healthy but those with a lifecycle record: counted from the records, not node by node.
    std::map<std::string, size_t> phases{{to_string(NodePhase::Healthy), s->nodes->size()}};
    for (const auto& [name, rec] : s->node_records) {
      if (rec.phase == NodePhase::Healthy || !s->node(name)) continue;
      --phases[to_string(NodePhase::Healthy)];
      ++phases[to_string(rec.phase)];
    }
    for (const auto& [phase, count] : phases)
      if (count > 0) by_phase[phase] = count;
    size_t watched = 0;
    for (const auto& [id, rec] : s->job_records) {
      if (is_terminal(rec.phase)) continue;
      ++watched;
      jobs_by_phase[to_string(rec.phase)] = jobs_by_phase.value(to_string(rec.phase), 0) + 1;
    }
    const RoleView& role = s->role;
    json lease = {{"holder", role.lease.holder}, {"host", role.lease.host}, {"generation", role.lease.generation},
                  {"expires", role.lease.expires}, {"since", role.lease.since}};
    return ok({{"version", AUTORESUME_VERSION},
               {"role", {{"active", role.active}, {"state", role.active ? "active" : "standby"},
                         {"high_availability", role.high_availability}, {"host", role.host}, {"why", role.why},
                         {"lease", lease}}},
               {"cluster", s->cluster},
               {"breaker", {{"open", s->breaker_open}, {"reason", s->breaker_reason}}},
               {"slurmctld_reachable", s->slurm_reachable},
               {"last_poll", s->last_poll},
               {"poll_seconds", s->poll_seconds},
               {"nodes", {{"total", s->nodes->size()}, {"by_phase", by_phase}}},
               {"jobs", {{"watched", watched}, {"by_phase", jobs_by_phase}}},
               {"job_sweep", {{"last", s->last_sweep}, {"interval_seconds", s->sweep_interval},
                              {"jobs_in_slurm", s->jobs_in_slurm}}}});
  }
  if (parts.size() == 2 && parts[1] == "nodes") {
    json out = json::array();
    for (const auto& n : *s->nodes) out.push_back(node_json(*s, n));
    return ok(out);
  }
  if (parts.size() == 3 && parts[1] == "nodes") {
    if (!std::regex_match(parts[2], kNodeName)) return error_response(400, "bad node name \"" + parts[2] + "\"");
    const Node* n = s->node(parts[2]);
    if (!n) return error_response(404, "no node \"" + parts[2] + "\"");
    json j = node_json(*s, *n);
    std::lock_guard lock(history_mutex_);
    j["events"] = json::array();
    for (const auto& e : history_.events_of(n->name)) j["events"].push_back(event_json(e));
    j["validation"] = nullptr;  // the last validation run's report: what the node said when it was validated
    if (!settings_.validation_reports_dir.empty() && !restricted)
      if (auto v = ValidationReports(settings_.validation_reports_dir).latest(n->name))
        j["validation"] = {{"job", v->job_id}, {"at", v->at}, {"lines", v->lines},
                           {"exit", v->exit_code ? json(*v->exit_code) : json(nullptr)}};
    return ok(j);
  }
  if (parts.size() == 2 && parts[1] == "jobs") {
    json out = json::array();
    for (const auto& [id, rec] : s->job_records)
      if (!restricted || owns(*s, id, who.uid)) out.push_back(job_json(*s, rec));
    return ok(out);
  }
  if (parts.size() == 3 && parts[1] == "jobs") {
    uint32_t id = 0;
    if (!std::regex_match(parts[2], std::regex("[0-9]{1,10}")) || std::stoull(parts[2]) > UINT32_MAX ||
        (id = static_cast<uint32_t>(std::stoull(parts[2]))) == 0)
      return error_response(400, "bad job id \"" + parts[2] + "\": expected a Slurm job id, 1 to 4294967295");
    auto it = s->job_records.find(id);
    if (it == s->job_records.end()) return error_response(404, "job " + parts[2] + " is not under auto-resume (or no longer known)");
    if (restricted && !owns(*s, id, who.uid)) return error_response(403, "job " + parts[2] + " is not yours");
    json j = job_json(*s, it->second);
    std::lock_guard lock(history_mutex_);
    j["events"] = json::array();
    for (const auto& e : history_.events_of(parts[2])) j["events"].push_back(event_json(e));
    return ok(j);
  }
  if (parts.size() == 2 && parts[1] == "events") {
    if (restricted) return error_response(403, "the event history is for admins");
    int64_t since = 0;
    auto q = r.query.find("since");
    if (q != r.query.end()) {
      if (!std::regex_match(q->second, std::regex("[0-9]{1,18}")))
        return error_response(400, "since: expected an event id (a non-negative integer), got \"" + q->second + "\"");
      since = std::stoll(q->second);
    }
    json out = json::array();
    std::lock_guard lock(history_mutex_);
    for (const auto& e : history_.events(since, 1000)) out.push_back(event_json(e));
    return ok(out);
  }
  return error_response(404, "no such path: " + r.path);
}

ApiResponse Api::post(const ApiRequest& r, const Caller& who) {
  if (!r.body.empty()) {
    auto body = json::parse(r.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) return error_response(400, "body: expected nothing or a JSON object");
  }
  auto parts = split_path(r.path);
  if (parts.size() == 3 && parts[1] == "breaker" && parts[2] == "reset") return run_command("breaker_reset", "", who);
  if (parts.size() == 2 && parts[1] == "wake") {
    commands_.wake();
    return ok({{"woken", true}}, 202);
  }
  if (parts.size() == 4 && parts[1] == "nodes") {
    if (!std::regex_match(parts[2], kNodeName)) return error_response(400, "bad node name \"" + parts[2] + "\"");
    const std::string& verb = parts[3];
    if (verb == "heartbeat") return heartbeat(r, who, parts[2]);
    if (verb != "replace" && verb != "reboot" && verb != "validate" && verb != "release")
      return error_response(400, "unknown node command \"" + verb + "\": expected replace, reboot, validate, release or heartbeat");
    return run_command(verb, parts[2], who);
  }
  return error_response(404, "no such path: POST " + r.path);
}

// An agent's heartbeat, with the progress of the jobs on its node: recorded here, read by the loop on its next
// tick. The answer lists the reported jobs whose watch has ended, for the agent to remove their directories.
ApiResponse Api::heartbeat(const ApiRequest& r, const Caller& who, const std::string& node) {
  auto s = board_.current();
  const Node* n = s->node(node);
  if (!s->nodes->empty() && !n) return error_response(404, "no node \"" + node + "\" in Slurm");
  if (n && !from_node(*n, r, who))
    return error_response(403, "a heartbeat for " + n->name + " must come from its address (NodeAddr " + n->address +
                                   "), not from " + (r.remote_addr.empty() ? std::string("an unknown peer") : r.remote_addr) +
                                   " (HeartbeatFrom=node)");
  double now = unix_now();
  Reports reports;
  if (!r.body.empty()) {
    auto parsed = parse_reports(json::parse(r.body, nullptr, false), now);
    if (!parsed) return error_response(400, parsed.error().message);
    reports = std::move(parsed).value();
  }
  if (heartbeats_) heartbeats_->beat(node, now);
  json forget = json::array();
  size_t recorded = 0;
  for (const auto& [job, report] : reports) {
    auto rec = s->job_records.find(job);
    if (rec != s->job_records.end() && !is_terminal(rec->second.phase)) {
      if (progress_) progress_->report(node, job, report);
      ++recorded;
      continue;
    }
    // Ended: a record that is history, and a job Slurm no longer runs. The controller keeps such a record until
    // Slurm purges the job (MinJobAge), minutes of heartbeats; a job not yet adopted is left alone. Answered from
    // the snapshot only: no database read on the agents' path.
    const Job* j = s->job(job);
    if (rec != s->job_records.end() && (!j || !j->active())) forget.push_back(job);
  }
  json out = {{"node", node}, {"heartbeat", true}};
  if (!reports.empty()) out["progress"] = recorded;
  if (!forget.empty()) out["forget"] = forget;
  return ok(out);
}

ApiResponse Api::run_command(const std::string& verb, const std::string& node, const Caller& who) {
  auto future = commands_.push(verb, node, "uid " + std::to_string(who.uid));
  if (future.wait_for(settings_.command_timeout) != std::future_status::ready)
    return error_response(503, "the control loop did not take the command within " +
                                   std::to_string(settings_.command_timeout.count()) + " ms (slurmctld slow?); it may still run");
  auto result = future.get();
  if (!result) {
    int status = result.error().code >= 400 && result.error().code < 600 ? result.error().code : 500;
    return error_response(status, result.error().message);
  }
  json out = {{"command", verb}, {"result", *result}};
  if (!node.empty()) out["node"] = node;
  return ok(out);
}

}  // namespace autoresume
