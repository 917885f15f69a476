#include "actions/site_program.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

namespace autoresume {
namespace {

bool is_zombie(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  auto close = line.rfind(')');  // the command name may contain spaces and parentheses
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z';
}

}  // namespace

Result<int> start_site_program(const std::string& command, const std::string& node, const std::string& log_path) {
  int out = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (out < 0) return Error{errno, log_path + ": " + std::strerror(errno)};
  // The node name goes in as a positional parameter, never spliced into the command text.
  std::string script = command + " \"$1\"";
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(out);
    return Error{err, std::string("fork: ") + std::strerror(err)};
  }
  if (pid == 0) {
    setsid();  // its own process group, so that a timeout kills everything it started
    dup2(out, STDOUT_FILENO);
    dup2(out, STDERR_FILENO);
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, STDIN_FILENO);
    execl("/bin/sh", "sh", "-c", script.c_str(), "autoresume-site-program", node.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out);
  return static_cast<int>(pid);
}

ProgramStatus poll_site_program(int pid) {
  int status = 0;
  pid_t r = waitpid(pid, &status, WNOHANG);
  if (r == 0) return {ProgramState::Running};
  if (r == pid) {
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {ProgramState::Succeeded};
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return {ProgramState::Failed, code};
  }
  // ECHILD: started by a previous controller process. It can still be watched, not waited for; a zombie counts
  // as gone (in a container, PID 1 may never reap it).
  if (pid > 0 && kill(pid, 0) == 0 && !is_zombie(pid)) return {ProgramState::Running};
  return {ProgramState::Gone};
}

void kill_site_program(int pid) {
  if (pid <= 0) return;
  kill(-pid, SIGKILL);
  waitpid(pid, nullptr, 0);  // our child exits at once; anyone else's pid answers ECHILD at once
}

}  // namespace autoresume
