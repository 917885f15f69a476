// Whether anything accepts a TCP connection on host:port: the dead-node probe of the Slurm adapter.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "autoresume/result.hpp"

namespace autoresume {

// true: a connection was accepted (and closed at once, nothing sent). false: refused, unreachable, or no answer
// within `timeout` (a powered-off host on a real network answers nothing at all). An error: the name does not
// resolve, so nothing can be said.
Result<bool> tcp_port_answers(const std::string& host, uint16_t port, std::chrono::milliseconds timeout);

}  // namespace autoresume
