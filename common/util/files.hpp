// SPDX-License-Identifier: GPL-2.0-or-later
// What a process can read at its edges (slurm.conf, autoresume.conf, StateDir, munge's socket), said as one line a
// user can act on instead of an exception or a library's own exit.
#pragma once

#include <optional>
#include <string>

#include "autoresume/result.hpp"

namespace autoresume {

// The slurm.conf libslurm reads: $SLURM_CONF, else Slurm's default.
std::string slurm_conf_path();

// Why this process cannot open PATH for reading as a regular file ("Permission denied", "No such file or
// directory", "Is a directory"), or nullopt when it can.
std::optional<std::string> unreadable_reason(const std::string& path);

// Ok if this process can open PATH for reading (a regular file), else "PATH: <reason>" (Permission denied, No such
// file or directory, Is a directory), with WHAT before it when given: "slurm.conf /etc/slurm/slurm.conf: ...".
Status check_readable_file(const std::string& path, const std::string& what = "");

// Ok if DIR exists (or can be made) and this process can create and write files in it, else "DIR: <reason>".
Status check_writable_dir(const std::string& dir, const std::string& what = "");

// libslurm's own reading of slurm.conf ends the process (fatal(), exit 1) when the file exists but cannot be read:
// every client asks this first. PATH empty: slurm_conf_path(). Absent is fine (configless Slurm asks slurmctld
// through DNS SRV records).
Status check_slurm_conf_readable(const std::string& path = "");

// A program's main: RUN(argc, argv), and whatever exception escapes it is one line, "PROGRAM: what", and the exit
// code EXCEPTION_CODE, never an abort ("terminate called ...", 134).
int main_without_exceptions(const char* program, int exception_code, int (*run)(int, char**), int argc, char** argv);

}  // namespace autoresume
