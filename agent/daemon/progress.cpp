// SPDX-License-Identifier: GPL-2.0-or-later
#include "daemon/progress.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string_view>

namespace autoresume::agent {
namespace {

// A user's file, read as root: no link followed, no FIFO or device waited on, a few bytes at most.
std::optional<Report> read_report(int dir_fd, const char* name) {
  int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  char buf[kMaxReportBytes + 1];
  ssize_t n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? read(fd, buf, sizeof buf) : -1;
  close(fd);
  if (n <= 0 || static_cast<size_t>(n) > kMaxReportBytes) return std::nullopt;
  return parse_report(std::string_view(buf, static_cast<size_t>(n)));
}

std::optional<JobProgress> read_job(int base_fd, const char* name, uint32_t job_id) {
  int fd = openat(base_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  DIR* dir = fdopendir(fd);
  if (!dir) {
    close(fd);
    return std::nullopt;
  }
  JobProgress p;
  p.job_id = job_id;
  size_t seen = 0;
  while (dirent* e = readdir(dir)) {
    if (++seen > kMaxRankFiles) break;
    std::string_view entry = e->d_name;
    if (entry == kCheckpointFile) {
      p.checkpoint = read_report(fd, e->d_name);
      continue;
    }
    if (entry.substr(0, kRankFilePrefix.size()) != kRankFilePrefix) continue;
    auto r = read_report(fd, e->d_name);
    if (!r) continue;
    ++p.ranks;
    p.step = std::max(p.step, r->step);
    p.at = std::max(p.at, r->at);
  }
  closedir(dir);
  if (p.ranks == 0) return std::nullopt;
  return p;
}

}  // namespace

std::vector<JobProgress> read_progress(const std::string& base, size_t max_jobs) {
  std::vector<JobProgress> out;
  DIR* dir = opendir(base.c_str());
  if (!dir) return out;
  int base_fd = dirfd(dir);
  size_t seen = 0;
  while (dirent* e = readdir(dir)) {
    if (++seen > 4 * kMaxRankFiles) break;
    auto id = parse_job_dir_name(e->d_name);
    if (!id) continue;
    if (auto p = read_job(base_fd, e->d_name, *id)) out.push_back(*p);
  }
  closedir(dir);
  std::sort(out.begin(), out.end(), [](const JobProgress& a, const JobProgress& b) { return a.at > b.at; });
  if (out.size() > max_jobs) out.resize(max_jobs);
  return out;
}

void forget_progress(const std::string& base, uint32_t job_id) {
  int base_fd = open(base.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (base_fd < 0) return;
  std::string name = std::to_string(job_id);
  int fd = openat(base_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0) {
    if (DIR* dir = fdopendir(fd)) {
      size_t seen = 0;
      while (dirent* e = readdir(dir)) {
        if (++seen > kMaxRankFiles) break;
        std::string_view entry = e->d_name;
        if (entry != "." && entry != "..") unlinkat(fd, e->d_name, 0);  // a subdirectory: EISDIR, left
      }
      closedir(dir);
    } else {
      close(fd);
    }
    unlinkat(base_fd, name.c_str(), AT_REMOVEDIR);
  }
  close(base_fd);
}

}  // namespace autoresume::agent
