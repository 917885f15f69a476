// SPDX-License-Identifier: GPL-2.0-or-later
// Whether anything listens on host:port, without a connection the listener would see: the dead-node probe of
// the Slurm adapter.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "autoresume/result.hpp"

namespace autoresume {

// true: the port answered a SYN with SYN-ACK (something listens). false: refused (RST), unreachable, or no answer
// within `timeout` (a powered-off host on a real network answers nothing at all). An error: the name does not
// resolve, so nothing can be said.
//
// For IPv4, with CAP_NET_RAW (the controller runs as root), the probe is half-open: one SYN from a raw socket;
// the kernel answers the SYN-ACK with a reset, so the handshake never completes and the listener (slurmd) never
// accepts anything or logs anything. Otherwise it falls back to a TCP connect closed at once, which a live slurmd
// logs as an empty connection.
Result<bool> tcp_port_answers(const std::string& host, uint16_t port, std::chrono::milliseconds timeout);

// The half-open probe alone, on an IPv4 address: nullopt when it cannot be made (no CAP_NET_RAW, no route).
std::optional<bool> syn_probe(const std::string& ipv4, uint16_t port, std::chrono::milliseconds timeout);

}  // namespace autoresume
