#include "http/server.hpp"

#include <httplib.h>

#include <chrono>
#include <thread>

#include "config/config.hpp"
#include "util/log.hpp"

namespace autoresume {

HttpServer::HttpServer(Api& api) : api_(api), server_(std::make_unique<httplib::Server>()) {}

HttpServer::~HttpServer() { stop(); }

Status HttpServer::start(const std::string& listen_address) {
  auto addr = parse_listen_address(listen_address);
  if (!addr) return addr.error();
  // SO_REUSEADDR only: cpp-httplib's default adds SO_REUSEPORT, which would let a second autoresumed bind the
  // same port and split the requests with the first.
  server_->set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  server_->set_payload_max_length(kMaxRequestBody);
  server_->set_read_timeout(5, 0);
  server_->set_write_timeout(5, 0);
  auto handler = [this](const httplib::Request& req, httplib::Response& res) {
    ApiRequest r{req.method, req.path, {}, req.get_header_value("Authorization"), req.body};
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
  server_->Get(R"(/.*)", handler);
  server_->Post(R"(/.*)", handler);
  server_->Put(R"(/.*)", handler);
  server_->Delete(R"(/.*)", handler);
  server_->Patch(R"(/.*)", handler);
  server_->set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    std::string why = res.status == 413 ? "request body over " + std::to_string(kMaxRequestBody) + " bytes" : "bad request";
    res.set_content(std::string("{\"error\":\"") + why + "\"}", "application/json");
  });
  if (!server_->bind_to_port(addr->first.c_str(), addr->second))
    return Error{0, "ListenAddress " + listen_address + ": cannot listen there (in use, or not an address of this host)"};
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // stop() only stops a server that is already listening: wait for it, so that a daemon failing right after
  // start (its first tick) can stop the listener and exit instead of joining a thread that never ends.
  for (int i = 0; i < 500 && !server_->is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  log(LogLevel::Info, "http_listening", {{"address", listen_address}});
  return ok_status();
}

void HttpServer::stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace autoresume
