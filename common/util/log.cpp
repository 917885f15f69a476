// SPDX-License-Identifier: GPL-2.0-or-later
#include "util/log.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace autoresume {
namespace {

LogLevel min_level = LogLevel::Info;
std::mutex log_mutex;

const char* name(LogLevel l) {
  switch (l) {
    case LogLevel::Debug: return "debug";
    case LogLevel::Info: return "info";
    case LogLevel::Warning: return "warning";
    case LogLevel::Error: return "error";
  }
  return "info";
}

std::string quoted(const std::string& v) {
  if (!v.empty() && v.find_first_of(" \t\"=") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += (c == '\n') ? ' ' : c;
  }
  return out + "\"";
}

std::string timestamp() {
  using namespace std::chrono;
  auto now = system_clock::now();
  std::time_t t = system_clock::to_time_t(now);
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

}  // namespace

void set_log_level(LogLevel level) { min_level = level; }

void log(LogLevel level, const std::string& event, std::initializer_list<std::pair<const char*, std::string>> fields) {
  if (level < min_level) return;
  std::string line = timestamp() + " level=" + name(level) + " event=" + event;
  for (const auto& [k, v] : fields) line += std::string(" ") + k + "=" + quoted(v);
  line += '\n';
  std::lock_guard<std::mutex> lock(log_mutex);
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace autoresume
