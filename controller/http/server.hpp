// SPDX-License-Identifier: GPL-2.0-or-later
// The HTTP listener: cpp-httplib on ListenAddress (loopback by default), every request handed to Api::handle.
//
// Reachable from every compute node, so it is built to stay up under abuse:
// - a fixed pool of workers and a bounded queue of accepted connections; when both are full the listener stops
//   accepting, and further connections wait in the kernel's backlog, holding no descriptor of this process
//   (the control loop's libslurm and SQLite keep theirs);
// - one request per connection, and a deadline on the whole of it (read, handle, write): a connection older than
//   the deadline is shut down, so slow clients cannot hold the workers;
// - request bodies capped (413 before they are read); a POST without Content-Length has an empty body.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "autoresume/result.hpp"
#include "http/api.hpp"

namespace httplib {
class Server;
}

namespace autoresume {

inline constexpr size_t kMaxRequestBody = 4096;

struct HttpLimits {
  size_t workers = 16;
  size_t queued = 64;                            // accepted connections waiting for a worker
  std::chrono::milliseconds deadline{15000};     // the whole of one request
  int descriptor_reserve = 256;                  // descriptors left to the rest of the process
};

class HttpServer {
 public:
  explicit HttpServer(Api& api, HttpLimits limits = {});
  ~HttpServer();
  // "HOST:PORT"; binds now (an error names the address), then serves in a thread.
  Status start(const std::string& listen_address);
  void stop();

 private:
  void reap_slow_connections();

  Api& api_;
  HttpLimits limits_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::thread reaper_;
  std::atomic<bool> stopping_{false};
  int port_ = 0;
};

// Raises this process's soft descriptor limit to its hard limit; returns the limit now in force.
long raise_descriptor_limit();

}  // namespace autoresume
