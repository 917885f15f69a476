#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The shipped Grafana dashboards: each valid against tests/grafana-dashboard.schema.json, panel ids and refIds
unique, panels inside the 24-column grid, every $variable used defined, and every alert rule's "dashboard"
annotation pointing at a dashboard uid and panel (viewPanel) that exist, with variables the dashboard defines.

Usage: dashboards_check.py SOURCE_DIR
"""
import glob
import json
import os
import re
import sys
import urllib.parse

import jsonschema
import yaml

src = sys.argv[1]
schema = json.load(open(os.path.join(src, "tests/grafana-dashboard.schema.json")))
errors = []
boards = {}
builtin = {"__rate_interval", "__interval", "__range", "datasource"}
for path in sorted(glob.glob(os.path.join(src, "observability/grafana/*.json"))):
    name = os.path.basename(path)
    d = json.load(open(path))
    try:
        jsonschema.validate(d, schema)
    except jsonschema.ValidationError as e:
        errors.append(f"{name}: {e.message} at {'/'.join(str(p) for p in e.absolute_path)}")
        continue
    ids = [p["id"] for p in d["panels"]]
    if len(ids) != len(set(ids)):
        errors.append(f"{name}: panel ids repeat: {sorted(ids)}")
    variables = {v["name"] for v in d["templating"]["list"]}
    for p in d["panels"]:
        g = p["gridPos"]
        if g["x"] + g["w"] > 24:
            errors.append(f"{name}: panel {p['id']} ends past column 24")
        refs = [t["refId"] for t in p.get("targets", [])]
        if len(refs) != len(set(refs)):
            errors.append(f"{name}: panel {p['id']}: refIds repeat")
        for t in p.get("targets", []):
            for var in re.findall(r"\$(\w+)", t["expr"]):
                if var not in variables and var not in builtin:
                    errors.append(f"{name}: panel {p['id']}: ${var} is not a variable of the dashboard")
    if d["uid"] in boards:
        errors.append(f"{name}: uid {d['uid']} repeats")
    boards[d["uid"]] = (name, set(ids), variables)

rules = yaml.safe_load(open(os.path.join(src, "observability/prometheus/autoresume-rules.yml")))
links = 0
for group in rules["groups"]:
    for rule in group["rules"]:
        alert = rule.get("alert")
        ann = rule.get("annotations", {})
        if not alert:
            continue
        for key in ("summary", "description", "runbook", "dashboard"):
            if not ann.get(key):
                errors.append(f"alert {alert}: no {key} annotation")
        link = ann.get("dashboard", "")
        m = re.match(r"^/d/([^/?]+)(?:/[^?]*)?\?(.*)$", link)
        if not m:
            errors.append(f"alert {alert}: dashboard link {link!r} is not /d/UID/SLUG?viewPanel=N")
            continue
        uid, query = m.group(1), urllib.parse.parse_qs(m.group(2))
        if uid not in boards:
            errors.append(f"alert {alert}: no dashboard with uid {uid}")
            continue
        name, ids, variables = boards[uid]
        panel = query.get("viewPanel", [""])[0]
        if not panel.isdigit() or int(panel) not in ids:
            errors.append(f"alert {alert}: {name} has no panel {panel!r}")
        for key in query:
            if key.startswith("var-") and key[4:] not in variables:
                errors.append(f"alert {alert}: {name} has no variable {key[4:]}")
        links += 1

for e in errors:
    print("dashboards_check:", e, file=sys.stderr)
print(f"dashboards_check: {len(boards)} dashboards, {links} alert links checked, {len(errors)} problem(s)")
sys.exit(1 if errors else 0)
