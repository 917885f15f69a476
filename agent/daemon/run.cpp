// SPDX-License-Identifier: GPL-2.0-or-later
#include "daemon/run.hpp"

#include <curl/curl.h>
#include <httplib.h>

#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "util/listen_address.hpp"
#include "munge/munge_credential.hpp"
#include "autoresume/reasons.hpp"
#include "metrics/gpu_metrics.hpp"
#include "daemon/progress.hpp"
#include "node_drain.hpp"
#include "slurm/libslurm_client.hpp"
#include "util/command.hpp"
#include "util/log.hpp"
#include "util/strings.hpp"

namespace autoresume::agent {
namespace {

// The controller's answer, kept up to a bound (it is a few bytes).
size_t keep(char* data, size_t size, size_t n, void* out) {
  auto* body = static_cast<std::string*>(out);
  if (body->size() < 65536) body->append(data, std::min(size * n, 65536 - body->size()));
  return size * n;
}

// Jobs reported per heartbeat, newest first: a node runs a few jobs (one per GPU at most, usually); this bounds
// what a flood of directories costs, and keeps the body under the API's limit (kMaxHeartbeatBody).
constexpr size_t kJobsPerHeartbeat = 24;
constexpr size_t kMaxHeartbeatBody = 4000;  // the controller refuses bodies over 4 KiB (controller/http/server.hpp)

// One munge-signed POST to a controller, short timeout. Returns the HTTP status, or 0 if nothing answered.
long post_to(const RunSettings& s, const std::string& base, const std::string& cluster, const std::string& path,
             const std::string& body = "", std::string* answer = nullptr) {
  auto cred = encode_credential(s.munge_socket, credential_payload(cluster, "POST", path));
  if (!cred) return 0;
  CURL* curl = curl_easy_init();
  std::string url = base + path, auth = "Authorization: MUNGE " + *cred;
  curl_slist* headers = curl_slist_append(nullptr, auth.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  if (!body.empty()) headers = curl_slist_append(headers, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 1000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  std::string ignored;
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, keep);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, answer ? answer : &ignored);
  long status = 0;
  if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return status;
}

// The same POST to every controller of --controller (a high-availability pair: the standby keeps the agents'
// heartbeats and progress too, so that it takes over knowing them). Returns the best status: a 2xx if any.
long post(const RunSettings& s, const std::string& cluster, const std::string& path, const std::string& body = "",
          std::string* answer = nullptr) {
  long best = 0;
  for (const auto& base : split_commas(s.controller_url)) {
    std::string got;
    long status = post_to(s, base, cluster, path, body, &got);
    if (status >= 200 && status < 300) {
      if (best < 200 || best >= 300) {
        best = status;
        if (answer) *answer = got;
      }
    } else if (best == 0 || (best >= 300 && status != 0)) {
      best = status;
    }
  }
  return best;
}

// The latest poll, for /metrics (served from the HTTP thread).
struct Latest {
  std::mutex mutex;
  std::vector<GpuReading> gpus;
  std::vector<CheckResult> checks;
  std::map<unsigned, unsigned long long> last_xid;
  std::map<std::pair<std::string, std::string>, uint64_t> remediation;  // (rung, outcome) -> count
};

// Whether `reason` is our drain for a critical XID of `gpu` ("autoresume: gpu0: xid 62 [reset_gpu]").
bool names_gpu_xid(const std::string& reason, unsigned gpu) {
  return reason.rfind(std::string(kReasonPrefix) + " gpu" + std::to_string(gpu) + ": xid ", 0) == 0;
}

// The reset_gpu rung on `gpu`, once the node is drained by us for it and idle (no job left on it: Slurm says IDLE).
// Returns the outcome ("done" or "failed"), or nothing while the node is not ready.
std::optional<std::string> reset_when_idle(const RunSettings& s, SlurmClient& slurm, HealthWatch& watch, unsigned gpu) {
  auto nodes = slurm.load_nodes();
  if (!nodes) return std::nullopt;
  const Node* n = (*nodes)->find(s.node);
  const std::string asked = std::string("[") + to_string(Rung::ResetGpu) + "]";
  if (!n || !n->drain || n->base != NodeBase::Idle || !names_gpu_xid(n->reason, gpu)) return std::nullopt;
  auto at = n->reason.rfind(asked);
  if (at == std::string::npos) return std::nullopt;
  std::vector<std::string> argv;
  for (auto arg : s.gpu_reset_command) {
    for (auto p = arg.find("{gpu}"); p != std::string::npos; p = arg.find("{gpu}")) arg.replace(p, 5, std::to_string(gpu));
    argv.push_back(arg);
  }
  watch.close_events();  // an NVML client holding the device can make the reset refuse
  auto ran = run_command(argv, s.gpu_reset_timeout);
  watch.open_events();
  std::string why = !ran ? ran.error().message
                         : ran->exit_code == 0 ? ""
                                               : "exit " + std::to_string(ran->exit_code) + ": " + ran->output.substr(0, 120);
  std::string outcome = why.empty() ? "done" : "failed";
  std::string verdict = why.empty() ? "[reset_gpu: done]" : "[reset_gpu: failed: " + why + "]";
  for (auto& c : verdict)
    if (c == '\n' || c == '\r') c = ' ';
  std::string reason = n->reason.substr(0, at) + verdict;
  auto st = slurm.drain_node(s.node, reason);
  log(why.empty() ? LogLevel::Info : LogLevel::Warning, "gpu_reset",
      {{"node", s.node}, {"gpu", std::to_string(gpu)}, {"outcome", outcome}, {"why", why},
       {"reason", st ? reason : "not written: " + st.error().message}});
  return outcome;
}

// The cluster the controller's credentials are bound to: --cluster, else Slurm's ClusterName (asked until known).
class ClusterName {
 public:
  ClusterName(const std::string& given, SlurmClient& slurm) : name_(given), slurm_(slurm) {}
  std::string get() {
    std::lock_guard lock(mutex_);
    if (name_.empty())
      if (auto n = slurm_.cluster_name()) name_ = *n;
    return name_;
  }

 private:
  std::mutex mutex_;
  std::string name_;
  SlurmClient& slurm_;
};

// The heartbeat's body: the progress of the jobs on this node, one entry per job (daemon/progress.hpp).
std::string progress_body(std::vector<JobProgress> jobs) {
  for (;;) {
    if (jobs.empty()) return "";
    nlohmann::json list = nlohmann::json::array();
    for (const auto& p : jobs) {
      nlohmann::json j = {{"job", p.job_id}, {"step", p.step}, {"at", p.at}, {"ranks", p.ranks}};
      if (p.checkpoint) {
        j["checkpoint_step"] = p.checkpoint->step;
        j["checkpoint_at"] = p.checkpoint->at;
      }
      list.push_back(std::move(j));
    }
    std::string body = nlohmann::json{{"jobs", std::move(list)}}.dump();
    if (body.size() <= kMaxHeartbeatBody) return body;
    jobs.pop_back();  // the oldest progress goes first
  }
}

// The controller answers with the reported jobs it knows have ended: their directories go.
void forget_ended(const RunSettings& s, const std::string& answer) {
  auto j = nlohmann::json::parse(answer, nullptr, false);
  if (!j.is_object() || !j.contains("forget") || !j["forget"].is_array()) return;
  for (const auto& id : j["forget"]) {
    if (!id.is_number_unsigned() || id.get<uint64_t>() == 0 || id.get<uint64_t>() > 0xfffffffeULL) continue;
    forget_progress(s.progress_dir, static_cast<uint32_t>(id.get<uint64_t>()));
    log(LogLevel::Debug, "progress_forgotten", {{"job", std::to_string(id.get<uint64_t>())}});
  }
}

void heartbeats(const RunSettings& s, ClusterName& cluster, const std::atomic<bool>& stopping) {
  std::string path = "/v1/nodes/" + s.node + "/heartbeat";
  bool reachable = true;
  while (!stopping) {
    std::string name = cluster.get();
    std::string answer;
    long status = name.empty() ? 0 : post(s, name, path, progress_body(read_progress(s.progress_dir, kJobsPerHeartbeat)), &answer);
    bool ok = status >= 200 && status < 300;
    if (ok) forget_ended(s, answer);
    if (ok != reachable)
      log(ok ? LogLevel::Info : LogLevel::Warning, ok ? "controller_reachable" : "heartbeat_failed",
          {{"controller", s.controller_url}, {"status", std::to_string(status)}});
    reachable = ok;
    for (auto t = std::chrono::milliseconds(0); t < s.heartbeat_interval && !stopping; t += std::chrono::milliseconds(50))
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace

int run_daemon(const std::string& nvml_lib, const RunSettings& s, const std::atomic<bool>& stopping) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  auto lib = nvml::Library::load(nvml_lib);
  HealthWatch watch(*lib, s.watch);
  auto client = LibSlurmClient::open();
  if (!client) {
    std::cerr << "autoresume-agent: " << client.error().message << "\n";
    return 2;
  }
  LibSlurmClient& slurm = **client;
  Latest latest;
  log(LogLevel::Info, "agent_started", {{"node", s.node}, {"nvml", lib->available() ? "loaded" : lib->unavailable_reason()},
                                        {"xid_events", watch.events_available() ? "yes" : "no"}});

  httplib::Server metrics;
  std::thread metrics_thread;
  if (s.listen != "none") {
    auto addr = parse_listen_address(s.listen);
    if (!addr) {
      std::cerr << "autoresume-agent: --listen: " << addr.error().message << "\n";
      return 2;
    }
    metrics.Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(latest.mutex);
      res.set_content(render_metrics(s.node, latest.gpus, latest.checks, lib->available(), latest.last_xid, latest.remediation),
                      "text/plain; version=0.0.4");
    });
    if (!metrics.bind_to_port(addr->first.c_str(), addr->second)) {
      std::cerr << "autoresume-agent: --listen " << s.listen << ": cannot listen there\n";
      return 2;
    }
    metrics_thread = std::thread([&] { metrics.listen_after_bind(); });
  }
  std::thread heartbeat_thread;
  ClusterName cluster(s.cluster, slurm);
  if (!s.controller_url.empty()) heartbeat_thread = std::thread([&] { heartbeats(s, cluster, stopping); });

  std::string drained;  // the reason we last drained with
  std::set<unsigned> reset_tried;  // GPUs whose reset failed: not tried again (the controller climbs the ladder)
  bool ladder_warned = false;
  bool check_resource_drain = true;  // on start too: a restarted agent undrains what a previous one left
  while (!stopping) {
    auto now = std::chrono::steady_clock::now();
    auto results = watch.poll(now);
    {
      std::lock_guard lock(latest.mutex);
      latest.gpus = watch.last_readings();
      latest.checks = results;
      latest.last_xid = watch.last_xid();
    }
    std::string reason = drain_reason(results);
    if (reason.empty()) reason = resource_drain_reason(results);
    bool short_of_resources = false;
    for (const auto& r : results) short_of_resources |= r.resource && r.verdict != Verdict::Ok && r.verdict != Verdict::NotApplicable;
    if (reason.empty() && !short_of_resources && check_resource_drain) {
      // Every resource check is fine again: a resource drain of ours is lifted (never anyone else's reason).
      std::string what = undrain_resource(slurm, s.node);
      if (!what.empty()) log(LogLevel::Info, "resource_cleared", {{"node", s.node}, {"undrain", what}});
      if (what.rfind("not ", 0) != 0) check_resource_drain = false, drained.clear();
    }
    if (!reason.empty() && reason != drained) {
      std::string what = drain_own_node(slurm, s.node, reason);
      log(LogLevel::Warning, "unhealthy", {{"node", s.node}, {"reason", reason}, {"drain", what}});
      if (what.rfind("drained ", 0) == 0 || what.rfind("already drained", 0) == 0) drained = reason;
      check_resource_drain |= reason_class(reason) == ReasonClass::Resource;
      if (!s.controller_url.empty()) post(s, cluster.get(), "/v1/wake");
      for (const auto& [gpu, l] : watch.latched())
        if (l.rung && names_gpu_xid(reason, gpu)) {
          std::lock_guard lock(latest.mutex);
          ++latest.remediation[{to_string(*l.rung), l.rung == Rung::ResetGpu ? "asked" : "requested"}];
        }
    }
    if (!watch.ladder_save_error().empty() && !ladder_warned)
      log(LogLevel::Warning, "ladder_state_unsaved", {{"error", watch.ladder_save_error()}, {"effect", "forgotten at restart"}});
    ladder_warned = !watch.ladder_save_error().empty();
    // The rungs the agent carries out itself.
    auto latched = watch.latched();
    for (const auto& [gpu, l] : latched) {
      if (!l.rung || !names_gpu_xid(drained, gpu)) continue;
      if (*l.rung == Rung::RestartApp) {
        watch.release(gpu);  // drained: the controller requeues its jobs and returns the node after validation
        log(LogLevel::Info, "restart_app", {{"node", s.node}, {"gpu", std::to_string(gpu)}, {"xid", std::to_string(l.xid)}});
      } else if (*l.rung == Rung::ResetGpu && !reset_tried.count(gpu)) {
        auto outcome = reset_when_idle(s, slurm, watch, gpu);
        if (!outcome) continue;
        reset_tried.insert(gpu);
        {
          std::lock_guard lock(latest.mutex);
          ++latest.remediation[{"reset_gpu", *outcome}];
        }
        if (*outcome == "done") watch.release(gpu), reset_tried.erase(gpu);  // a later fault on it starts over
        if (!s.controller_url.empty()) post(s, cluster.get(), "/v1/wake");
      }
    }
    // Until the next poll, XID events: one arriving ends the wait, so it is acted on within milliseconds.
    auto next = now + s.interval;
    while (!stopping && std::chrono::steady_clock::now() < next) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next - std::chrono::steady_clock::now());
      if (!watch.events_available()) {
        std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(50)));
        continue;
      }
      auto x = watch.wait_xid(std::min(left, std::chrono::milliseconds(200)));
      if (!x) continue;
      log(x->critical ? LogLevel::Warning : LogLevel::Info, "xid",
          {{"gpu", std::to_string(x->gpu)}, {"xid", std::to_string(x->xid)}, {"critical", x->critical ? "yes" : "no"}});
      if (x->critical) break;
    }
  }
  metrics.stop();
  if (metrics_thread.joinable()) metrics_thread.join();
  if (heartbeat_thread.joinable()) heartbeat_thread.join();
  return 0;
}

}  // namespace autoresume::agent
