// SPDX-License-Identifier: GPL-2.0-or-later
// The validation report: the script that makes it (run for real, with an scontrol that records what it was asked),
// what the controller reads from AdminComment, and how reports are kept per node.
#include <sys/wait.h>
#include <unistd.h>

#include "catch_compat.hpp"
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "recovery/validation_report.hpp"

using namespace autoresume;
namespace fs = std::filesystem;

namespace {

fs::path scratch(const std::string& what) {
  fs::path d = fs::temp_directory_path() / ("autoresume-validation-" + what + "-" + std::to_string(getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs the job script as Slurm would (sh, SLURM_JOB_ID set) with a fake scontrol first on PATH that writes its
// arguments, one per line, to DIR/scontrol.args. Returns the script's exit status.
int run_script(const fs::path& dir, const std::string& script) {
  std::ofstream(dir / "job.sh") << script;
  std::ofstream(dir / "scontrol") << "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n--\\n' \"$a\"; done >" << (dir / "scontrol.args").string()
                                  << "\nprintf '%s' \"$SLURM_CONF\" >" << (dir / "slurm_conf").string() << "\n";
  fs::permissions(dir / "scontrol", fs::perms::owner_all);
  std::string cmd = "cd " + dir.string() + " && PATH=" + dir.string() + ":/usr/bin:/bin SLURM_JOB_ID=77 TMPDIR=" + dir.string() +
                    " sh job.sh";
  int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("validation report: the job script reports the program's output and exit in AdminComment", "[validation]") {
  fs::path dir = scratch("script");
  std::ofstream(dir / "check") << "#!/bin/sh\necho \"node $AUTORESUME_NODE gpus $AUTORESUME_NODE_GPUS\"\n"
                                  "echo 'quote \" dollar $HOME' >&2\necho FAIL: gpu1 ecc\nexit 4\n";
  fs::permissions(dir / "check", fs::perms::owner_all);
  int rc = run_script(dir, validation_script("n7", 2, (dir / "check").string() + " --quick", "/etc/site/slurm.conf"));
  CHECK(rc == 4);  // Slurm sees the program's verdict
  std::string args = slurp(dir / "scontrol.args");
  CHECK(args == "update\n--\nJobId=77\n--\nAdminComment=autoresume-validation exit=4\nnode n7 gpus 2\n"
                "quote \" dollar $HOME\nFAIL: gpu1 ecc\n--\n");
  CHECK(slurp(dir / "slurm_conf") == "/etc/site/slurm.conf");
  // The temporary output file is gone.
  size_t left = 0;
  for (const auto& e : fs::directory_iterator(dir)) left += e.path().filename().string().rfind("autoresume-validation.", 0) == 0;
  CHECK(left == 0);

  // What the controller makes of it.
  std::string comment = args.substr(std::string("update\n--\nJobId=77\n--\nAdminComment=").size());
  comment = comment.substr(0, comment.size() - 4);
  auto report = parse_validation_comment(77, comment);
  REQUIRE(report);
  CHECK(report->exit_code == 4);
  CHECK(report->lines == std::vector<std::string>{"node n7 gpus 2", "quote \" dollar $HOME", "FAIL: gpu1 ecc"});
  CHECK(verdict_lines(*report, 2) == "last lines: quote \" dollar $HOME | FAIL: gpu1 ecc");
  fs::remove_all(dir);
}

TEST_CASE("validation report: only the output's tail goes into AdminComment", "[validation]") {
  fs::path dir = scratch("tail");
  std::ofstream(dir / "check") << "#!/bin/sh\ni=0\nwhile [ $i -lt 2000 ]; do echo \"line $i of the diagnostics\"; i=$((i+1)); done\n";
  fs::permissions(dir / "check", fs::perms::owner_all);
  CHECK(run_script(dir, validation_script("n1", 0, (dir / "check").string(), "")) == 0);
  std::string args = slurp(dir / "scontrol.args");
  CHECK(args.size() < kValidationTailBytes + 200);
  CHECK(args.find("line 1999 of the diagnostics\n") != std::string::npos);
  CHECK(args.find("line 0 of") == std::string::npos);
  CHECK(slurp(dir / "slurm_conf").empty());  // no SLURM_CONF given: none exported
  fs::remove_all(dir);
}

TEST_CASE("validation report: AdminComment is read as text from a node: bounded, cleaned, or not a report", "[validation]") {
  CHECK_FALSE(parse_validation_comment(1, ""));
  CHECK_FALSE(parse_validation_comment(1, "autoresume=1:max=3"));
  auto r = parse_validation_comment(1, "autoresume-validation exit=banana\nok\r\n\x07\tbell\n\n\n");
  REQUIRE(r);
  CHECK_FALSE(r->exit_code);
  CHECK(r->lines == std::vector<std::string>{"ok", " bell"});
  CHECK(verdict_lines(*parse_validation_comment(1, "autoresume-validation exit=0")) == "no output reported");
  std::string flood = "autoresume-validation exit=1\n";
  for (int i = 0; i < 5000; ++i) flood += std::string(50, 'x') + "\n";
  auto big = parse_validation_comment(1, flood);
  REQUIRE(big);
  CHECK(big->lines.size() <= 100);
  auto long_line = parse_validation_comment(1, "autoresume-validation exit=1\n" + std::string(5000, 'y'));
  REQUIRE(long_line);
  CHECK(long_line->lines.at(0).size() <= 400);
  CHECK(verdict_lines(*long_line).size() < 230);
}

TEST_CASE("validation report: kept per node, newest last, the oldest removed beyond the limit", "[validation]") {
  fs::path dir = scratch("kept");
  ValidationReports reports(dir.string());
  for (unsigned i = 0; i < kValidationReportsKept + 3; ++i) {
    ValidationReport r;
    r.job_id = 100 + i;
    r.at = 1'700'000'000.0 + i;
    r.exit_code = static_cast<int>(i);
    r.lines = {"attempt " + std::to_string(i)};
    REQUIRE(reports.save("gpu-node-1", r));
  }
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir / "gpu-node-1")) files += e.path().extension() == ".json";
  CHECK(files == kValidationReportsKept);
  CHECK_FALSE(fs::exists(dir / "gpu-node-1" / "1700000000000-job100.json"));
  auto latest = reports.latest("gpu-node-1");
  REQUIRE(latest);
  CHECK(latest->job_id == 100 + kValidationReportsKept + 2);
  CHECK(latest->lines == std::vector<std::string>{"attempt " + std::to_string(kValidationReportsKept + 2)});
  CHECK_FALSE(reports.latest("gpu-node-2"));
  CHECK_FALSE(reports.save("../etc", ValidationReport{}));
  CHECK_FALSE(reports.save("", ValidationReport{}));
  CHECK_FALSE(fs::exists(dir / "etc"));
  fs::remove_all(dir);
}
