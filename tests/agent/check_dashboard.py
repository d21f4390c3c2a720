#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Checks a Grafana dashboard (deploy/grafana/iofence-dashboard.json) against a live agent's
# /metrics text: the JSON parses, panels have unique ids and a grid position, every query has a
# refId, and every iofence_* metric a query or template variable names is a metric family the
# agent exposes (histograms through their _bucket/_sum/_count series).
#   check_dashboard.py DASHBOARD.json METRICS.txt
import json
import re
import sys

NAME = re.compile(r"\biofence_[a-z0-9_]+\b")


def exposed(metrics_text):
    families = set()
    for line in metrics_text.splitlines():
        m = re.match(r"# TYPE (\S+) (\S+)", line)
        if m:
            families.add(m.group(1))
            if m.group(2) == "histogram":
                families.update(m.group(1) + s for s in ("_bucket", "_sum", "_count"))
        elif line and not line.startswith("#"):
            families.add(re.split(r"[{ ]", line, 1)[0])
    return families


def queries(dash):
    for p in dash.get("panels", []):
        for t in p.get("targets", []):
            yield "panel %d (%s) %s" % (p["id"], p["title"], t.get("refId")), t["expr"]
    for v in dash.get("templating", {}).get("list", []):
        q = v.get("query")
        if isinstance(q, dict):
            q = q.get("query")
        if v.get("type") == "query":
            yield "variable " + v["name"], q


def main(dash_path, metrics_path):
    dash = json.load(open(dash_path))
    have = exposed(open(metrics_path).read())
    errors, used = [], set()
    ids = [p["id"] for p in dash["panels"]]
    if len(ids) != len(set(ids)):
        errors.append("panel ids are not unique: %s" % ids)
    for p in dash["panels"]:
        if not {"x", "y", "w", "h"} <= set(p.get("gridPos", {})):
            errors.append("panel %d: no gridPos" % p["id"])
        if p["type"] != "row" and not p.get("targets"):
            errors.append("panel %d (%s): no queries" % (p["id"], p["title"]))
        for t in p.get("targets", []):
            if not t.get("refId") or not t.get("expr"):
                errors.append("panel %d: a target without refId or expr" % p["id"])
    for where, expr in queries(dash):
        names = NAME.findall(expr or "")
        if not names:
            errors.append("%s: no iofence metric in %r" % (where, expr))
        for n in names:
            used.add(n)
            if n not in have:
                errors.append("%s: %s is not in the agent's /metrics" % (where, n))
    for e in errors:
        print("check_dashboard: " + e, file=sys.stderr)
    print("check_dashboard: %d queries use %d metrics, all exposed: %s"
          % (sum(1 for _ in queries(dash)), len(used), "no" if errors else "yes"))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
