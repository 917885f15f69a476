#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/man_check.sh BUILD_DIR: every option the programs' --help lists is in their man page (man/), and every man
# page is valid roff for man(7) (groff reports no warning). The pages are written by hand; this keeps them true.
set -uo pipefail
build=$1
src=$(cd "$(dirname "$0")/.." && pwd)
status=0
# page: the man page's text with roff's escaped hyphens made plain
# (grep -q would stop reading early: sed then dies of SIGPIPE, and pipefail fails a match at random)
plain() { sed 's/\\-/-/g' "$src/man/$1"; }
check() {  # PAGE COMMAND...
  local page=$1; shift
  local help; help=$("$@" --help 2>&1) || { echo "man_check: $* --help failed"; status=1; return; }
  for opt in $(grep -oE -- '--[a-z][a-z0-9-]*' <<<"$help" | sort -u); do
    case $opt in --help|--version) continue ;; esac
    if ! plain "$page" | grep -F -- "$opt" >/dev/null; then
      echo "man_check: $page does not document $opt (from: $*)"; status=1
    fi
  done
}
check autoresumed.8 "$build/controller/autoresumed"
check autoresumectl.1 "$build/ctl/autoresumectl"
for sub in events replace; do check autoresumectl.1 "$build/ctl/autoresumectl" "$sub"; done
check autoresume-agent.8 "$build/agent/autoresume-agent"
check autoresume-agent.8 "$build/agent/autoresume-agent" check
check autoresume-gpu-validate.8 "$src/agent/validate/autoresume-gpu-validate"
check autoresume-agent.8 "$build/agent/autoresume-agent" run
check autoresume-progress.1 "$build/job/autoresume-progress"
# The plugin's options and plugstack arguments, from its sample configuration.
for word in --auto-resume --auto-resume-max-attempts --auto-resume-hang-timeout default= default_max_attempts= \
            max_attempts= default_hang_timeout= max_hang_timeout= progress_dir= AUTO_RESUME_ATTEMPT \
            AUTO_RESUME_MAX_ATTEMPTS AUTO_RESUME_PROGRESS_DIR; do
  plain auto_resume.8 | grep -F -- "$word" >/dev/null || { echo "man_check: auto_resume.8 does not document $word"; status=1; }
  grep -qF -- "${word%=}" "$src/packaging/auto_resume.conf.in" || { echo "man_check: $word is not in the sample plugstack"; status=1; }
done
command -v groff >/dev/null || { echo "man_check: groff is not installed: page syntax not checked here"; exit $status; }
for page in "$src"/man/*.[0-9]; do
  out=$(LC_ALL=C.UTF-8 groff -man -ww -z "$page" 2>&1)
  [ -z "$out" ] || { echo "man_check: $(basename "$page"): $out"; status=1; }
done
[ $status = 0 ] && echo "man_check: every option documented, every page clean"
exit $status
