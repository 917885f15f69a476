// SPDX-License-Identifier: GPL-2.0-or-later
// A site program (ReplaceProgram, RebootProgram) run beside the control loop: started with the node name as its
// last argument in its own process group, its output appended to a log file, polled each tick (never waited on),
// and killed as a group when it runs past its timeout.
//
// A program is known by its pid and its start time (field 22 of /proc/PID/stat): after a controller restart the
// pid alone may name an unrelated process that reused it, and nothing is signalled unless both match. The child
// waits on a pipe until the caller has recorded that identity, so a crash before the record leaves no program
// running unwatched (it exits without running the command).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "autoresume/result.hpp"

namespace autoresume {

struct ProgramId {
  int pid = 0;
  uint64_t start_ticks = 0;  // clock ticks after boot; 0: unknown (a record from before identities were kept)

  bool operator==(const ProgramId&) const = default;
};

enum class ProgramState {
  Running,    // still running (our child, or the same live process left by a previous controller process)
  Succeeded,  // exited 0
  Failed,     // exited non-zero or was killed by a signal
  Gone,       // not our child and no longer running: its outcome is unknown (a controller restart came between)
};

struct ProgramStatus {
  ProgramState state;
  int exit_code = 0;  // for Failed: the exit code, or 128 + signal
};

// `command` is a shell command line from the configuration; the node name is passed as "$1" and appended.
// `record` is called with the program's identity before the program runs; if it throws, the child is killed
// unrun and the exception goes on.
Result<ProgramId> start_site_program(const std::string& command, const std::string& node, const std::string& log_path,
                                     const std::function<void(const ProgramId&)>& record);
ProgramStatus poll_site_program(const ProgramId& program);
// Kills the program's process group, only if `program` still names the process that was started.
void kill_site_program(const ProgramId& program);

// A live process's start time in clock ticks after boot, from /proc; nullopt if there is no such process.
std::optional<uint64_t> process_start_ticks(int pid);

}  // namespace autoresume
