// SPDX-License-Identifier: GPL-2.0-or-later
// The agent's GPU remediation ladder: which rung an XID calls for, after the "resolution bucket" of NVIDIA's XID
// catalogue, and what has been tried on each GPU, so that each rung is tried once and then the next.
//
//   restart_app  the application's fault on sound hardware: its jobs are requeued, the node is kept (validated
//                and returned at once)
//   reset_gpu    the GPU needs a reset: once the node is drained and idle the agent runs `nvidia-smi -r -i N`
//                (--gpu-reset-command) and writes how it went into the drain reason
//   reboot       the node needs a reboot (the controller's RebootMethod)
//   replace      the node is replaced (the controller's ReplaceMethod)
//
// The rung goes at the end of the drain reason: "autoresume: gpu0: xid 62 [reset_gpu]"; the controller acts on it
// (controller/recovery/remediation.hpp) and climbs too when a node fails again after a rung that did not hold.
// A site overrides the table with a file (--xid-ladder FILE), one "XID RUNG" per line, '#' comments; RUNG "none"
// takes an XID out (it no longer fails its GPU).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>

#include "autoresume/result.hpp"

namespace autoresume::agent {

enum class Rung { RestartApp, ResetGpu, Reboot, Replace };

const char* to_string(Rung r);
std::optional<Rung> parse_rung(const std::string& text);

using XidTable = std::map<unsigned long long, Rung>;

// The compiled-in table: the one place the XID numbers and their rungs are written.
const XidTable& default_xid_table();
// `text` (a file's content) over `base`; errors name `origin`:LINE and what was expected.
Result<XidTable> parse_xid_table(const std::string& text, const std::string& origin, XidTable base);
Result<XidTable> load_xid_table(const std::string& path);  // the default table with the file over it

// What has been tried on each GPU, kept in a small JSON file (a reboot must not forget that a reset was tried): a
// fault whose rung was already tried on that GPU within the window gets the next one up.
class LadderState {
 public:
  // path empty: kept in memory only.
  explicit LadderState(std::string path, double window_s = 24 * 3600);
  Rung choose(unsigned gpu, Rung wanted, double now);  // records the choice as tried
  const std::string& save_error() const { return save_error_; }  // the last save's failure, empty if it worked

 private:
  void save();
  std::string path_;
  double window_s_;
  std::map<unsigned, std::map<Rung, double>> tried_;  // gpu -> rung -> when
  std::string save_error_;
};

}  // namespace autoresume::agent
