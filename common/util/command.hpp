// SPDX-License-Identifier: GPL-2.0-or-later
// A command run to its end with a fixed argv (no shell), its stdout and stderr together kept (the first 4 KiB),
// killed when it runs past a timeout. For the few things the daemons do through a tool rather than a library:
// `scontrol reboot` (no public libslurm call), `nvidia-smi -r` (the GPU reset NVML leaves to the tool).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "autoresume/result.hpp"

namespace autoresume {

struct CommandResult {
  int exit_code = 0;   // the exit status, or 128 + the signal that ended it
  std::string output;  // stdout and stderr, trimmed
};

// argv[0] is looked up in PATH. An error only when it could not be started, or ran past `timeout` (then killed).
Result<CommandResult> run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

}  // namespace autoresume
