// SPDX-License-Identifier: GPL-2.0-or-later
// "HOST:PORT" of a listener (the controller's API, the agent's /metrics).
#pragma once

#include <string>
#include <utility>

#include "autoresume/result.hpp"

namespace autoresume {

// "127.0.0.1:6828" -> host, port; an error names what was expected.
Result<std::pair<std::string, int>> parse_listen_address(const std::string& value);

}  // namespace autoresume
