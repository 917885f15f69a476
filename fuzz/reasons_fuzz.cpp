// SPDX-License-Identifier: GPL-2.0-or-later
// Node reasons as anyone with scontrol can set them, and node states as Slurm reports them: classified without
// crashing, and a reason that does not start with the project's prefix is never taken for the project's own.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "autoresume/reasons.hpp"
#include "recovery/node_failure.hpp"

using namespace autoresume;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  uint8_t bits = data[0];
  std::string reason(reinterpret_cast<const char*>(data + 1), size - 1);
  Node n;
  n.name = "n1";
  n.reason = reason;
  n.drain = bits & 1;
  n.fail = bits & 2;
  n.not_responding = bits & 4;
  n.base = (bits & 8) ? NodeBase::Down : NodeBase::Idle;
  n.reason_uid = (bits & 16) ? 0 : 1000;
  ReasonClass c = reason_class(reason);
  bool ours = reason.rfind(kReasonPrefix, 0) == 0;
  if (!ours && (c == ReasonClass::Hardware || c == ReasonClass::Resource)) std::abort();
  if (auto f = classify_node(n)) (void)drain_reason(*f), (void)needs_drain(n, *f);
  (void)is_suspect(n);
  (void)is_admin_owned(n);
  return 0;
}
