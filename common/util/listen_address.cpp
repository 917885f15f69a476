// SPDX-License-Identifier: GPL-2.0-or-later
#include "util/listen_address.hpp"

#include <charconv>

namespace autoresume {

Result<std::pair<std::string, int>> parse_listen_address(const std::string& value) {
  auto colon = value.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return Error{0, "expected HOST:PORT like 127.0.0.1:6828, got \"" + value + "\""};
  std::string host = value.substr(0, colon), port_text = value.substr(colon + 1);
  int port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 1 || port > 65535)
    return Error{0, "expected a port from 1 to 65535 in \"" + value + "\""};
  return std::make_pair(host, port);
}

}  // namespace autoresume
