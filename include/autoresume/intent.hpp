// SPDX-License-Identifier: GPL-2.0-or-later
// The durable record of a job's auto-resume intent: one token in the job's AdminComment.
//
//   autoresume=1:max=3          auto-resume on, at most 3 resumes (the job's budget): the whole job is requeued
//   autoresume=1:max=3:step     asked by a step (`srun --auto-resume=1` inside a batch job without the flag,
//                               HyperPod's form): that step is retried in place, inside the same allocation
//   autoresume=1:max=3:hang=600 the job's own hang timeout in seconds (--auto-resume-hang-timeout, or the site's
//                               default_hang_timeout); 0: never judged hung. Absent: the controller's HangTimeout.
//                               Before `:step` when both are there.
//
// and, written by the controller only, the state of the job's latest in-place retry (docs/in-place.md):
//
//   autoresume_swap=2:swapping:0,3   the second swap of this job is under way; it ended steps 0 and 3
//   autoresume_swap=2:ready:0,3      the allocation is whole again: those steps' sruns run their command again
//   autoresume_swap=2:requeue:0,3    in-place retry was impossible: the whole job is requeued instead
//
// AdminComment is writable only by root, SlurmUser and operators, so users cannot forge the token; the
// plugin writes it from root-side contexts (job prolog, slurmstepd) and the controller reads it back through
// libslurm after any restart. Other content of the AdminComment is kept: tokens are separated by spaces and
// only the `autoresume=` token is ours.
#pragma once

#include <charconv>
#include <csignal>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace autoresume {

inline constexpr std::string_view kIntentKey = "autoresume=";

struct Intent {
  unsigned max_attempts = 0;
  bool in_place = false;  // a step asked: retry that step inside the allocation (else: requeue the whole job)
  std::optional<unsigned> hang_timeout = std::nullopt;  // seconds without progress that make the job hung; nullopt: site's default
  bool operator==(const Intent&) const = default;
};

inline std::string intent_token(const Intent& intent) {
  std::string hang = intent.hang_timeout ? ":hang=" + std::to_string(*intent.hang_timeout) : "";
  return std::string(kIntentKey) + "1:max=" + std::to_string(intent.max_attempts) + hang + (intent.in_place ? ":step" : "");
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
    constexpr std::string_view step = ":step";
    bool in_place = v.size() > step.size() && v.substr(v.size() - step.size()) == step;
    if (in_place) v.remove_suffix(step.size());
    std::optional<unsigned> hang;
    constexpr std::string_view hang_key = ":hang=";
    if (size_t h = v.find(hang_key); h != std::string_view::npos) {
      std::string_view seconds = v.substr(h + hang_key.size());
      unsigned n = 0;
      auto [end, ec] = std::from_chars(seconds.data(), seconds.data() + seconds.size(), n);
      if (seconds.empty() || ec != std::errc() || end != seconds.data() + seconds.size()) return std::nullopt;
      hang = n;
      v = v.substr(0, h);
    }
    unsigned max = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), max);
    if (ec != std::errc() || end != v.data() + v.size() || max == 0) return std::nullopt;
    return Intent{max, in_place, hang};
  }
  return std::nullopt;
}

inline constexpr std::string_view kSwapKey = "autoresume_swap=";

// Once a swap is ready, the controller sends this signal to the batch script's process group (Slurm's
// `scancel --batch --full`), where the steps' sruns run: an srun whose step the swap ended runs it again at once,
// instead of first waiting out Slurm's abort wait for the dead node's tasks (KillWait + 2 s). SIGURG is ignored
// by default: the script and anything else in its process group are left as they were.
inline constexpr int kSwapReadySignal = SIGURG;

// The controller's record of a job's latest in-place retry, read by the sruns of the steps it ended.
struct SwapState {
  enum class Stage { Swapping, Ready, Requeue };
  unsigned number = 0;          // 1 for the job's first swap
  Stage stage = Stage::Swapping;
  std::vector<uint32_t> steps;  // the steps it ended (they ran on the failed node)
  bool operator==(const SwapState&) const = default;
};

inline const char* to_string(SwapState::Stage s) {
  switch (s) {
    case SwapState::Stage::Swapping: return "swapping";
    case SwapState::Stage::Ready: return "ready";
    case SwapState::Stage::Requeue: return "requeue";
  }
  return "swapping";
}

inline std::string swap_token(const SwapState& s) {
  std::string out = std::string(kSwapKey) + std::to_string(s.number) + ":" + to_string(s.stage) + ":";
  if (s.steps.empty()) out += "-";
  for (size_t i = 0; i < s.steps.size(); ++i) out += (i ? "," : "") + std::to_string(s.steps[i]);
  return out;
}

// nullopt when there is no token or it is malformed (a malformed token is never acted on).
inline std::optional<SwapState> parse_swap(std::string_view admin_comment) {
  auto number = [](std::string_view v, unsigned& out) {
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    return ec == std::errc() && end == v.data() + v.size() && !v.empty();
  };
  for (std::string_view t : intent_detail::split_spaces(admin_comment)) {
    if (!intent_detail::has_key(t, kSwapKey)) continue;
    std::string_view v = t.substr(kSwapKey.size());
    size_t a = v.find(':'), b = a == std::string_view::npos ? a : v.find(':', a + 1);
    if (b == std::string_view::npos) return std::nullopt;
    SwapState s;
    if (!number(v.substr(0, a), s.number) || s.number == 0) return std::nullopt;
    std::string_view stage = v.substr(a + 1, b - a - 1), steps = v.substr(b + 1);
    if (stage == "swapping") s.stage = SwapState::Stage::Swapping;
    else if (stage == "ready") s.stage = SwapState::Stage::Ready;
    else if (stage == "requeue") s.stage = SwapState::Stage::Requeue;
    else return std::nullopt;
    if (steps == "-") return s;
    while (!steps.empty()) {
      size_t c = steps.find(',');
      unsigned step = 0;
      if (!number(steps.substr(0, c), step)) return std::nullopt;
      s.steps.push_back(step);
      steps = c == std::string_view::npos ? std::string_view() : steps.substr(c + 1);
      if (c != std::string_view::npos && steps.empty()) return std::nullopt;
    }
    return s;
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
