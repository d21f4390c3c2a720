#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The dashboard in cluster mode: three overlay nodes whose agents follow an etcd on the fabric;
# `iofencectl dashboard --etcd-endpoints` finds the agents through their status keys and shows
# every node converged at the datastore's revision; with etcd stopped (by its PID) the page's
# datastore turns unreachable while the nodes stay converged (fail-static).
#   test_cluster_mode.sh IOFENCED IOFENCECTL SRC_DIR
source "$3/tests/agent/lib.sh" dashcl "$1" "$2" "$3"
command -v etcd >/dev/null || skip "needs etcd (etcd-server)"
OV_PFX=$PFX
source "$SRC/tests/lib/overlay.sh"
EURL=http://192.168.210.254:21810
URL=http://127.0.0.1:21802/api/state

ov_build 3 1
ip -n "$PFX-fabric" addr add 192.168.210.254/24 dev fab0
nsenter --net=/var/run/netns/"$PFX-fabric" etcd --name m --data-dir "$TMP/etcd" \
	--listen-client-urls "$EURL" --advertise-client-urls "$EURL" \
	--listen-peer-urls http://192.168.210.254:21811 >"$TMP/etcd.log" 2>&1 &
ETCD_PID=$!
PIDS+=($ETCD_PID)
for i in 1 2 3; do start_agent "n$i" "n$i" "node-$i" --etcd-endpoints "$EURL"; done
in_ns "$PFX-fabric" "$CTL" apply -f "$SRC/deploy/examples/overlay.yaml" --etcd-endpoints "$EURL" \
	>/dev/null 2>&1 || fail "apply to the datastore"
in_ns "$PFX-fabric" "$CTL" rollout status --wait --timeout 30 --etcd-endpoints "$EURL" \
	>/dev/null || fail "rollout"
nsenter --net=/var/run/netns/"$PFX-fabric" "$CTL" dashboard --listen 127.0.0.1:21802 \
	--etcd-endpoints "$EURL" 2>"$TMP/dashboard.log" &
PIDS+=($!)

# until STATE: polls /api/state (inside the fabric) until the Python condition holds.
until_state() {
	for _ in $(seq 60); do
		in_ns "$PFX-fabric" python3 - "$URL" "$1" <<'PY' >"$TMP/state.out" 2>&1 && return 0
import json, sys, urllib.request
d = json.load(urllib.request.urlopen(sys.argv[1], timeout=2))
nodes = {n["name"]: n["health"] for n in d["nodes"]}
print(nodes, d["datastore"], d["datastore_ok"], d["revision"])
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
		sleep 0.5
	done
	fail "dashboard state: $(cat "$TMP/state.out") $(cat "$TMP/dashboard.log")"
}
until_state 'sorted(nodes) == ["node-1", "node-2", "node-3"] and set(nodes.values()) == {"converged"} and d["datastore_ok"] and d["revision"] > 1'
log "agents found through the status keys: $(cat "$TMP/state.out")"
kill "$ETCD_PID"
wait "$ETCD_PID" 2>/dev/null
until_state 'not d["datastore_ok"] and set(nodes.values()) == {"converged"}'
log "etcd stopped: $(cat "$TMP/state.out")"
