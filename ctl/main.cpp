// SPDX-License-Identifier: GPL-2.0-or-later
// autoresumectl: the admin's command line for autoresumed's HTTP API. Every request carries a munge
// credential made for it; reads print tables (or --json), commands print the controller's verdict.
// Exit codes: 0 done, 1 refused or failed (the controller's reason, or the file this host could not read, printed),
// 2 usage, 3 controller unreachable.
#include <curl/curl.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "munge/munge_credential.hpp"
#include "slurm/libslurm_client.hpp"
#include "util/files.hpp"
#include "util/strings.hpp"

using nlohmann::json;
using namespace autoresume;

namespace {

constexpr int kRefused = 1;
constexpr int kUsage = 2;
constexpr int kUnreachable = 3;

struct Options {
  std::string url = "http://127.0.0.1:6828";
  std::string munge_socket;
  std::string cluster;  // what credentials name; empty: Slurm's ClusterName, asked once
  bool json_out = false;
  long timeout = 15;
};

struct Reply {
  int exit_code = 0;
  json body;
};

size_t collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// The cluster credentials are bound to: --cluster / AUTORESUME_CLUSTER, else slurmctld's ClusterName (libslurm,
// with this host's Slurm configuration).
Result<std::string> cluster_of(const Options& o) {
  if (!o.cluster.empty()) return o.cluster;
  static Result<std::string> name = []() -> Result<std::string> {
    std::error_code ec;
    if (!std::filesystem::exists(slurm_conf_path(), ec) && !ec)
      return Error{0, "no Slurm configuration here (" + slurm_conf_path() + ") to learn ClusterName from"};
    auto slurm = LibSlurmClient::open();  // a slurm.conf we cannot read: named, not libslurm's exit
    if (!slurm) return Error{0, "cannot learn ClusterName: " + slurm.error().message};
    auto cluster = (*slurm)->cluster_name();
    if (!cluster) return Error{0, "cannot learn ClusterName from slurmctld (" + cluster.error().message + ")"};
    return cluster;
  }();
  return name;
}

struct Attempt {
  CURLcode rc = CURLE_OK;
  long status = 0;
  std::string body;
};

Attempt send(const std::string& base, const std::string& method, const std::string& path, const std::string& query,
             const std::string& auth, long timeout) {
  Attempt a;
  CURL* curl = curl_easy_init();
  std::string url = base + path + (query.empty() ? "" : "?" + query);
  curl_slist* headers = auth.empty() ? nullptr : curl_slist_append(nullptr, auth.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, timeout);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &a.body);
  if (method == "POST") curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
  a.rc = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &a.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return a;
}

// --url may list a high-availability pair (URL,URL): a read goes to the first that answers, a command to the
// first that is not standby (a standby answers commands with 503).
Reply request(const Options& o, const std::string& method, const std::string& path, const std::string& query = "") {
  // Reads may be open (ReadAuth=none): without a credential they go out unsigned, and a 401 says why.
  auto cluster = cluster_of(o);
  if (!cluster && method != "GET") {
    std::cerr << "autoresumectl: " << cluster.error().message << ": pass --cluster or AUTORESUME_CLUSTER\n";
    return {kRefused, {}};
  }
  auto urls = split_commas(o.url);
  if (urls.empty()) urls.push_back(o.url);
  Attempt a;
  std::string unreachable;
  for (const auto& u : urls) {
    // A credential each: munge refuses one it has already decoded (a replay), and a pair may share a munged.
    Result<std::string> cred = cluster ? encode_credential(o.munge_socket, credential_payload(*cluster, method, path))
                                       : Result<std::string>(cluster.error());
    if (!cred && method != "GET") {
      std::cerr << "autoresumectl: " << cred.error().message << " (--munge-socket or AUTORESUME_MUNGE_SOCKET)\n";
      return {kRefused, {}};
    }
    std::string auth = cred ? "Authorization: MUNGE " + *cred : "";
    a = send(u, method, path, query, auth, o.timeout);
    if (a.rc != CURLE_OK) {
      unreachable += (unreachable.empty() ? "" : "; ") + u + ": " + curl_easy_strerror(a.rc);
      continue;
    }
    if (method != "GET" && a.status == 503 && a.body.find("is standby") != std::string::npos && &u != &urls.back()) continue;
    break;
  }
  if (a.rc != CURLE_OK) {
    std::cerr << "autoresumectl: cannot reach autoresumed at " << unreachable
              << " (is it running? --url or AUTORESUME_URL)\n";
    return {kUnreachable, {}};
  }
  json parsed = json::parse(a.body, nullptr, false);
  if (a.status >= 400) {
    std::string why = parsed.is_object() && parsed.contains("error") && parsed["error"].is_string()
                          ? parsed["error"].get<std::string>()
                          : a.body;
    std::cerr << "autoresumectl: " << method << " " << path << ": refused (HTTP " << a.status << "): " << why << "\n";
    return {kRefused, parsed};
  }
  if (parsed.is_discarded()) {
    std::cerr << "autoresumectl: " << path << ": the controller sent something that is not JSON\n";
    return {kRefused, {}};
  }
  return {0, parsed};
}

std::string when(double t) {
  if (t <= 0) return "-";
  std::time_t secs = static_cast<std::time_t>(t);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", std::localtime(&secs));
  return buf;
}

std::string text(const json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return "-";
  if (j[key].is_string()) return j[key].get<std::string>().empty() ? "-" : j[key].get<std::string>();
  return j[key].dump();
}

std::string list(const json& j, const char* key) {
  std::string out;
  for (const auto& x : j.value(key, json::array())) {
    if (!out.empty()) out += ',';
    out += x.get<std::string>();
  }
  return out.empty() ? "-" : out;
}

void print_status(const json& s) {
  std::printf("version              %s\n", text(s, "version").c_str());
  if (s.contains("role") && s["role"].is_object()) {  // absent from a controller older than this tool
    const json& r = s["role"];
    const json& l = r.value("lease", json::object());
    if (r.value("active", true))
      std::printf("role                 active on %s (lease generation %lld%s)\n", text(r, "host").c_str(),
                  l.value("generation", 0LL), r.value("high_availability", false) ? ", high availability" : "");
    else
      std::printf("role                 STANDBY on %s: %s\n", text(r, "host").c_str(), text(r, "why").c_str());
  }
  std::printf("slurmctld reachable  %s (last poll %s, %.3f s)\n", s.value("slurmctld_reachable", false) ? "yes" : "NO",
              when(s.value("last_poll", 0.0)).c_str(), s.value("poll_seconds", 0.0));
  bool open = s["breaker"].value("open", false);
  std::printf("circuit breaker      %s%s\n", open ? "OPEN: " : "closed", open ? text(s["breaker"], "reason").c_str() : "");
  std::printf("nodes                %s", s["nodes"].value("total", 0) > 0 ? std::to_string(s["nodes"]["total"].get<int>()).c_str() : "0");
  for (const auto& [phase, n] : s["nodes"]["by_phase"].items()) std::printf("  %s=%d", phase.c_str(), n.get<int>());
  std::printf("\njobs watched         %d", s["jobs"].value("watched", 0));
  for (const auto& [phase, n] : s["jobs"]["by_phase"].items()) std::printf("  %s=%d", phase.c_str(), n.get<int>());
  std::printf("\n");
  if (s.contains("job_sweep") && s["job_sweep"].is_object()) {  // absent from a controller older than this tool
    const json& sweep = s["job_sweep"];
    double every = sweep.value("interval_seconds", 0.0);
    std::printf("job table sweep      %s, %zu jobs in Slurm, %s\n", when(sweep.value("last", 0.0)).c_str(),
                sweep.value("jobs_in_slurm", static_cast<size_t>(0)),
                every > 0 ? ("every " + std::to_string(static_cast<int>(every + 0.5)) + " s").c_str() : "every tick");
  }
}

void print_nodes(const json& nodes) {
  std::printf("%-12s %-12s %-14s %-20s %s\n", "NODE", "PHASE", "SLURM", "SINCE", "REASON / CAUSE");
  for (const auto& n : nodes) {
    std::string why = n.contains("cause") && n["phase"] != "healthy" ? text(n, "cause") : text(n, "reason");
    std::printf("%-12s %-12s %-14s %-20s %s\n", text(n, "name").c_str(), text(n, "phase").c_str(), text(n, "slurm_state").c_str(),
                when(n.value("phase_since", 0.0)).c_str(), why.c_str());
  }
}

// "97.3%", or "-" where the controller (an older one) did not say.
std::string goodput_ratio(const json& j) {
  if (!j.contains("goodput") || !j["goodput"].is_object() || !j["goodput"].contains("ratio")) return "-";
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100 * j["goodput"].value("ratio", 1.0));
  return buf;
}

void print_jobs(const json& jobs) {
  std::printf("%-10s %-16s %-9s %-12s %-8s %-20s %s\n", "JOB", "PHASE", "ATTEMPTS", "STATE", "GOODPUT", "NODES", "FAILED NODE");
  for (const auto& j : jobs) {
    std::string attempts = std::to_string(j.value("attempts", 0)) + "/" + std::to_string(j.value("max_attempts", 0));
    std::printf("%-10s %-16s %-9s %-12s %-8s %-20s %s\n", text(j, "id").c_str(), text(j, "phase").c_str(), attempts.c_str(),
                text(j, "state").c_str(), goodput_ratio(j).c_str(), list(j, "nodes").c_str(), text(j, "failed_node").c_str());
  }
}

int64_t print_events(const json& events);

// One job: its recovery state, its progress, what failures cost it (goodput), and its events.
void print_job(const json& j) {
  std::string attempts = std::to_string(j.value("attempts", 0)) + " of " + std::to_string(j.value("max_attempts", 0));
  std::printf("job                  %s  %s\n", text(j, "id").c_str(), text(j, "name").c_str());
  std::printf("phase                %s since %s (Slurm: %s)\n", text(j, "phase").c_str(), when(j.value("phase_since", 0.0)).c_str(),
              text(j, "state").c_str());
  std::printf("resumes              %s, hangs %s\n", attempts.c_str(), text(j, "hangs").c_str());
  std::printf("nodes                %s\n", list(j, "nodes").c_str());
  std::printf("last failure         %s at %s\n", text(j, "failed_node").c_str(), when(j.value("failure_at", 0.0)).c_str());
  std::string hang = j.contains("hang_timeout") && j["hang_timeout"].is_number() ? text(j, "hang_timeout") + " s" : "the controller's HangTimeout";
  std::printf("hang timeout         %s\n", hang.c_str());
  if (j.contains("progress") && j["progress"].is_object()) {
    const json& p = j["progress"];
    std::printf("progress             step %s at %s, %s ranks", text(p, "step").c_str(), when(p.value("at", 0.0)).c_str(),
                text(p, "ranks").c_str());
    if (p.contains("checkpoint"))
      std::printf("; checkpoint of step %s at %s", text(p["checkpoint"], "step").c_str(), when(p["checkpoint"].value("at", 0.0)).c_str());
    std::printf("\n");
  } else {
    std::printf("progress             not reported in this run (autoresume-progress)\n");
  }
  if (j.contains("goodput") && j["goodput"].is_object()) {
    const json& g = j["goodput"];
    std::printf("goodput              %s of %.0f s: lost work %.0f s (%s steps redone), recovery %.0f s, startup %.0f s\n",
                goodput_ratio(j).c_str(), g.value("elapsed_seconds", 0.0), g.value("lost_work_seconds", 0.0),
                text(g, "redone_steps").c_str(), g.value("recovery_seconds", 0.0), g.value("startup_seconds", 0.0));
  }
  if (j.contains("events") && j["events"].is_array() && !j["events"].empty()) {
    std::printf("events\n");
    print_events(j["events"]);
  }
}

// One node: its lifecycle, Slurm's view, the last validation run's output, and its events.
void print_node(const json& n) {
  std::printf("node                 %s\n", text(n, "name").c_str());
  std::printf("phase                %s since %s (Slurm: %s)\n", text(n, "phase").c_str(), when(n.value("phase_since", 0.0)).c_str(),
              text(n, "slurm_state").c_str());
  if (n.contains("reason")) std::printf("slurm reason         %s\n", text(n, "reason").c_str());
  if (n.contains("cause")) std::printf("cause                %s (action %s)\n", text(n, "cause").c_str(), text(n, "action").c_str());
  if (n.contains("validation") && n["validation"].is_object()) {
    const json& v = n["validation"];
    std::string exit = v.contains("exit") && v["exit"].is_number() ? text(v, "exit") : "unknown";
    std::printf("last validation      job %s at %s, exit %s\n", text(v, "job").c_str(), when(v.value("at", 0.0)).c_str(), exit.c_str());
    if (v.contains("lines") && v["lines"].is_array())
      for (const auto& l : v["lines"]) std::printf("  | %s\n", l.is_string() ? l.get<std::string>().c_str() : "");
  } else {
    std::printf("last validation      none reported\n");
  }
  if (n.contains("events") && n["events"].is_array() && !n["events"].empty()) {
    std::printf("events\n");
    print_events(n["events"]);
  }
}

int64_t print_events(const json& events) {
  int64_t last = 0;
  for (const auto& e : events) {
    std::printf("%s  %-18s %-10s %s\n", when(e.value("at", 0.0)).c_str(), text(e, "kind").c_str(), text(e, "subject").c_str(),
                text(e, "detail").c_str());
    last = e.value("id", int64_t{0});
  }
  std::fflush(stdout);
  return last;
}

int show(const Options& o, const std::string& path, void (*print)(const json&)) {
  Reply r = request(o, "GET", path);
  if (r.exit_code) return r.exit_code;
  if (o.json_out) std::cout << r.body.dump(2) << "\n";
  else print(r.body);
  return 0;
}

int events(const Options& o, bool follow, int64_t since) {
  for (;;) {
    Reply r = request(o, "GET", "/v1/events", "since=" + std::to_string(since));
    if (r.exit_code) return r.exit_code;
    if (o.json_out) {
      for (const auto& e : r.body) std::cout << e.dump() << "\n" << std::flush;
      if (!r.body.empty()) since = r.body.back().value("id", since);
    } else if (int64_t last = print_events(r.body)) {
      since = last;
    }
    if (!follow) return 0;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

int command(const Options& o, const std::string& path) {
  Reply r = request(o, "POST", path);
  if (r.exit_code) return r.exit_code;
  if (o.json_out) std::cout << r.body.dump(2) << "\n";
  else
    std::printf("%s%s%s: %s\n", text(r.body, "command").c_str(), r.body.contains("node") ? " " : "",
                r.body.contains("node") ? text(r.body, "node").c_str() : "", text(r.body, "result").c_str());
  return 0;
}

int run(int argc, char** argv) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  Options o;
  if (const char* u = std::getenv("AUTORESUME_URL")) o.url = u;
  if (const char* m = std::getenv("AUTORESUME_MUNGE_SOCKET")) o.munge_socket = m;
  if (const char* c = std::getenv("AUTORESUME_CLUSTER")) o.cluster = c;
  CLI::App app{"autoresumectl: status and commands of the auto-resume controller (autoresumed)"};
  app.add_option("--url", o.url, "the controller's API; a high-availability pair's as URL,URL (env AUTORESUME_URL)")->capture_default_str();
  app.add_option("--munge-socket", o.munge_socket, "munged's socket (env AUTORESUME_MUNGE_SOCKET; default: munge's)");
  app.add_option("--cluster", o.cluster, "the controller's cluster, which credentials name (env AUTORESUME_CLUSTER; default: Slurm's ClusterName)");
  app.add_flag("--json", o.json_out, "print the controller's JSON");
  app.add_option("--timeout", o.timeout, "seconds to wait for an answer")->capture_default_str()->check(CLI::Range(1, 600));
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(AUTORESUME_VERSION));

  int rc = 0;
  app.add_subcommand("status", "controller, breaker and counts")->callback([&] { rc = show(o, "/v1/status", print_status); });
  std::string node_name;
  auto* nodes = app.add_subcommand("nodes", "every node's lifecycle phase; with NODE, its last validation output and events");
  nodes->add_option("node", node_name, "a node name");
  nodes->callback([&] {
    rc = node_name.empty() ? show(o, "/v1/nodes", print_nodes) : show(o, "/v1/nodes/" + node_name, print_node);
  });
  uint32_t job_id = 0;
  auto* jobs = app.add_subcommand("jobs", "jobs under auto-resume; with JOBID, that job's progress, goodput and events");
  jobs->add_option("job", job_id, "a job id")->check(CLI::Range(1u, 4294967294u));
  jobs->callback([&] {
    rc = job_id ? show(o, "/v1/jobs/" + std::to_string(job_id), print_job) : show(o, "/v1/jobs", print_jobs);
  });
  bool follow = false;
  int64_t since = 0;
  auto* ev = app.add_subcommand("events", "the event history");
  ev->add_flag("-f,--follow", follow, "keep printing new events");
  ev->add_option("--since", since, "only events after this id")->check(CLI::NonNegativeNumber);
  ev->callback([&] { rc = events(o, follow, since); });
  std::string node;
  for (const char* verb : {"replace", "reboot", "validate", "release"}) {
    std::string v = verb;
    auto* sub = app.add_subcommand(v, v + " a node (root or SlurmUser)");
    sub->add_option("node", node, "node name")->required();
    sub->callback([&o, &rc, &node, v] { rc = command(o, "/v1/nodes/" + node + "/" + v); });
  }
  auto* breaker = app.add_subcommand("breaker", "the circuit breaker");
  breaker->require_subcommand(1);
  breaker->add_subcommand("reset", "close it: automated recovery resumes")->callback([&] { rc = command(o, "/v1/breaker/reset"); });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kUsage;
  }
  return rc;
}

}  // namespace

// Nothing leaves the process as an uncaught exception (util/files.hpp).
int main(int argc, char** argv) { return autoresume::main_without_exceptions("autoresumectl", kRefused, run, argc, argv); }
