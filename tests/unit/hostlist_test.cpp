// SPDX-License-Identifier: GPL-2.0-or-later
#include "catch_compat.hpp"

#include "slurm/libslurm_client.hpp"

using autoresume::expand_hostlist;

TEST_CASE("hostlists expand through Slurm's own parser", "[slurm]") {
  CHECK(expand_hostlist("n[1-3],m2") == std::vector<std::string>{"n1", "n2", "n3", "m2"});
  CHECK(expand_hostlist("gpu[01-02]") == std::vector<std::string>{"gpu01", "gpu02"});
  CHECK(expand_hostlist("") .empty());
  CHECK(expand_hostlist(nullptr).empty());
}
