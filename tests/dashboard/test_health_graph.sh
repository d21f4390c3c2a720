#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The dashboard against a three-node VXLAN overlay (tests/lib/overlay.sh), one agent per node,
# cross-node traffic: headless Chromium renders the page, and its DOM must show every node
# converged and every tunnel with traffic; after one agent is stopped (by its PID) the next
# load shows that node unreachable and its tunnels down. Screenshots go to OUT_DIR.
#   test_health_graph.sh IOFENCED IOFENCECTL SRC_DIR OUT_DIR
OUT=${4:?usage: test_health_graph.sh IOFENCED IOFENCECTL SRC_DIR OUT_DIR}
source "$3/tests/agent/lib.sh" dash "$1" "$2" "$3"
log() { echo "[$AT_TEST] ${SECONDS}s: $*"; }
command -v chromium >/dev/null || skip "needs chromium (Debian package)"
OV_PFX=$PFX
source "$SRC/tests/lib/overlay.sh"
LISTEN=127.0.0.1:21801
URL=http://$LISTEN/

ov_build 3 1
# Neighbours settled before any policy (the policy denies these pings).
ov_wait_ready w11 10.210.0.21 10.210.0.31
ov_wait_ready w21 10.210.0.31
for i in 1 2 3; do spawn_agent "n$i" "n$i" "node-$i"; done
for i in 1 2 3; do wait_agent "n$i"; done
AGENTS=(--agent "$(agent n1)" --agent "$(agent n2)" --agent "$(agent n3)")
"$CTL" apply -f "$SRC/deploy/examples/overlay.yaml" "${AGENTS[@]}" >/dev/null || fail "apply"
TRACING=0
if "$CTL" module enable vxlan-trace --interface ul0 --agent "$(agent n1)" >/dev/null 2>&1; then
	TRACING=1
	for i in 2 3; do
		"$CTL" module enable vxlan-trace --interface ul0 --agent "$(agent "n$i")" >/dev/null \
			|| fail "module enable on n$i"
	done
fi
log "three agents, overlay policy applied, vxlan-trace: $TRACING"

serve w21 tcp 80
serve w31 tcp 5432
# The servers accept before the streams start (a stream connects once; a busy machine starts
# the Python servers late).
for _ in $(seq 100); do ov_in w11 $PROBE tcp 10.210.0.21 80 1 >/dev/null 2>&1 && break; sleep 0.2; done
for _ in $(seq 100); do ov_in w21 $PROBE tcp 10.210.0.31 5432 1 >/dev/null 2>&1 && break; sleep 0.2; done
# Allowed streams client->web and web->db; a denied stream client->db (pings it may not send).
# nsenter itself in the background (not the in_ns function, a subshell): $! is the process
# that cleanup kills.
for w in "w11 $PROBE hold 10.210.0.21 80 300" "w21 $PROBE hold 10.210.0.31 5432 300" \
	"w11 ping -q -i 0.2 10.210.0.31"; do
	# shellcheck disable=SC2086
	nsenter --net=/var/run/netns/"$PFX-${w%% *}" ${w#* } >/dev/null 2>&1 &
	PIDS+=($!)
done

"$CTL" dashboard --listen "$LISTEN" "${AGENTS[@]}" 2>"$TMP/dashboard.log" &
DASH_PID=$!
PIDS+=($DASH_PID)
# Until the poller has two samples of every agent (rates need two).
for _ in $(seq 100); do
	python3 - "$URL" "$TRACING" <<'PY' && break
import json, sys, urllib.request
d = json.load(urllib.request.urlopen(sys.argv[1] + "api/state", timeout=2))
ok = all(n["health"] == "converged" and n["allowed_bytes_per_sec"] > 0 for n in d["nodes"])
ok = ok and (sys.argv[2] == "0" or (len(d["tunnels"]) == 3 and
             all(t["bytes_per_sec"] > 0 for t in d["tunnels"])))
sys.exit(0 if ok else 1)
PY
	sleep 0.2
done
kill -0 $DASH_PID 2>/dev/null || fail "dashboard exited: $(cat "$TMP/dashboard.log")"

# check_dom FILE EXPECT: the rendered DOM against EXPECT ("up" or "n2-down").
check_dom() {
	python3 - "$1" "$2" "$TRACING" <<'PY'
import re, sys
dom, expect, tracing = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3] == "1"
rows = {m.group(2): m.group(1) for m in re.finditer(r'<tr class="(node-row[^"]*)"[^>]*?data-name="([^"]+)"', dom)}
def attrs(tag):
    return dict(re.findall(r'data-([a-z]+)="([^"]*)"', tag))
nodes = {attrs(m.group(0))["name"]: attrs(m.group(0)) for m in re.finditer(r'<tr class="node-row[^>]*>', dom)}
tunnels = {(attrs(m.group(0))["a"], attrs(m.group(0))["b"]): attrs(m.group(0))
           for m in re.finditer(r'<tr class="tunnel-row[^>]*>', dom)}
svg_nodes = re.findall(r'<g id="(node-\d+)" class="node', dom)
svg_edges = re.findall(r'<g id="(tunnel-\d+-\d+)" class="edge', dom)
errors = []
if sorted(nodes) != ["node-1", "node-2", "node-3"]:
    errors.append("node rows %s" % sorted(nodes))
if len(svg_nodes) != 3:
    errors.append("graph nodes %s" % svg_nodes)
for name, n in nodes.items():
    want = "unreachable" if expect == "n2-down" and name == "node-2" else "converged"
    if n["health"] != want:
        errors.append("%s is %s, not %s" % (name, n["health"], want))
    if want == "converged" and expect == "up" and float(n["bps"]) <= 0:
        errors.append("%s has no traffic" % name)
if tracing:
    pairs = [("node-1", "node-2"), ("node-1", "node-3"), ("node-2", "node-3")]
    if sorted(tunnels) != pairs or len(svg_edges) != 3:
        errors.append("tunnels %s, graph edges %s" % (sorted(tunnels), svg_edges))
    for p, t in tunnels.items():
        want = "down" if expect == "n2-down" and "node-2" in p else None
        if want and t["health"] != want:
            errors.append("tunnel %s is %s, not down" % (p, t["health"]))
        if expect == "up" and float(t["bps"]) <= 0:
            errors.append("tunnel %s has no traffic" % (p,))
print("; ".join(errors) if errors else "nodes %s, tunnels %d" % (
    {k: (v["health"], v["bps"]) for k, v in sorted(nodes.items())}, len(tunnels)))
sys.exit(1 if errors else 0)
PY
}

log "dashboard answers"
SNAP="python3 $SRC/deploy/demo/snapshot.py"
$SNAP "${URL}#select=tunnel-0-1" "$OUT/dashboard.html" "$OUT/dashboard.png" \
	|| fail "chromium did not render the page"
out=$(check_dom "$OUT/dashboard.html" up) || fail "healthy cluster: $out"
log "rendered: $out"

stop_agent n2 || fail "agent n2 exit code"
sleep 2.2 # one refresh of the page
$SNAP "${URL}#select=node-1" "$OUT/dashboard-down.html" "$OUT/dashboard-down.png" \
	|| fail "chromium did not render the page"
out=$(check_dom "$OUT/dashboard-down.html" n2-down) || fail "after stopping node-2's agent: $out"
log "after stopping node-2's agent: $out"
log "screenshots: $OUT/dashboard.png $OUT/dashboard-down.png"
