// The durable record of a job's auto-resume intent: one token in the job's AdminComment.
//
//   autoresume=1:max=3      auto-resume on, at most 3 resumes (the job's budget)
//
// AdminComment is writable only by root, SlurmUser and operators, so users cannot forge the token; the
// plugin writes it from root-side contexts (job prolog, slurmstepd) and the controller reads it back through
// libslurm after any restart. Other content of the AdminComment is kept: tokens are separated by spaces and
// only the `autoresume=` token is ours.
#pragma once

#include <charconv>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace autoresume {

inline constexpr std::string_view kIntentKey = "autoresume=";

struct Intent {
  unsigned max_attempts = 0;
  bool operator==(const Intent&) const = default;
};

inline std::string intent_token(const Intent& intent) {
  return std::string(kIntentKey) + "1:max=" + std::to_string(intent.max_attempts);
}

namespace intent_detail {

inline std::vector<std::string_view> split_spaces(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n')) ++i;
    size_t start = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t' && s[i] != '\n') ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

inline bool has_key(std::string_view t, std::string_view key) { return t.substr(0, key.size()) == key; }
inline bool is_intent_token(std::string_view t) { return has_key(t, kIntentKey); }

}  // namespace intent_detail

// The intent recorded in an AdminComment; nullopt when there is none, or when the token is malformed.
inline std::optional<Intent> parse_intent(std::string_view admin_comment) {
  for (std::string_view t : intent_detail::split_spaces(admin_comment)) {
    if (!intent_detail::is_intent_token(t)) continue;
    std::string_view v = t.substr(kIntentKey.size());
    constexpr std::string_view on = "1:max=";
    if (v.substr(0, on.size()) != on) return std::nullopt;
    v.remove_prefix(on.size());
    unsigned max = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), max);
    if (ec != std::errc() || end != v.data() + v.size() || max == 0) return std::nullopt;
    return Intent{max};
  }
  return std::nullopt;
}

// `existing` with its token that starts with `key` replaced by (or, if none, followed by) `token`; all else kept in
// order. Only tokens of the given key are touched: the rest of AdminComment belongs to others.
inline std::string merge_token(std::string_view existing, std::string_view key, std::string_view token) {
  std::string out;
  bool placed = false;
  for (std::string_view t : intent_detail::split_spaces(existing)) {
    if (intent_detail::has_key(t, key)) {
      if (placed) continue;
      t = token;
      placed = true;
    }
    if (!out.empty()) out += ' ';
    out += t;
  }
  if (!placed) {
    if (!out.empty()) out += ' ';
    out += token;
  }
  return out;
}

inline std::string merge_intent(std::string_view existing, std::string_view token) {
  return merge_token(existing, kIntentKey, token);
}

}  // namespace autoresume
