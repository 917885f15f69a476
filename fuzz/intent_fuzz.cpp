// SPDX-License-Identifier: GPL-2.0-or-later
// What a user controls and root re-reads: the intent token in AdminComment (and in the job's environment), the
// plugin's option values and plugstack arguments. A parsed intent survives a round trip; a merged comment holds
// the token once; a claimed intent never exceeds the site's max.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "autoresume/intent.hpp"
#include "../spank_plugin/options.hpp"

using namespace autoresume;
using namespace autoresume::plugin;
using autoresume::intent_detail::split_spaces;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  if (auto i = parse_intent(text)) {
    auto again = parse_intent(intent_token(*i));
    if (!again || again->max_attempts != i->max_attempts) std::abort();
  }
  // The controller's swap token, which a step's srun acts on: a parsed one survives a round trip.
  if (auto s = parse_swap(text)) {
    auto again = parse_swap(swap_token(*s));
    if (!again || !(*again == *s)) std::abort();
  }
  std::string merged = merge_intent(text, intent_token(Intent{3}));
  auto after = parse_intent(merged);
  if (!after || after->max_attempts != 3) std::abort();

  std::string value = text.substr(0, text.find('\0'));
  (void)parse_auto_resume(value.c_str());
  if (auto n = parse_max_attempts(value.c_str(), 50); n && *n > 50) std::abort();

  std::vector<std::string> args;
  for (auto part : split_spaces(text)) args.emplace_back(part);
  auto site = parse_site_config(args);
  if (site) {
    if (auto claimed = revalidate_claimed_intent(*site, text); claimed && claimed->max_attempts > site->max_attempts)
      std::abort();
  }
  return 0;
}
