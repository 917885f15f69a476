// The HTTP listener: cpp-httplib on ListenAddress (loopback by default), in its own threads, every request
// handed to Api::handle. Request bodies are capped; anything larger is refused with 413 before it is read.
#pragma once

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

class HttpServer {
 public:
  explicit HttpServer(Api& api);
  ~HttpServer();
  // "HOST:PORT"; binds now (an error names the address), then serves in a thread.
  Status start(const std::string& listen_address);
  void stop();

 private:
  Api& api_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace autoresume
