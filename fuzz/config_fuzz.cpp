// SPDX-License-Identifier: GPL-2.0-or-later
// The controller's configuration file: any text either parses or is refused with "FILE:LINE: ..." naming the
// line; a parsed configuration has the bounds the parser promises.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "config/config.hpp"

using namespace autoresume;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto c = parse_config(text, "fuzz.conf");
  if (!c) {
    if (c.error().message.rfind("fuzz.conf:", 0) != 0) std::abort();  // every refusal names the file (and line)
    return 0;
  }
  constexpr long long kYear = 366LL * 24 * 3600;
  if (c->poll_interval.count() < 0 || c->quarantine_window.count() > kYear || c->history_retention.count() > kYear)
    std::abort();
  auto d = parse_duration(text);
  if (d && (d->count() < 0 || d->count() > kYear * 1000)) std::abort();
  return 0;
}
