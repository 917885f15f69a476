// SPDX-License-Identifier: GPL-2.0-or-later
#include "util/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <iostream>

namespace autoresume {
namespace {

Error file_error(const std::string& what, const std::string& path, const std::string& reason) {
  return Error{0, (what.empty() ? "" : what + " ") + path + ": " + reason, true};
}

}  // namespace

std::string slurm_conf_path() {
  const char* conf = std::getenv("SLURM_CONF");
  return conf && *conf ? conf : "/etc/slurm/slurm.conf";
}

std::optional<std::string> unreadable_reason(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::strerror(errno);
  struct stat st {};
  bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  close(fd);
  if (!regular) return S_ISDIR(st.st_mode) ? std::strerror(EISDIR) : "not a regular file";
  return std::nullopt;
}

Status check_readable_file(const std::string& path, const std::string& what) {
  if (auto why = unreadable_reason(path)) return file_error(what, path, *why);
  return ok_status();
}

Status check_writable_dir(const std::string& dir, const std::string& what) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return file_error(what, dir, ec.message());
  if (!std::filesystem::is_directory(dir, ec)) return file_error(what, dir, ec ? ec.message() : std::strerror(ENOTDIR));
  if (access(dir.c_str(), W_OK | X_OK) != 0) return file_error(what, dir, std::strerror(errno));
  return ok_status();
}

Status check_slurm_conf_readable(const std::string& conf) {
  std::string path = conf.empty() ? slurm_conf_path() : conf;
  std::error_code ec;
  bool present = std::filesystem::exists(path, ec);
  if (ec) return file_error("slurm.conf", path, ec.message());  // a directory above it is not searchable
  if (!present) return ok_status();
  return check_readable_file(path, "slurm.conf");
}

int main_without_exceptions(const char* program, int exception_code, int (*run)(int, char**), int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << program << ": " << e.what() << "\n";
  } catch (...) {
    std::cerr << program << ": internal error\n";
  }
  return exception_code;
}

}  // namespace autoresume
