// SPDX-License-Identifier: GPL-2.0-or-later
// A job's progress reports, as the job writes them and the agent reads them (docs/hangs-and-goodput.md).
//
// slurmstepd (the plugin, as root) makes one directory per job on each of its nodes, BASE/JOBID (BASE is the
// plugstack.conf argument progress_dir=, default /run/autoresume/progress), owned by the job's user, mode 0700,
// and tells the tasks where it is in AUTO_RESUME_PROGRESS_DIR. In it, each rank's latest report and the job's
// latest finished checkpoint, one line each, replaced whole (written to a temporary file, then renamed):
//
//   rank-RANK     "STEP UNIXTIME\n"   the rank finished step STEP at UNIXTIME (seconds, may have a fraction)
//   checkpoint    "STEP UNIXTIME\n"   a checkpoint of step STEP was finished at UNIXTIME
//
// Everything in the directory is the user's: the agent (root) reads it with O_NOFOLLOW, regular files only, at
// most kMaxReportBytes of each and kMaxRankFiles files, and parses it with parse_report below.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace autoresume {

inline constexpr const char* kProgressDirVar = "AUTO_RESUME_PROGRESS_DIR";
inline constexpr std::string_view kRankFilePrefix = "rank-";
inline constexpr std::string_view kCheckpointFile = "checkpoint";
inline constexpr size_t kMaxReportBytes = 64;
inline constexpr size_t kMaxRankFiles = 4096;
// Steps are counted in doubles on the way to the controller (JSON): at most 2^53.
inline constexpr uint64_t kMaxStep = (uint64_t{1} << 53);

struct Report {
  uint64_t step = 0;
  double at = 0;  // unix seconds
  bool operator==(const Report&) const = default;
};

inline std::string format_report(const Report& r) {
  char at[32];
  std::snprintf(at, sizeof at, "%.3f", r.at);
  return std::to_string(r.step) + " " + at + "\n";
}

// "STEP UNIXTIME\n" (the newline optional); nullopt for anything else.
inline std::optional<Report> parse_report(std::string_view text) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  size_t space = text.find(' ');
  if (space == std::string_view::npos || text.size() > kMaxReportBytes) return std::nullopt;
  Report r;
  std::string_view step = text.substr(0, space), at = text.substr(space + 1);
  auto [end, ec] = std::from_chars(step.data(), step.data() + step.size(), r.step);
  if (step.empty() || ec != std::errc() || end != step.data() + step.size() || r.step > kMaxStep) return std::nullopt;
  if (at.empty() || at.find_first_not_of("0123456789.") != std::string_view::npos) return std::nullopt;
  std::string at_text(at);
  char* at_end = nullptr;
  r.at = std::strtod(at_text.c_str(), &at_end);
  if (at_end != at_text.c_str() + at_text.size() || !std::isfinite(r.at) || r.at <= 0) return std::nullopt;
  return r;
}

// A job id as a directory name: decimal digits, no leading zero, 1 to 4294967294.
inline std::optional<uint32_t> parse_job_dir_name(std::string_view name) {
  uint32_t id = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), id);
  if (name.empty() || name[0] == '0' || ec != std::errc() || end != name.data() + name.size()) return std::nullopt;
  return id;
}

}  // namespace autoresume
