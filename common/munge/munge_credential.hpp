// SPDX-License-Identifier: GPL-2.0-or-later
// Munge credentials for the controller's HTTP API. A request carries "Authorization: MUNGE <credential>" whose
// payload is the cluster and the request line it was made for ("gpu1: POST /v1/nodes/n2/replace"): a credential
// cannot be replayed (munged refuses a second decode) nor moved to another request or another cluster. Shared by autoresumed and autoresumectl.
#pragma once

#include <sys/types.h>

#include <string>

#include "autoresume/result.hpp"

namespace autoresume {

struct MungeIdentity {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string origin;  // the IPv4 address of the host whose munged encoded it ("" if munge did not say)
};

// What a credential is bound to: the cluster (Slurm's ClusterName, as the client knows it) and the request line,
// "gpu1: POST /v1/nodes/n2/replace". Clusters that share a munge key cannot take each other's credentials.
std::string credential_payload(const std::string& cluster, const std::string& method, const std::string& path);

// socket: munged's socket path, or empty for munge's default.
Result<std::string> encode_credential(const std::string& socket, const std::string& payload);
// Fails (code 401 meaning) when the credential is invalid, expired, replayed, or made for another payload.
Result<MungeIdentity> decode_credential(const std::string& socket, const std::string& credential,
                                        const std::string& expected_payload);

}  // namespace autoresume
