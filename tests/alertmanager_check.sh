#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# amtool check-config of observability/alertmanager/alertmanager.yml with its templates where the file names them
# (a copy, the template path pointed at the source tree), and a route for each severity the alert rules use.
# Usage: alertmanager_check.sh AMTOOL DIR
set -eu
amtool=$1 dir=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s|/etc/prometheus/alertmanager_templates/autoresume.tmpl|$dir/autoresume.tmpl|" "$dir/alertmanager.yml" >"$tmp/am.yml"
grep -q "$dir/autoresume.tmpl" "$tmp/am.yml" || { echo "alertmanager.yml does not name autoresume.tmpl" >&2; exit 1; }
"$amtool" check-config "$tmp/am.yml"
# Where each severity goes: critical to the on-call receiver (email and chat), warning to chat.
for case in "severity=critical:oncall" "severity=warning:chat" "alertname=AutoResumeNodeFailed severity=warning:chat"; do
  labels=${case%:*} want=${case##*:}
  # shellcheck disable=SC2086
  got=$("$amtool" config routes test --config.file="$tmp/am.yml" $labels)
  [[ $got == "$want" ]] || { echo "route for $labels: got '$got', want '$want'" >&2; exit 1; }
  echo "route for $labels: $got"
done
