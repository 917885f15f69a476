// SPDX-License-Identifier: GPL-2.0-or-later
// autoresume-progress STEP [--checkpoint]: a job's rank says it finished step STEP (and, with --checkpoint, that
// a checkpoint of that step is on disk). Writes the rank's report into the job's progress directory
// (include/autoresume/progress.hpp), which the node's agent reads. No dependency, one small write, never fails
// the job: outside an auto-resume job, or when the write fails, it says so on stderr and exits 0.
#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "autoresume/progress.hpp"

namespace {

using autoresume::Report;

constexpr const char* kUsage =
    "usage: autoresume-progress STEP [--checkpoint]\n"
    "  Report that this rank finished training step STEP (an integer); with --checkpoint, that a checkpoint of\n"
    "  step STEP is saved. Run it from a job's task (srun); the rank is SLURM_PROCID. Reports are written to\n"
    "  $AUTO_RESUME_PROGRESS_DIR, set by the auto_resume plugin in jobs with --auto-resume.\n";

// Replaces DIR/NAME whole: a reader sees the old report or the new one, never half of one.
bool write_report(const std::string& dir, const std::string& name, const Report& report) {
  std::string tmp = dir + "/." + name + "." + std::to_string(getpid()) + ".tmp", path = dir + "/" + name;
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::fprintf(stderr, "autoresume-progress: cannot write %s: %s (progress not reported)\n", tmp.c_str(),
                 std::strerror(errno));
    return false;
  }
  std::string text = autoresume::format_report(report);
  bool written = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  int err = errno;
  close(fd);
  if (!written || rename(tmp.c_str(), path.c_str()) != 0) {
    if (written) err = errno;
    std::fprintf(stderr, "autoresume-progress: cannot write %s: %s (progress not reported)\n", path.c_str(),
                 std::strerror(err));
    unlink(tmp.c_str());
    return false;
  }
  return true;
}

std::optional<uint64_t> number(std::string_view text, uint64_t max) {
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || n > max) return std::nullopt;
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  std::optional<uint64_t> step;
  bool checkpoint = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--checkpoint") {
      checkpoint = true;
    } else if (!step && (step = number(a, autoresume::kMaxStep))) {
    } else {
      std::fprintf(stderr, "autoresume-progress: unexpected argument \"%s\": expected STEP (an integer from 0 to %llu) "
                           "and optionally --checkpoint\n%s",
                   argv[i], static_cast<unsigned long long>(autoresume::kMaxStep), kUsage);
      return 2;
    }
  }
  if (!step) {
    std::fprintf(stderr, "autoresume-progress: missing STEP\n%s", kUsage);
    return 2;
  }
  const char* dir = std::getenv(autoresume::kProgressDirVar);
  if (!dir || !*dir) {
    std::fprintf(stderr, "autoresume-progress: %s is not set (not a task of an auto-resume job): not reported\n",
                 autoresume::kProgressDirVar);
    return 0;
  }
  const char* rank_text = std::getenv("SLURM_PROCID");
  auto rank = number(rank_text ? rank_text : "0", 9999999);
  if (!rank) {
    std::fprintf(stderr, "autoresume-progress: SLURM_PROCID=\"%s\" is not a rank: not reported\n", rank_text);
    return 0;
  }
  double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  Report report{*step, now};
  write_report(dir, std::string(autoresume::kRankFilePrefix) + std::to_string(*rank), report);
  if (checkpoint) write_report(dir, std::string(autoresume::kCheckpointFile), report);
  return 0;
}
