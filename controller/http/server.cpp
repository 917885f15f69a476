// SPDX-License-Identifier: GPL-2.0-or-later
#include "http/server.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string_view>
#include <type_traits>

#include "config/config.hpp"
#include "util/log.hpp"

namespace autoresume {
namespace {

// cpp-httplib's TaskQueue::enqueue returns void up to 0.14 and bool (false: refused, the socket closed) since.
using EnqueueResult = decltype(std::declval<httplib::TaskQueue&>().enqueue(std::function<void()>{}));

template <typename R>
R accepted() {
  if constexpr (!std::is_void_v<R>) return true;
}

// A fixed pool whose queue is bounded by blocking the listener: while it is full nothing more is accepted.
class BoundedPool final : public httplib::TaskQueue {
 public:
  BoundedPool(size_t workers, size_t queued) : max_queued_(queued) {
    for (size_t i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
  }
  EnqueueResult enqueue(std::function<void()> fn) override {
    {
      std::unique_lock lock(mutex_);
      room_.wait(lock, [&] { return queue_.size() < max_queued_ || shutdown_; });
      if (!shutdown_) queue_.push_back(std::move(fn));
    }
    ready_.notify_one();
    return accepted<EnqueueResult>();
  }
  void shutdown() override {
    {
      std::lock_guard lock(mutex_);
      shutdown_ = true;
    }
    ready_.notify_all();
    room_.notify_all();
    for (auto& t : threads_) t.join();
  }

 private:
  void work() {
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [&] { return !queue_.empty() || shutdown_; });
        if (queue_.empty()) return;  // shut down, and drained
        fn = std::move(queue_.front());
        queue_.pop_front();
      }
      room_.notify_one();
      fn();
    }
  }
  const size_t max_queued_;
  std::mutex mutex_;
  std::condition_variable ready_, room_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> threads_;
  bool shutdown_ = false;
};

// The local port of a connected (not listening) TCP socket, or 0.
int accepted_port(int fd) {
  int listening = 0;
  socklen_t len = sizeof listening;
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || listening) return 0;
  sockaddr_storage addr{};
  len = sizeof addr;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  return 0;
}

}  // namespace

long raise_descriptor_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return -1;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
    getrlimit(RLIMIT_NOFILE, &lim);
  }
  return lim.rlim_cur == RLIM_INFINITY ? 1L << 20 : static_cast<long>(lim.rlim_cur);
}

HttpServer::HttpServer(Api& api, HttpLimits limits)
    : api_(api), limits_(limits), server_(std::make_unique<httplib::Server>()) {}

HttpServer::~HttpServer() { stop(); }

Status HttpServer::start(const std::string& listen_address) {
  auto addr = parse_listen_address(listen_address);
  if (!addr) return addr.error();
  // Connections in hand (working and queued) never eat into the descriptors the rest of the process needs.
  long nofile = raise_descriptor_limit();
  long room = nofile - limits_.descriptor_reserve - static_cast<long>(limits_.workers);
  size_t queued = room < 4 ? 4 : std::min(limits_.queued, static_cast<size_t>(room));
  server_->new_task_queue = [workers = limits_.workers, queued] { return new BoundedPool(workers, queued); };
  // SO_REUSEADDR only: cpp-httplib's default adds SO_REUSEPORT, which would let a second autoresumed bind the
  // same port and split the requests with the first.
  server_->set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  server_->set_payload_max_length(kMaxRequestBody);
  server_->set_keep_alive_max_count(1);  // one request per connection: the deadline is the request's
  server_->set_read_timeout(5, 0);
  server_->set_write_timeout(5, 0);
  auto respond = [this](const httplib::Request& req, httplib::Response& res, std::string body) {
    ApiRequest r{req.method, req.path, {}, req.get_header_value("Authorization"), std::move(body), req.remote_addr};
    for (const auto& [k, v] : req.params) r.query[k] = v;
    ApiResponse out;
    try {
      out = api_.handle(r);
    } catch (const std::exception& e) {  // a state database error: reported, never a dropped connection
      out = error_response(500, e.what());
    }
    res.status = out.status;
    res.set_content(out.body, out.content_type.c_str());
  };
  auto handler = [respond](const httplib::Request& req, httplib::Response& res) { respond(req, res, req.body); };
  // Bodies are read here, not before routing: a request without Content-Length (nor chunked) has none, and is
  // answered at once instead of after a read timeout.
  auto with_body = [respond](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& read) {
    std::string body;
    auto refuse = [&](int status, const std::string& why) {
      res.status = status;
      res.set_content("{\"error\":\"" + why + "\"}", "application/json");
    };
    auto over = "request body over " + std::to_string(kMaxRequestBody) + " bytes";
    if (req.has_header("Content-Length") || req.has_header("Transfer-Encoding")) {
      if (std::strtoull(req.get_header_value("Content-Length").c_str(), nullptr, 10) > kMaxRequestBody)
        return refuse(413, over);
      bool whole = read([&](const char* data, size_t n) {
        body.append(data, n);
        return body.size() <= kMaxRequestBody;
      });
      if (body.size() > kMaxRequestBody) return refuse(413, over);
      if (!whole) return refuse(400, "the request body could not be read");
    }
    respond(req, res, std::move(body));
  };
  server_->Get(R"(/.*)", handler);
  server_->Post(R"(/.*)", with_body);
  server_->Put(R"(/.*)", with_body);
  server_->Delete(R"(/.*)", with_body);
  server_->Patch(R"(/.*)", with_body);
  server_->set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    std::string why = res.status == 413 ? "request body over " + std::to_string(kMaxRequestBody) + " bytes" : "bad request";
    res.set_content(std::string("{\"error\":\"") + why + "\"}", "application/json");
  });
  if (!server_->bind_to_port(addr->first.c_str(), addr->second))
    return Error{0, "ListenAddress " + listen_address + ": cannot listen there (in use, or not an address of this host)"};
  port_ = addr->second;
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  reaper_ = std::thread([this] { reap_slow_connections(); });
  // stop() only stops a server that is already listening: wait for it, so that a daemon failing right after
  // start (its first tick) can stop the listener and exit instead of joining a thread that never ends.
  for (int i = 0; i < 500 && !server_->is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  log(LogLevel::Info, "http_listening", {{"address", listen_address}, {"workers", std::to_string(limits_.workers)},
                                         {"queued", std::to_string(queued)}, {"descriptors", std::to_string(nofile)}});
  return ok_status();
}

// Once a second: every accepted connection of this listener (found among the process's descriptors) that is
// older than the deadline is shut down. The check and the shutdown go through a duplicate of the descriptor,
// so a descriptor closed and reused in between (libslurm's, SQLite's) is never touched.
void HttpServer::reap_slow_connections() {
  std::map<ino_t, std::chrono::steady_clock::time_point> first_seen;
  while (!stopping_) {
    auto now = std::chrono::steady_clock::now();
    std::map<ino_t, std::chrono::steady_clock::time_point> seen;
    if (DIR* dir = opendir("/proc/self/fd")) {
      while (dirent* e = readdir(dir)) {
        int fd = std::atoi(e->d_name);
        if (fd <= 2 || fd == dirfd(dir)) continue;
        // Sockets only, told by the link's text, without opening anything: closing a duplicate of a file's
        // descriptor would drop every POSIX lock this process holds on that file (SQLite's, on the state
        // database: another process would then take it for unused, checkpoint it and delete its WAL).
        char link[64] = {};
        std::string path = std::string("/proc/self/fd/") + e->d_name;
        if (readlink(path.c_str(), link, sizeof link - 1) <= 0 || std::string_view(link).rfind("socket:", 0) != 0) continue;
        int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (dup < 0) continue;
        struct stat st{};
        if (fstat(dup, &st) == 0 && S_ISSOCK(st.st_mode) && accepted_port(dup) == port_) {
          auto it = first_seen.find(st.st_ino);
          auto since = it == first_seen.end() ? now : it->second;
          seen[st.st_ino] = since;
          if (now - since > limits_.deadline) shutdown(dup, SHUT_RDWR);  // its worker's read or write ends at once
        }
        close(dup);
      }
      closedir(dir);
    }
    first_seen = std::move(seen);
    for (int i = 0; i < 10 && !stopping_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void HttpServer::stop() {
  stopping_ = true;
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
  if (reaper_.joinable()) reaper_.join();
}

}  // namespace autoresume
