// SPDX-License-Identifier: GPL-2.0-or-later
#include "slurm/slurmd_probe.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <random>

namespace autoresume {
namespace {

// One address: true connected, false refused/unreachable/silent.
bool connects(const addrinfo& a, std::chrono::milliseconds timeout) {
  int fd = socket(a.ai_family, a.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a.ai_protocol);
  if (fd < 0) return false;
  bool ok = false;
  if (connect(fd, a.ai_addr, a.ai_addrlen) == 0) {
    ok = true;
  } else if (errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) == 1) {
      int err = 0;
      socklen_t len = sizeof err;
      ok = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
    }
  }
  close(fd);
  return ok;
}

// A descriptor closed when it goes out of scope.
struct Fd {
  int fd;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

// The Internet checksum (RFC 1071) over the pseudo-header and the TCP header.
uint16_t tcp_checksum(in_addr src, in_addr dst, const unsigned char* tcp, size_t len) {
  uint32_t sum = 0;
  auto add16 = [&](uint16_t v) { sum += v; };
  auto add_bytes = [&](const unsigned char* p, size_t n) {
    for (size_t i = 0; i + 1 < n; i += 2) add16(static_cast<uint16_t>((p[i] << 8) | p[i + 1]));
    if (n % 2) add16(static_cast<uint16_t>(p[n - 1] << 8));
  };
  add_bytes(reinterpret_cast<const unsigned char*>(&src.s_addr), 4);
  add_bytes(reinterpret_cast<const unsigned char*>(&dst.s_addr), 4);
  add16(IPPROTO_TCP);
  add16(static_cast<uint16_t>(len));
  add_bytes(tcp, len);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

}  // namespace

std::optional<bool> syn_probe(const std::string& ipv4, uint16_t port, std::chrono::milliseconds timeout) {
  in_addr dst{};
  if (inet_pton(AF_INET, ipv4.c_str(), &dst) != 1) return std::nullopt;
  Fd raw(socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_TCP));
  if (raw.fd < 0) return std::nullopt;  // no CAP_NET_RAW
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr = dst;
  // The source address the route to the node uses, and a local port held by a bound (never listening, never
  // connected) socket: no one else gets it meanwhile, and the kernel resets the SYN-ACK that comes back to it.
  Fd route(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in local{};
  socklen_t len = sizeof local;
  if (route.fd < 0 || connect(route.fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0 ||
      getsockname(route.fd, reinterpret_cast<sockaddr*>(&local), &len) != 0)
    return std::nullopt;
  Fd held(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  local.sin_port = 0;
  len = sizeof local;
  if (held.fd < 0 || bind(held.fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
      getsockname(held.fd, reinterpret_cast<sockaddr*>(&local), &len) != 0)
    return std::nullopt;

  uint32_t seq = std::random_device{}();
  unsigned char syn[20] = {};
  uint16_t sport = local.sin_port, dport = htons(port);  // network order already
  std::memcpy(syn, &sport, 2);
  std::memcpy(syn + 2, &dport, 2);
  uint32_t nseq = htonl(seq);
  std::memcpy(syn + 4, &nseq, 4);
  syn[12] = 5 << 4;  // header length: 5 words
  syn[13] = 0x02;    // SYN
  syn[14] = 0x04;    // window 1024
  uint16_t sum = htons(tcp_checksum(local.sin_addr, dst, syn, sizeof syn));
  std::memcpy(syn + 16, &sum, 2);
  if (sendto(raw.fd, syn, sizeof syn, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) != sizeof syn) return std::nullopt;

  // Every TCP segment the host receives comes up the raw socket (with its IP header): the node's answer is the
  // one from dst:port to our port acknowledging our sequence number.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;  // silent: a powered-off host, or a filtered port
    pollfd p{raw.fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) != 1) continue;
    unsigned char buf[128];
    sockaddr_in from{};
    socklen_t flen = sizeof from;
    ssize_t n = recvfrom(raw.fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &flen);
    if (n < 20 || from.sin_addr.s_addr != dst.s_addr) continue;
    size_t ip_len = static_cast<size_t>(buf[0] & 0x0f) * 4;
    if (static_cast<size_t>(n) < ip_len + 14) continue;
    const unsigned char* tcp = buf + ip_len;
    if (std::memcmp(tcp, &dport, 2) != 0 || std::memcmp(tcp + 2, &sport, 2) != 0) continue;
    uint32_t ack;
    std::memcpy(&ack, tcp + 8, 4);
    if (ntohl(ack) != seq + 1) continue;
    uint8_t flags = tcp[13];
    if ((flags & 0x12) == 0x12) return true;  // SYN-ACK: something listens (the kernel resets it for us)
    if (flags & 0x04) return false;           // RST: nothing listens
  }
}

Result<bool> tcp_port_answers(const std::string& host, uint16_t port, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  std::string service = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0)
    return Error{rc, "slurmd probe: cannot resolve \"" + host + "\": " + gai_strerror(rc)};
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> list(found, freeaddrinfo);
  for (addrinfo* a = found; a; a = a->ai_next) {
    if (a->ai_family == AF_INET) {
      char text[INET_ADDRSTRLEN] = {};
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr, text, sizeof text);
      if (auto answered = syn_probe(text, port, timeout)) {
        if (*answered) return true;
        continue;
      }
    }
    if (connects(*a, timeout)) return true;
  }
  return false;
}

}  // namespace autoresume
