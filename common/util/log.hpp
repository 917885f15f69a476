// SPDX-License-Identifier: GPL-2.0-or-later
// One line per event, key=value, to stderr (journald adds its own timestamp; foreground runs get ours).
#pragma once

#include <initializer_list>
#include <string>
#include <utility>

namespace autoresume {

enum class LogLevel { Debug, Info, Warning, Error };

void set_log_level(LogLevel level);
// log(LogLevel::Info, "job_requeued", {{"job", "17"}, {"attempt", "1"}}) ->
//   2026-11-29T05:53:25.123Z level=info event=job_requeued job=17 attempt=1
// Values with spaces or quotes are quoted.
void log(LogLevel level, const std::string& event, std::initializer_list<std::pair<const char*, std::string>> fields = {});

}  // namespace autoresume
