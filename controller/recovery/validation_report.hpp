// SPDX-License-Identifier: GPL-2.0-or-later
// What a validation run said, kept where an admin looks: why a node was quarantined or returned.
//
// The validation job runs on the node, the controller beside slurmctld: the output travels through Slurm. The job's
// script (validation_script) runs ValidationProgram with its output in a temporary file and, before it exits, puts
// the last kValidationTailBytes of it into its own AdminComment (the job is root's: only root or SlurmUser can set
// AdminComment). The controller reads it with the finished job, names the last lines in the node_validated /
// validation_failed / node_quarantined event, and keeps the whole report per node and attempt under
// StateDir/validation/NODE/ (the newest kValidationReportsKept per node; older ones are removed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "autoresume/result.hpp"

namespace autoresume {

inline constexpr size_t kValidationTailBytes = 3000;  // what the script puts into AdminComment
inline constexpr size_t kValidationReportsKept = 10;  // per node
inline constexpr std::string_view kValidationCommentKey = "autoresume-validation";

struct ValidationReport {
  uint32_t job_id = 0;
  std::optional<int> exit_code;     // as the script saw ValidationProgram end
  std::vector<std::string> lines;   // the output's last lines, control characters removed
  double at = 0;                    // when the controller read it (unix seconds)
};

// The job script: ValidationProgram with AUTORESUME_NODE and AUTORESUME_NODE_GPUS, its output reported as above.
// SLURM_CONF_PATH non-empty: exported for the job's scontrol (the controller's own $SLURM_CONF, for sites that keep
// slurm.conf outside Slurm's default place; a configless node finds slurmctld itself).
std::string validation_script(const std::string& node, unsigned gpus, const std::string& program,
                              const std::string& slurm_conf_path);

// The report in a validation job's AdminComment ("autoresume-validation exit=N" then the output), or nullopt if
// there is none (a job that ran past ValidationTimeout, a node without scontrol). Bounded and cleaned: this text
// came from the node.
std::optional<ValidationReport> parse_validation_comment(uint32_t job_id, std::string_view admin_comment);

// "last lines: a | b | c" (the last N non-empty lines, each cut at 200 characters), or "no output reported".
std::string verdict_lines(const ValidationReport& report, size_t n = 3);

struct Config;
// StateDir/validation: where ValidationReports keeps them.
std::string validation_reports_dir(const Config& config);

// StateDir/validation/NODE/: one file per attempt, "<unix time>-job<id>.log".
class ValidationReports {
 public:
  explicit ValidationReports(std::string dir) : dir_(std::move(dir)) {}
  // Writes the report (node names that are not a plain file name are refused) and removes the oldest beyond
  // kValidationReportsKept.
  Status save(const std::string& node, const ValidationReport& report) const;
  // The newest report of NODE, as saved.
  std::optional<ValidationReport> latest(const std::string& node) const;

 private:
  std::string dir_;
};

}  // namespace autoresume
