// SPDX-License-Identifier: GPL-2.0-or-later
#include "recovery/validation_report.hpp"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <system_error>

#include <nlohmann/json.hpp>

#include "config/config.hpp"

namespace autoresume {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr size_t kMaxLines = 100;
constexpr size_t kMaxLineChars = 400;

std::string shell_quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Printable text only (tabs become spaces): the lines go into events, the log and a terminal.
std::string cleaned(std::string_view line) {
  std::string out;
  for (char c : line.substr(0, kMaxLineChars)) {
    auto u = static_cast<unsigned char>(c);
    if (c == '\t') out += ' ';
    else if (u >= 0x20 && u != 0x7f) out += c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

bool plain_file_name(const std::string& s) {
  return !s.empty() && s != "." && s != ".." && s.find('/') == std::string::npos && s.find('\0') == std::string::npos;
}

}  // namespace

std::string validation_reports_dir(const Config& config) { return config.state_dir + "/validation"; }

std::string validation_script(const std::string& node, unsigned gpus, const std::string& program,
                              const std::string& slurm_conf_path) {
  std::string s = "#!/bin/sh\n# autoresume: validation of " + node + "\nexport AUTORESUME_NODE=" + shell_quoted(node) +
                  " AUTORESUME_NODE_GPUS=" + std::to_string(gpus) + "\n";
  if (!slurm_conf_path.empty()) s += "export SLURM_CONF=" + shell_quoted(slurm_conf_path) + "\n";
  // Without a temporary file the program still runs; only its report is lost.
  s += "out=$(mktemp \"${TMPDIR:-/tmp}/autoresume-validation.XXXXXX\") || exec " + program + "\n";
  s += "( " + program + " ) >\"$out\" 2>&1 </dev/null\nrc=$?\n";
  s += "scontrol update JobId=\"$SLURM_JOB_ID\" AdminComment=\"" + std::string(kValidationCommentKey) +
       " exit=$rc\n$(tail -c " + std::to_string(kValidationTailBytes) + " \"$out\" | tr -d '\\000')\" >/dev/null 2>&1\n";
  s += "rm -f \"$out\"\nexit $rc\n";
  return s;
}

std::optional<ValidationReport> parse_validation_comment(uint32_t job_id, std::string_view comment) {
  if (comment.substr(0, kValidationCommentKey.size()) != kValidationCommentKey) return std::nullopt;
  comment.remove_prefix(kValidationCommentKey.size());
  size_t eol = comment.find('\n');
  std::string_view head = comment.substr(0, eol);
  std::string_view body = eol == std::string_view::npos ? std::string_view{} : comment.substr(eol + 1);
  ValidationReport r;
  r.job_id = job_id;
  constexpr std::string_view exit_key = " exit=";
  if (head.substr(0, exit_key.size()) == exit_key) {
    head.remove_prefix(exit_key.size());
    int code = 0;
    auto [end, ec] = std::from_chars(head.data(), head.data() + head.size(), code);
    if (ec == std::errc() && end == head.data() + head.size() && code >= 0 && code < 256) r.exit_code = code;
  }
  // The tail starts anywhere in a line: a cut first line is kept (it says something), whole lines after it.
  body = body.substr(body.size() > 2 * kValidationTailBytes ? body.size() - 2 * kValidationTailBytes : 0);
  while (!body.empty()) {
    size_t nl = body.find('\n');
    std::string line = cleaned(body.substr(0, nl));
    r.lines.push_back(std::move(line));
    if (nl == std::string_view::npos) break;
    body.remove_prefix(nl + 1);
  }
  while (!r.lines.empty() && r.lines.back().empty()) r.lines.pop_back();
  if (r.lines.size() > kMaxLines) r.lines.erase(r.lines.begin(), r.lines.end() - kMaxLines);
  return r;
}

std::string verdict_lines(const ValidationReport& report, size_t n) {
  std::vector<std::string> last;
  for (auto it = report.lines.rbegin(); it != report.lines.rend() && last.size() < n; ++it)
    if (!it->empty()) last.insert(last.begin(), it->size() > 200 ? it->substr(0, 200) : *it);
  if (last.empty()) return "no output reported";
  std::string out = "last lines: ";
  for (size_t i = 0; i < last.size(); ++i) out += (i ? " | " : "") + last[i];
  return out;
}

Status ValidationReports::save(const std::string& node, const ValidationReport& report) const {
  if (!plain_file_name(node)) return Error{0, "validation report: node name \"" + node + "\" is not a file name"};
  fs::path dir = fs::path(dir_) / node;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Error{0, "validation report: " + dir.string() + ": " + ec.message()};
  char name[64];
  std::snprintf(name, sizeof name, "%013.0f-job%u.json", report.at * 1000, report.job_id);
  fs::path file = dir / name, tmp = dir / (std::string(name) + ".tmp");
  json j = {{"job", report.job_id}, {"at", report.at}, {"lines", report.lines},
            {"exit", report.exit_code ? json(*report.exit_code) : json(nullptr)}};
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump() << '\n';
    if (!out.flush()) return Error{0, "validation report: cannot write " + tmp.string()};
  }
  fs::rename(tmp, file, ec);
  if (ec) return Error{0, "validation report: " + file.string() + ": " + ec.message()};
  // Rotation: names sort by time (fixed-width milliseconds), the oldest go.
  std::vector<fs::path> kept;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".json") kept.push_back(e.path());
  std::sort(kept.begin(), kept.end());
  for (size_t i = 0; i + kValidationReportsKept < kept.size(); ++i) fs::remove(kept[i], ec);
  return ok_status();
}

std::optional<ValidationReport> ValidationReports::latest(const std::string& node) const {
  if (!plain_file_name(node)) return std::nullopt;
  std::error_code ec;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(fs::path(dir_) / node, ec))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (auto it = files.rbegin(); it != files.rend(); ++it) {
    std::ifstream in(*it);
    json j = json::parse(in, nullptr, false);
    if (j.is_discarded() || !j.is_object()) continue;
    ValidationReport r;
    r.job_id = j.value("job", 0u);
    r.at = j.value("at", 0.0);
    if (j.contains("exit") && j["exit"].is_number_integer()) r.exit_code = j["exit"].get<int>();
    if (j.contains("lines") && j["lines"].is_array())
      for (const auto& l : j["lines"])
        if (l.is_string()) r.lines.push_back(l.get<std::string>());
    return r;
  }
  return std::nullopt;
}

}  // namespace autoresume
