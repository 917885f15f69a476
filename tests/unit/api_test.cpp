// SPDX-License-Identifier: GPL-2.0-or-later
// The HTTP API's handlers with real munge credentials (a munged of the test's own), the command path into a
// controller on the in-memory Slurm, the metrics' names and types, and the listener's limits.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "catch_compat.hpp"
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <pwd.h>
#include <regex>
#include <set>
#include <thread>

#include "engine/controller.hpp"
#include "http/api.hpp"
#include "munge/munge_credential.hpp"
#include "http/server.hpp"
#include "slurm/fake_slurm.hpp"

using namespace autoresume;
using json = nlohmann::json;

namespace {

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  while (p && std::fgets(buf, sizeof buf, p)) out += buf;
  if (p) pclose(p);
  return out;
}

// A munged with its own key and socket, stopped by its PID.
struct Munged {
  std::string dir = std::filesystem::temp_directory_path() / ("autoresume-api-munge-" + std::to_string(getpid()));
  std::string socket = dir + "/munge.socket";
  Munged() {
    std::filesystem::create_directories(dir);
    std::filesystem::permissions(dir, std::filesystem::perms(0755));
    run("dd if=/dev/urandom of=" + dir + "/key bs=1024 count=1 2>/dev/null && chmod 400 " + dir + "/key");
    run("/usr/sbin/munged -f --key-file=" + dir + "/key --socket=" + socket + " --pid-file=" + dir + "/pid --log-file=" +
        dir + "/log --seed-file=" + dir + "/seed");
    for (int i = 0; i < 50 && !encode_credential(socket, "x"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ~Munged() {
    std::ifstream pidfile(dir + "/pid");
    int pid = 0;
    if (pidfile >> pid && pid > 0) kill(pid, SIGTERM);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::filesystem::remove_all(dir);
  }
  std::string credential(const std::string& method, const std::string& path) {
    return "MUNGE " + encode_credential(socket, credential_payload("cluster1", method, path)).value();
  }
  // A credential of the unprivileged test user (scripts/setup creates it).
  std::string user_credential(const std::string& method, const std::string& path) {
    std::string cred = run("runuser -u artest -- munge -S " + socket + " -s '" + credential_payload("cluster1", method, path) + "'");
    while (!cred.empty() && cred.back() == '\n') cred.pop_back();
    return "MUNGE " + cred;
  }
};

// An API over a controller on the fake Slurm; a thread plays the control loop (commands, then a tick).
struct ApiWorld {
  Munged munge;
  FakeSlurm slurm;
  std::unique_ptr<Store> store = Store::open(":memory:").value();
  Config config;
  std::unique_ptr<Controller> ctl;
  SnapshotBoard board;
  CommandQueue commands;
  Metrics metrics;
  std::unique_ptr<Api> api;
  std::atomic<bool> stop{false};
  std::thread loop;

  std::string reports_dir = (std::filesystem::temp_directory_path() / ("autoresume-api-reports-" + std::to_string(getpid()))).string();

  explicit ApiWorld(bool read_auth = false) {
    set_log_level(LogLevel::Error);
    config.breaker_settle = std::chrono::seconds(0);
    for (const char* n : {"n1", "n2"}) slurm.add_node(n);
    Job& j = slurm.add_job(7, {"n1"});
    const passwd* user = getpwnam("artest");
    REQUIRE(user);  // scripts/setup creates it
    j.user_id = user->pw_uid;
    j.admin_comment = "autoresume=1:max=3";
    Job& other = slurm.add_job(8, {"n2"});
    other.user_id = 1234;
    other.admin_comment = "autoresume=1:max=3";
    ctl = std::make_unique<Controller>(slurm, *store, config);
    ctl->set_observer(&metrics);
    ctl->recover();
    ctl->tick();
    board.publish(ctl->snapshot());
    std::filesystem::remove_all(reports_dir);
    api = std::make_unique<Api>(ApiSettings{munge.socket, {0}, read_auth, std::chrono::milliseconds(5000), "", true, reports_dir},
                                board, commands, *store, metrics);
    loop = std::thread([this] {
      while (!stop) {
        commands.wait_for(std::chrono::milliseconds(20));
        for (auto& c : commands.take()) {
          if (c->verb == "breaker_reset") {
            Breaker::reset(*store, c->by);
            c->done.set_value(std::string("closed"));
          } else {
            c->done.set_value(ctl->node_command(c->verb, c->node, c->by));
          }
        }
      }
    });
  }
  ~ApiWorld() {
    stop = true;
    commands.stop();
    loop.join();
  }
  ApiResponse call(const std::string& method, const std::string& path, const std::string& auth = "",
                   const std::string& body = "", std::map<std::string, std::string> query = {}) {
    return api->handle(ApiRequest{method, path, std::move(query), auth, body, "127.0.0.1"});
  }
  size_t events_of_kind(const std::string& kind) {
    auto e = store->events();
    return static_cast<size_t>(std::count_if(e.begin(), e.end(), [&](const EventRow& r) { return r.kind == kind; }));
  }
};

}  // namespace

TEST_CASE("api: only a valid root credential made for this very request may act", "[api][auth]") {
  ApiWorld w;
  const std::string path = "/v1/nodes/n2/replace";
  CHECK(w.call("POST", path).status == 401);
  CHECK(w.call("POST", path, "Bearer abc").status == 401);
  CHECK(w.call("POST", path, "MUNGE not-a-credential").status == 401);
  ApiResponse moved = w.call("POST", path, w.munge.credential("POST", "/v1/nodes/n1/replace"));
  CHECK(moved.status == 401);
  CHECK(moved.body.find("was made for") != std::string::npos);
  ApiResponse user = w.call("POST", path, w.munge.user_credential("POST", path));
  CHECK(user.status == 403);
  CHECK(user.body.find("only root and SlurmUser") != std::string::npos);
  CHECK(w.events_of_kind("manual_replace") == 0);  // nothing changed on any of these

  std::string cred = w.munge.credential("POST", path);
  ApiResponse done = w.call("POST", path, cred);
  INFO(done.body);
  CHECK(done.status == 200);
  CHECK(json::parse(done.body)["node"] == "n2");
  CHECK(w.events_of_kind("manual_replace") == 1);
  CHECK(w.call("POST", path, cred).status == 401);  // replayed: munged refuses a credential twice
}

TEST_CASE("api: bad paths, verbs, ids and bodies are refused with a reason and change nothing", "[api]") {
  ApiWorld w;
  auto post = [&](const std::string& path, const std::string& body = "") {
    return w.call("POST", path, w.munge.credential("POST", path), body);
  };
  ApiResponse verb = post("/v1/nodes/n2/frobnicate");
  CHECK(verb.status == 400);
  CHECK(verb.body.find("unknown node command \\\"frobnicate\\\"") != std::string::npos);
  CHECK(post("/v1/nodes/n%20x/replace").status == 400);
  CHECK(post("/v1/nodes/n9/replace").status == 404);
  CHECK(post("/v1/nodes/n2/replace", "{not json").status == 400);
  CHECK(post("/v1/nodes/n2/replace", "[1,2]").status == 400);
  CHECK(post("/v1/elsewhere").status == 404);
  CHECK(w.call("PUT", "/v1/nodes/n2/replace").status == 405);
  CHECK(w.call("GET", "/v1/jobs/abc").status == 400);
  CHECK(w.call("GET", "/v1/jobs/0").status == 400);
  // Past a Slurm job id (uint32): refused, not wrapped around to job 3.
  auto wrapped = w.call("GET", "/v1/jobs/4294967299");
  CHECK(wrapped.status == 400);
  CHECK(wrapped.body.find("1 to 4294967295") != std::string::npos);
  CHECK(w.call("GET", "/v1/jobs/9999999999").status == 400);
  CHECK(w.call("GET", "/v1/jobs/99").status == 404);
  CHECK(w.call("GET", "/v1/events", "", "", {{"since", "-1"}}).status == 400);
  CHECK(w.call("GET", "/v1/nothing").status == 404);
  CHECK(w.store->actions().empty());
  CHECK(w.events_of_kind("manual_replace") == 0);
  // A node already in its lifecycle: 409, not a second lifecycle.
  CHECK(post("/v1/nodes/n2/replace").status == 200);
  ApiResponse again = post("/v1/nodes/n2/reboot");
  CHECK(again.status == 409);
  CHECK(again.body.find("already in its lifecycle") != std::string::npos);
  CHECK(post("/v1/nodes/n1/release").status == 409);  // healthy: nothing to release
  CHECK(post("/v1/nodes/n2/release").status == 200);
  CHECK(w.ctl->node_records().at("n2").phase == NodePhase::Healthy);
}

TEST_CASE("api: reads, and ReadAuth=munge limits a user to their own jobs", "[api][auth]") {
  SECTION("open reads") {
    ApiWorld w;
    json status = json::parse(w.call("GET", "/v1/status").body);
    CHECK(status["nodes"]["total"] == 2);
    CHECK(status["jobs"]["watched"] == 2);
    CHECK(status["breaker"]["open"] == false);
    CHECK(json::parse(w.call("GET", "/v1/nodes").body).size() == 2);
    json job = json::parse(w.call("GET", "/v1/jobs/7").body);
    CHECK(job["max_attempts"] == 3);
    CHECK(job["events"][0]["kind"] == "job_watched");
    json events = json::parse(w.call("GET", "/v1/events", "", "", {{"since", "1"}}).body);
    CHECK(events.size() == 1);  // job_watched of 8
    // A node's last validation report, as the controller kept it.
    CHECK(json::parse(w.call("GET", "/v1/nodes/n2").body)["validation"].is_null());
    ValidationReports reports(w.reports_dir);
    REQUIRE(reports.save("n2", ValidationReport{41, 1, {"gpu0 ok", "FAIL: gpu1 ecc"}, 1.7e9}));
    json n2 = json::parse(w.call("GET", "/v1/nodes/n2").body);
    CHECK(n2["validation"]["job"] == 41);
    CHECK(n2["validation"]["exit"] == 1);
    CHECK(n2["validation"]["lines"] == json::array({"gpu0 ok", "FAIL: gpu1 ecc"}));
  }
  SECTION("ReadAuth=munge") {
    ApiWorld w(true);
    CHECK(w.call("GET", "/v1/jobs").status == 401);
    ApiResponse mine = w.call("GET", "/v1/jobs", w.munge.user_credential("GET", "/v1/jobs"));
    REQUIRE(mine.status == 200);
    json jobs = json::parse(mine.body);
    REQUIRE(jobs.size() == 1);
    CHECK(jobs[0]["id"] == 7);
    CHECK(w.call("GET", "/v1/jobs/8", w.munge.user_credential("GET", "/v1/jobs/8")).status == 403);
    CHECK(w.call("GET", "/v1/jobs/7", w.munge.user_credential("GET", "/v1/jobs/7")).status == 200);
    CHECK(w.call("GET", "/v1/events", w.munge.user_credential("GET", "/v1/events")).status == 403);
    CHECK(w.call("GET", "/v1/events", w.munge.credential("GET", "/v1/events")).status == 200);
    // A validation's output is for admins, as the event history is.
    REQUIRE(ValidationReports(w.reports_dir).save("n2", ValidationReport{41, 1, {"FAIL: gpu1 ecc"}, 1.7e9}));
    json as_user = json::parse(w.call("GET", "/v1/nodes/n2", w.munge.user_credential("GET", "/v1/nodes/n2")).body);
    CHECK(as_user["validation"].is_null());
    json as_admin = json::parse(w.call("GET", "/v1/nodes/n2", w.munge.credential("GET", "/v1/nodes/n2")).body);
    CHECK(as_admin["validation"]["lines"] == json::array({"FAIL: gpu1 ecc"}));
  }
}

TEST_CASE("metrics: names, types and units, counters and the recovery histogram move with events", "[api][metrics]") {
  Metrics m;
  m.on_event("job_resumed", "7", "");
  m.on_job_recovered(12.5);
  m.on_event("node_failed", "n2", "gpu0: xid 79");
  m.on_event("node_failed", "n3", "slurmd not responding");
  m.on_job_phase_left(JobPhase::Held, 30);
  std::string text = m.render();
  INFO(text);
  CHECK(text.find("# TYPE autoresume_resumes_total counter") != std::string::npos);
  CHECK(text.find("autoresume_resumes_total 1") != std::string::npos);
  CHECK(text.find("# TYPE autoresume_recovery_duration_seconds histogram") != std::string::npos);
  CHECK(text.find("autoresume_recovery_duration_seconds_count 1") != std::string::npos);
  CHECK(text.find("autoresume_recovery_duration_seconds_bucket{le=\"20\"} 1") != std::string::npos);
  CHECK(text.find("autoresume_recovery_duration_seconds_bucket{le=\"10\"} 0") != std::string::npos);
  CHECK(text.find("autoresume_node_failures_total{cause=\"health_check\"} 1") != std::string::npos);
  CHECK(text.find("autoresume_node_failures_total{cause=\"not_responding\"} 1") != std::string::npos);
  CHECK(text.find("autoresume_recovery_phase_duration_seconds_count{phase=\"held\"} 1") != std::string::npos);
  // Every family: autoresume_ prefix; counters end in _total; gauges of durations in _seconds.
  std::regex type_line("# TYPE (\\S+) (\\S+)");
  std::set<std::string> families;
  for (std::sregex_iterator it(text.begin(), text.end(), type_line), end; it != end; ++it) {
    std::string name = (*it)[1], type = (*it)[2];
    families.insert(name);
    INFO(name);
    CHECK(name.rfind("autoresume_", 0) == 0);
    if (type == "counter") CHECK(name.size() > 6);
    if (type == "counter") CHECK(name.compare(name.size() - 6, 6, "_total") == 0);
    if (type == "histogram") CHECK(name.compare(name.size() - 8, 8, "_seconds") == 0);
  }
  for (const char* name : {"autoresume_breaker_open", "autoresume_slurmctld_up", "autoresume_last_poll_timestamp_seconds",
                           "autoresume_poll_duration_seconds", "autoresume_give_ups_total", "autoresume_replacements_total",
                           "autoresume_validations_total", "autoresume_quarantines_total", "autoresume_breaker_trips_total",
                           "autoresume_build_info"})
    CHECK(families.count(name) == 1);
}

TEST_CASE("metrics: node and job gauges follow the snapshot, label sets that vanish are removed", "[api][metrics]") {
  Metrics m;
  ControllerSnapshot s;
  s.taken_at = 1000;
  Node a;
  a.name = "n1";
  a.base = NodeBase::Idle;
  a.partitions = {"gpu"};
  Node b = a;
  b.name = "n2";
  b.base = NodeBase::Down;
  s.nodes = std::make_shared<const NodeTable>(std::vector<Node>{a, b});
  NodeRecord r;
  r.name = "n2";
  r.phase = NodePhase::Replacing;
  s.node_records["n2"] = r;
  s.oldest_pending_since = {{"gpu", 400}};  // what the last sweep of the job table found
  m.update(s);
  std::string text = m.render();
  INFO(text);
  CHECK(text.find("autoresume_nodes{phase=\"replacing\"} 1") != std::string::npos);
  CHECK(text.find("autoresume_nodes{phase=\"healthy\"} 1") != std::string::npos);
  CHECK(text.find("autoresume_slurm_nodes{partition=\"gpu\",state=\"down\"} 1") != std::string::npos);
  CHECK(text.find("autoresume_oldest_pending_job_age_seconds{partition=\"gpu\"} 600") != std::string::npos);
  s.nodes = std::make_shared<const NodeTable>(std::vector<Node>{a});
  s.oldest_pending_since.clear();
  m.update(s);
  text = m.render();
  CHECK(text.find("state=\"down\"") == std::string::npos);
  CHECK(text.find("autoresume_oldest_pending_job_age_seconds{") == std::string::npos);
}

TEST_CASE("the listener: /metrics over HTTP and oversized bodies refused with 413", "[api][http]") {
  ApiWorld w;
  HttpServer server(*w.api);
  int port = 0;
  for (int p = 23000; p < 23100 && !port; ++p)
    if (server.start("127.0.0.1:" + std::to_string(p))) port = p;
  REQUIRE(port != 0);
  httplib::Client client("127.0.0.1", port);
  auto metrics = client.Get("/metrics");
  REQUIRE(metrics);
  CHECK(metrics->status == 200);
  CHECK(metrics->body.find("autoresume_build_info") != std::string::npos);
  std::string path = "/v1/nodes/n2/replace";
  httplib::Headers auth = {{"Authorization", w.munge.credential("POST", path)}};
  auto big = client.Post(path.c_str(), auth, std::string(kMaxRequestBody + 1, 'x'), "application/json");
  REQUIRE(big);
  CHECK(big->status == 413);
  CHECK(w.events_of_kind("manual_replace") == 0);
  auto bad_listen = HttpServer(*w.api).start("127.0.0.1:" + std::to_string(port));
  CHECK_FALSE(bad_listen.ok());  // in use: an error naming the address
  server.stop();
}

// A daemon whose first tick fails stops its listener right after starting it: stop() must not wait on a thread
// that had not begun listening yet (it then never ended; the daemon hung instead of exiting for systemd).
TEST_CASE("the listener stops when stopped right after it started", "[api][http]") {
  ApiWorld w;
  for (int i = 0; i < 20; ++i) {
    auto started = std::chrono::steady_clock::now();
    std::thread stopper([&] {
      HttpServer server(*w.api);
      for (int p = 23100 + i * 5; p < 23105 + i * 5; ++p)
        if (server.start("127.0.0.1:" + std::to_string(p))) break;
      server.stop();
    });
    stopper.join();
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
  }
}

// What the heartbeat tests share: the API's parts and a snapshot of cluster1 with node n1 on this host.
struct HeartbeatWorld {
  Munged munge;
  SnapshotBoard board;
  CommandQueue commands;
  Metrics metrics;
  HeartbeatBoard beats;
  ProgressBoard progress;
  std::unique_ptr<Store> store = Store::open(":memory:").value();
  std::shared_ptr<ControllerSnapshot> snapshot = std::make_shared<ControllerSnapshot>();
  Node n1;
  HeartbeatWorld() {
    n1.name = "n1";
    n1.address = "127.0.0.1";
    snapshot->cluster = "cluster1";
  }
};

TEST_CASE("api: an agent's wake-up ends the loop's wait at once, a heartbeat is recorded for a known node", "[api]") {
  HeartbeatWorld w;
  auto& [munge, board, commands, metrics, beats, progress, store, snapshot, n] = w;
  Node far = n;
  far.name = "n2";
  far.address = "192.0.2.7";  // another host
  snapshot->nodes = std::make_shared<const NodeTable>(std::vector<Node>{n, far});
  board.publish(snapshot);
  Api api(ApiSettings{munge.socket, {0}, false, std::chrono::milliseconds(1000), "", true, ""}, board, commands, *store, metrics, &beats);
  auto post = [&](const std::string& path) {
    return api.handle(ApiRequest{"POST", path, {}, munge.credential("POST", path), "", "127.0.0.1"});
  };
  CHECK(post("/v1/wake").status == 202);
  auto t0 = std::chrono::steady_clock::now();
  CHECK(commands.wait_for(std::chrono::milliseconds(5000)));
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(1000));
  CHECK_FALSE(commands.wait_for(std::chrono::milliseconds(10)));  // once

  CHECK(post("/v1/nodes/n1/heartbeat").status == 200);
  CHECK(beats.last().count("n1") == 1);
  CHECK(post("/v1/nodes/n9/heartbeat").status == 404);
  CHECK(beats.last().count("n9") == 0);
  // Root on this host cannot keep another node's agent alive: neither the connection nor munge's origin is n2's.
  ApiResponse forged = post("/v1/nodes/n2/heartbeat");
  CHECK(forged.status == 403);
  CHECK(forged.body.find("NodeAddr 192.0.2.7") != std::string::npos);
  CHECK(beats.last().count("n2") == 0);
}

TEST_CASE("api: with ReadAuth=munge, /metrics needs a credential or the bearer token", "[api][security]") {
  ApiWorld w;
  CHECK(w.call("GET", "/metrics").status == 200);  // ReadAuth=none: open, as documented
  ApiSettings s{w.munge.socket, {0}, true, std::chrono::milliseconds(1000), "", true, ""};
  s.metrics_token = "0123456789abcdef-token";
  Api api(s, w.board, w.commands, *w.store, w.metrics);
  auto get = [&](const std::string& auth) { return api.handle(ApiRequest{"GET", "/metrics", {}, auth, "", "127.0.0.1"}); };
  CHECK(get("").status == 401);
  CHECK(get("Bearer wrong-token-of-some-length").status == 401);
  CHECK(get("Bearer 0123456789abcdef-toke").status == 401);
  CHECK(get("Bearer 0123456789abcdef-token").status == 200);
  CHECK(get(w.munge.user_credential("GET", "/metrics")).status == 200);  // any user munge vouches for
}

namespace {

// A plain TCP connection to the listener, written to by hand (what a slow or hostile client does).
int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Accepted connections of the listener on `port` this process holds now.
int accepted_connections(int port) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    int fd = std::atoi(e.path().filename().c_str());
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    int listening = 0;
    socklen_t llen = sizeof listening;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &llen) != 0 || listening) continue;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0 && addr.sin_family == AF_INET &&
        ntohs(addr.sin_port) == port)
      ++n;
  }
  return n;
}

int start_on_free_port(HttpServer& server, int from) {
  for (int p = from; p < from + 100; ++p)
    if (server.start("127.0.0.1:" + std::to_string(p))) return p;
  return 0;
}

}  // namespace

TEST_CASE("the listener: a POST without Content-Length is answered at once, as one with an empty body", "[api][http]") {
  ApiWorld w;
  HttpServer server(*w.api);
  int port = start_on_free_port(server, 23200);
  REQUIRE(port != 0);
  int fd = connect_to(port);
  REQUIRE(fd >= 0);
  std::string request = "POST /v1/breaker/reset HTTP/1.1\r\nHost: x\r\n\r\n";
  REQUIRE(write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size()));
  timeval two_seconds{2, 0};  // the read timeout it used to wait out was 5 s
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &two_seconds, sizeof two_seconds);
  char buf[512] = {};
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  REQUIRE(n > 0);
  CHECK(std::string(buf).rfind("HTTP/1.1 401", 0) == 0);
  server.stop();
}

TEST_CASE("the listener under a flood: connections held stay bounded, slow clients are cut at the deadline, and it "
          "answers again",
          "[api][http][security]") {
  ApiWorld w;
  HttpLimits limits;
  limits.workers = 2;
  limits.queued = 2;
  limits.deadline = std::chrono::milliseconds(1500);
  HttpServer server(*w.api, limits);
  int port = start_on_free_port(server, 23300);
  REQUIRE(port != 0);
  // Slow clients: a request line and half a header, then nothing.
  std::vector<int> slow;
  for (int i = 0; i < 6; ++i) {
    int fd = connect_to(port);
    REQUIRE(fd >= 0);
    std::string part = "GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    CHECK(write(fd, part.data(), part.size()) > 0);
    slow.push_back(fd);
  }
  // And a crowd that only connects (the kernel completes the handshakes; the listener takes what it can hold).
  std::vector<int> crowd;
  for (int i = 0; i < 200; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    crowd.push_back(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  int held = accepted_connections(port);
  INFO("connections held by the listener: " << held);
  CHECK(held <= static_cast<int>(limits.workers + limits.queued + 1));
  for (int fd : crowd) close(fd);
  crowd.clear();
  // The slow ones keep trickling a byte a second (each read well within the read timeout) and are cut at the
  // deadline: the server closes them while they are still sending.
  int cut = 0;
  for (int second = 0; second < 8 && cut < static_cast<int>(slow.size()); ++second) {
    for (int& fd : slow) {
      if (fd < 0) continue;
      pollfd p{fd, POLLIN, 0};
      if (send(fd, "a", 1, MSG_NOSIGNAL) != 1 || (poll(&p, 1, 0) == 1)) {
        close(fd), fd = -1, ++cut;
      }
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  CHECK(cut == static_cast<int>(slow.size()));
  for (int fd : slow)
    if (fd >= 0) close(fd);
  for (int fd : crowd) close(fd);
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(10, 0);
  auto status = client.Get("/v1/status");
  REQUIRE(status);
  CHECK(status->status == 200);
  server.stop();
}

TEST_CASE("api: a credential made for another cluster (one sharing the munge key) is refused", "[api][security]") {
  ApiWorld w;
  std::string path = "/v1/nodes/n2/replace";
  std::string other = "MUNGE " + encode_credential(w.munge.socket, credential_payload("cluster2", "POST", path)).value();
  ApiResponse r = w.call("POST", path, other);
  CHECK(r.status == 401);
  CHECK(r.body.find("cluster2: POST /v1/nodes/n2/replace") != std::string::npos);
  CHECK(w.events_of_kind("manual_replace") == 0);
  CHECK(w.call("POST", path, w.munge.credential("POST", path)).status == 200);
}

TEST_CASE("api: bytes that are not UTF-8 (a job's name, a method, a path) are answered, not a 500", "[api]") {
  ApiWorld w;
  w.slurm.jobs[7].name = "train\xbd\xff";  // any bytes a user gave sbatch --job-name
  w.ctl->tick();
  w.board.publish(w.ctl->snapshot());
  ApiResponse jobs = w.call("GET", "/v1/jobs");
  CHECK(jobs.status == 200);
  CHECK(jobs.body.find("train\xef\xbf\xbd") != std::string::npos);  // U+FFFD in place of the bad bytes
  CHECK(w.call("G\xbdT", "/v1/status").status == 405);  // found by fuzz/api_fuzz.cpp
  CHECK(w.call("GET", "/v1/nodes/n\xbd").status == 400);
}

TEST_CASE("api: a heartbeat carries the node's jobs' progress, checked whole, and ended jobs are named to forget",
          "[api][security]") {
  HeartbeatWorld w;
  auto& [munge, board, commands, metrics, beats, progress, store, snapshot, n] = w;
  snapshot->nodes = std::make_shared<const NodeTable>(std::vector<Node>{n});
  JobRecord watched, ended;
  watched.job_id = 5;
  ended.job_id = 6;
  ended.phase = JobPhase::Finished;
  snapshot->job_records = {{5, watched}, {6, ended}};
  board.publish(snapshot);
  Api api(ApiSettings{munge.socket, {0}, false, std::chrono::milliseconds(1000), "", true, ""}, board, commands, *store,
          metrics, &beats, &progress);
  std::string path = "/v1/nodes/n1/heartbeat";
  auto post = [&](const std::string& body) {
    return api.handle(ApiRequest{"POST", path, {}, munge.credential("POST", path), body, "127.0.0.1"});
  };
  double t = unix_now();
  std::string at = std::to_string(t);
  ApiResponse good = post(R"({"jobs": [{"job": 5, "step": 40, "at": )" + at + R"(, "ranks": 2, "checkpoint_step": 32, "checkpoint_at": )" +
                          at + R"(}, {"job": 6, "step": 1, "at": )" + at + R"(, "ranks": 1}, {"job": 7, "step": 1, "at": )" + at +
                          R"(, "ranks": 1}]})");
  REQUIRE(good.status == 200);
  auto answer = nlohmann::json::parse(good.body);
  CHECK(answer["progress"] == 1);
  CHECK(answer["forget"] == nlohmann::json::array({6}));  // 7: not adopted yet, kept
  auto view = progress.merged(5, t - 10);
  REQUIRE(view);
  CHECK(view->step == 40);
  CHECK(view->checkpoint->step == 32);
  CHECK(progress.jobs() == 1);  // only watched jobs are kept

  // Each malformed body: 400 naming the field, and nothing recorded, not even the heartbeat.
  HeartbeatBoard before_beats;
  auto beat_before = beats.last().at("n1");
  std::vector<std::pair<std::string, std::string>> bad = {
      {"[1, 2]", "expected nothing or a JSON object"},
      {R"({"jobs": 5})", "jobs: expected an array"},
      {R"({"jobs": [5]})", "jobs[0]: expected an object"},
      {R"({"jobs": [{"step": 1, "at": )" + at + R"(, "ranks": 1}]})", "jobs[0].job: missing"},
      {R"({"jobs": [{"job": 0, "step": 1, "at": )" + at + R"(, "ranks": 1}]})", "jobs[0].job: expected an integer from 1"},
      {R"({"jobs": [{"job": 5, "step": -1, "at": )" + at + R"(, "ranks": 1}]})", "jobs[0].step: expected an integer"},
      {R"({"jobs": [{"job": 5, "step": 1.5, "at": )" + at + R"(, "ranks": 1}]})", "jobs[0].step: expected an integer"},
      {R"({"jobs": [{"job": 5, "step": 1, "at": "now", "ranks": 1}]})", "jobs[0].at: expected a unix time"},
      {R"({"jobs": [{"job": 5, "step": 1, "at": 99999999999, "ranks": 1}]})", "jobs[0].at: expected a unix time"},
      {R"({"jobs": [{"job": 5, "step": 1, "at": )" + at + R"(, "ranks": 0}]})", "jobs[0].ranks: expected an integer from 1"},
      {R"({"jobs": [{"job": 5, "step": 1, "at": )" + at + R"(, "ranks": 1, "checkpoint_step": 1}]})",
       "jobs[0]: checkpoint_step and checkpoint_at come together"},
      {R"({"jobs": [{"job": 5, "step": 99, "at": )" + at + R"(, "ranks": 1}, {"job": 5}]})", "jobs[1].step: missing"},
  };
  std::string many = R"({"jobs": [)";
  for (int i = 0; i < 257; ++i) many += std::string(i ? "," : "") + R"({"job": 5, "step": 1, "at": )" + at + R"(, "ranks": 1})";
  bad.emplace_back(many + "]}", "jobs: 257 entries, at most 256");
  for (const auto& [body, why] : bad) {
    INFO(body);
    ApiResponse r = post(body);
    CHECK(r.status == 400);
    CHECK(r.body.find(why) != std::string::npos);
  }
  CHECK(progress.merged(5, t - 10)->step == 40);  // the first entry of a refused body was not recorded either
  CHECK(beats.last().at("n1") == beat_before);
  CHECK(post("").status == 200);  // an agent without jobs: a bare heartbeat, as before
}
