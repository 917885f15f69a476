// SPDX-License-Identifier: GPL-2.0-or-later
#include "progress_dir.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace autoresume::plugin {
namespace {

Error failed(const std::string& what, const std::string& path, int err) {
  return Error{0, what + " " + path + ": " + std::strerror(err)};
}

// mkdir -p, each new component 0755 (owned by root: this runs in slurmstepd before it drops privileges).
Status make_base(const std::string& base) {
  for (size_t slash = 1; slash <= base.size(); ++slash) {
    if (slash != base.size() && base[slash] != '/') continue;
    std::string part = base.substr(0, slash);
    if (mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) return failed("cannot make", part, errno);
  }
  struct stat st {};
  if (stat(base.c_str(), &st) != 0) return failed("cannot read", base, errno);
  if (!S_ISDIR(st.st_mode)) return Error{0, base + ": not a directory"};
  return ok_status();
}

}  // namespace

Result<std::string> make_progress_dir(const std::string& base, uint32_t job_id, uid_t uid, gid_t gid) {
  if (base.empty() || base[0] != '/') return Error{0, "progress_dir \"" + base + "\": not an absolute path"};
  if (auto made = make_base(base); !made) return made.error();
  int base_fd = open(base.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (base_fd < 0) return failed("cannot open", base, errno);
  std::string name = std::to_string(job_id), path = base + "/" + name;
  if (mkdirat(base_fd, name.c_str(), 0700) != 0 && errno != EEXIST) {
    int err = errno;
    close(base_fd);
    return failed("cannot make", path, err);
  }
  // O_NOFOLLOW | O_DIRECTORY: whatever stands there must be a real directory, never a link to elsewhere.
  int fd = openat(base_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  int err = errno;
  close(base_fd);
  if (fd < 0) return failed("cannot open", path, err);
  bool done = fchown(fd, uid, gid) == 0 && fchmod(fd, 0700) == 0;
  err = errno;
  close(fd);
  if (!done) return failed("cannot give to the job's user", path, err);
  return path;
}

}  // namespace autoresume::plugin
