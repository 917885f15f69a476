// SPDX-License-Identifier: GPL-2.0-or-later
// The dead-node probe on real sockets: a listener is found without ever being handed a connection (slurmd logs
// nothing), a closed port is found closed.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "catch_compat.hpp"
#include <cerrno>
#include <thread>

#include "slurm/slurmd_probe.hpp"

using namespace autoresume;
using namespace std::chrono_literals;

namespace {

// A socket bound to a free loopback port, listening or not; returns the port.
int bound(int& fd, bool listening) {
  fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  if (listening) REQUIRE(listen(fd, 16) == 0);
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  return ntohs(a.sin_port);
}

}  // namespace

TEST_CASE("slurmd probe: a listener answers and is never handed a connection", "[slurm][probe]") {
  int listener = -1;
  int port = bound(listener, true);
  auto half_open = syn_probe("127.0.0.1", static_cast<uint16_t>(port), 2000ms);
  INFO("the half-open probe needs CAP_NET_RAW: the tests run as root (scripts/test)");
  REQUIRE(half_open.has_value());
  CHECK(*half_open);
  auto answered = tcp_port_answers("127.0.0.1", static_cast<uint16_t>(port), 2000ms);
  REQUIRE(answered.ok());
  CHECK(*answered);
  std::this_thread::sleep_for(200ms);
  // What slurmd would do: accept. Nothing is there (a plain connect would have left one, which slurmd logs as an
  // error when it reads zero bytes).
  CHECK(accept(listener, nullptr, nullptr) < 0);
  CHECK((errno == EAGAIN || errno == EWOULDBLOCK));
  close(listener);
}

TEST_CASE("slurmd probe: a port nothing listens on is refused", "[slurm][probe]") {
  int fd = -1;
  int port = bound(fd, false);  // held, not listening: refused
  auto half_open = syn_probe("127.0.0.1", static_cast<uint16_t>(port), 2000ms);
  REQUIRE(half_open.has_value());
  CHECK_FALSE(*half_open);
  auto answered = tcp_port_answers("127.0.0.1", static_cast<uint16_t>(port), 2000ms);
  REQUIRE(answered.ok());
  CHECK_FALSE(*answered);
  close(fd);
  CHECK_FALSE(tcp_port_answers("no-such-host.invalid", 1, 500ms).ok());
}
