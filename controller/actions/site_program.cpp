// SPDX-License-Identifier: GPL-2.0-or-later
#include "actions/site_program.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace autoresume {
namespace {

// The fields of /proc/PID/stat after the command name (which may contain spaces and parentheses).
std::optional<std::string> stat_after_name(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return std::nullopt;
  auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) return std::nullopt;
  return line.substr(close + 2);  // field 3 (state) onwards
}

bool is_zombie(int pid) {
  auto rest = stat_after_name(pid);
  return rest && !rest->empty() && (*rest)[0] == 'Z';
}

// The same process that was started (a zombie included): same pid, same start time. An unknown start time (0)
// never matches: a process that cannot be told apart from a stranger is never signalled nor waited for.
bool same_process(const ProgramId& p) {
  if (p.pid <= 0 || p.start_ticks == 0) return false;
  auto ticks = process_start_ticks(p.pid);
  return ticks && *ticks == p.start_ticks;
}

// Our child (started by this process): waitpid answers for it; anyone else's pid answers ECHILD.
bool is_our_child(int pid) {
  siginfo_t info{};
  return pid > 0 && waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0;
}

}  // namespace

std::optional<uint64_t> process_start_ticks(int pid) {
  auto rest = stat_after_name(pid);
  if (!rest) return std::nullopt;
  std::istringstream fields(*rest);
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i)
    if (i == 22) return std::strtoull(field.c_str(), nullptr, 10);
  return std::nullopt;
}

Result<ProgramId> start_site_program(const std::string& command, const std::string& node, const std::string& log_path,
                                     const std::function<void(const ProgramId&)>& record) {
  int out = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (out < 0) return Error{errno, log_path + ": " + std::strerror(errno)};
  int go[2];
  if (pipe2(go, O_CLOEXEC) != 0) {
    int err = errno;
    close(out);
    return Error{err, std::string("pipe: ") + std::strerror(err)};
  }
  // The node name goes in as a positional parameter, never spliced into the command text.
  std::string script = command + " \"$1\"";
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(out), close(go[0]), close(go[1]);
    return Error{err, std::string("fork: ") + std::strerror(err)};
  }
  if (pid == 0) {
    close(go[1]);
    char byte = 0;
    ssize_t n;
    while ((n = read(go[0], &byte, 1)) < 0 && errno == EINTR) {
    }
    if (n != 1) _exit(125);  // the controller died before it recorded us: run nothing
    setsid();  // its own process group, so that a timeout kills everything it started
    dup2(out, STDOUT_FILENO);
    dup2(out, STDERR_FILENO);
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, STDIN_FILENO);
    execl("/bin/sh", "sh", "-c", script.c_str(), "autoresume-site-program", node.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out), close(go[0]);
  ProgramId id{static_cast<int>(pid), process_start_ticks(pid).value_or(0)};
  try {
    record(id);
  } catch (...) {
    close(go[1]);  // the child reads EOF and exits without running the command
    waitpid(pid, nullptr, 0);
    throw;
  }
  char byte = 1;
  ssize_t n;
  while ((n = write(go[1], &byte, 1)) < 0 && errno == EINTR) {
  }
  close(go[1]);
  return id;
}

ProgramStatus poll_site_program(const ProgramId& p) {
  if (!same_process(p)) return {ProgramState::Gone};  // ended and reaped, or the pid now names another process
  int status = 0;
  pid_t r = waitpid(p.pid, &status, WNOHANG);
  if (r == 0) return {ProgramState::Running};
  if (r == p.pid) {
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {ProgramState::Succeeded};
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return {ProgramState::Failed, code};
  }
  // ECHILD: started by a previous controller process. It can still be watched, not waited for; a zombie counts
  // as gone (in a container, PID 1 may never reap it).
  return {is_zombie(p.pid) ? ProgramState::Gone : ProgramState::Running};
}

void kill_site_program(const ProgramId& p) {
  if (!same_process(p)) return;
  kill(-p.pid, SIGKILL);
  kill(p.pid, SIGKILL);  // in case it had not yet made its own group
  if (is_our_child(p.pid)) waitpid(p.pid, nullptr, 0);  // a previous controller's program is not ours to reap
}

}  // namespace autoresume
