# SPDX-License-Identifier: GPL-2.0-or-later
# What the install tests share (sourced): the cached pristine root of a Debian release with Slurm and munge, and
# a free range of loopback ports taken under the harness's port lock. The caller defines die and say.

# base_tarball SUITE: prints the path of a tarball of SUITE with Slurm, munge and systemd (what Debian installs),
# made with mmdebstrap the first time.
base_tarball() {
  local suite=$1 cache=${AUTORESUME_ROOTS:-/var/cache/slurm-auto-resume/roots}/install
  local base_packages="slurmctld,slurmd,slurm-client,munge,procps,systemd"
  local tarball=$cache/$suite-$(echo "$base_packages" | sha256sum | cut -c1-12).tar mirror
  if [ ! -f "$tarball" ]; then
    mkdir -p "$cache"
    mirror=$(grep -hoE 'https?://[^ ]*deb\.debian\.org/debian' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null |
      head -1 || true)
    say "making the $suite base root ($base_packages)" >&2
    mmdebstrap --variant=apt --quiet --aptopt='Acquire::Check-Valid-Until "false"' \
      --customize-hook='printf "#!/bin/sh\nexit 101\n" > "$1/usr/sbin/policy-rc.d"; chmod +x "$1/usr/sbin/policy-rc.d"' \
      --include="$base_packages" "$suite" "$tarball.new.tar" "deb ${mirror:-http://deb.debian.org/debian} $suite main" >&2 ||
      die "mmdebstrap $suite failed"
    mv "$tarball.new.tar" "$tarball"
  fi
  echo "$tarball"
}

# take_port_lock: the harness's port lock on descriptor 9, in the calling shell (not in $(...)): no other test
# cluster takes ports meanwhile; `flock -u 9` once the daemons listen.
take_port_lock() {
  exec 9>>/run/lock/autoresume-devcluster-ports.lock
  flock -w 120 9 || die "the port lock stayed held for 120 s"
}

# free_port_base: the first of 5 free consecutive loopback ports.
free_port_base() {
  python3 - <<'PY'
import random, socket, sys
for _ in range(200):
    base, socks = random.randrange(10000, 30000), []
    try:
        for p in range(base, base + 5):
            s = socket.socket(); s.bind(("127.0.0.1", p)); socks.append(s)
    except OSError:
        continue
    finally:
        for s in socks: s.close()
    print(base); sys.exit(0)
sys.exit("no free port range")
PY
}
