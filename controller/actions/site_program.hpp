// A site program (ReplaceProgram, RebootProgram) run beside the control loop: started with the node name as its
// last argument in its own process group, its output appended to a log file, polled each tick (never waited on),
// and killed as a group when it runs past its timeout.
#pragma once

#include <string>

#include "autoresume/result.hpp"

namespace autoresume {

enum class ProgramState {
  Running,    // still running (our child, or a live pid left by a previous controller process)
  Succeeded,  // exited 0
  Failed,     // exited non-zero or was killed by a signal
  Gone,       // not our child and no longer running: its outcome is unknown (a controller restart came between)
};

struct ProgramStatus {
  ProgramState state;
  int exit_code = 0;  // for Failed: the exit code, or 128 + signal
};

// `command` is a shell command line from the configuration; the node name is passed as "$1" and appended.
Result<int> start_site_program(const std::string& command, const std::string& node, const std::string& log_path);
ProgramStatus poll_site_program(int pid);
void kill_site_program(int pid);

}  // namespace autoresume
