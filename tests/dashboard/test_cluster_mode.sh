#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Cluster mode on a three-node overlay whose agents follow an etcd on the fabric:
# - `iofencectl dashboard --etcd-endpoints` finds the agents through their status keys, read
#   again every refresh: two nodes at first, the third when its agent starts later, every node
#   converged at the datastore's revision; when a node's status lease ends (its agent stopped,
#   the lease revoked) the page shows it absent, also in the DOM Chromium renders;
# - `iofencectl tunnels --etcd-endpoints URL` (and IOFENCE_ETCD_ENDPOINTS) aggregates the
#   vxlan-trace statistics of the nodes found there exactly as with one --agent per node, and
#   names the datastore when it cannot find any;
# - with etcd stopped (by its PID) the page's datastore turns unreachable while the nodes stay
#   converged (fail-static).
#   test_cluster_mode.sh IOFENCED IOFENCECTL SRC_DIR
source "$3/tests/agent/lib.sh" dashcl "$1" "$2" "$3"
command -v etcd >/dev/null && command -v etcdctl >/dev/null || skip "needs etcd (etcd-server, etcd-client)"
OV_PFX=$PFX
source "$SRC/tests/lib/overlay.sh"
EURL=http://192.168.210.254:21810
URL=http://127.0.0.1:21802/

ov_build 3 1
ip -n "$PFX-fabric" addr add 192.168.210.254/24 dev fab0
nsenter --net=/var/run/netns/"$PFX-fabric" etcd --name m --data-dir "$TMP/etcd" \
	--listen-client-urls "$EURL" --advertise-client-urls "$EURL" \
	--listen-peer-urls http://192.168.210.254:21811 >"$TMP/etcd.log" 2>&1 &
ETCD_PID=$!
PIDS+=($ETCD_PID)
fctl() { in_ns "$PFX-fabric" "$CTL" "$@"; } # iofencectl next to etcd
agent_up() { # agent_up I...: node-I's agent follows the datastore and traces its underlay
	local i
	for i in "$@"; do spawn_agent "n$i" "n$i" "node-$i" --etcd-endpoints "$EURL"; done
	for i in "$@"; do
		wait_agent "n$i"
		"$CTL" module enable vxlan-trace --interface ul0 --agent "$(agent "n$i")" >/dev/null \
			|| fail "module enable on node-$i"
	done
}
agent_up 1 2
fctl apply -f "$SRC/deploy/examples/overlay.yaml" --etcd-endpoints "$EURL" >/dev/null 2>&1 \
	|| fail "apply to the datastore"
fctl rollout status --wait --timeout 30 --etcd-endpoints "$EURL" >/dev/null || fail "rollout"
nsenter --net=/var/run/netns/"$PFX-fabric" "$CTL" dashboard --listen 127.0.0.1:21802 \
	--etcd-endpoints "$EURL" 2>"$TMP/dashboard.log" &
PIDS+=($!)

# until_state COND: polls /api/state (inside the fabric) until the Python condition holds.
until_state() {
	for _ in $(seq 60); do
		in_ns "$PFX-fabric" /usr/bin/python3 - "${URL}api/state" "$1" <<'PY' >"$TMP/state.out" 2>&1 && return 0
import json, sys, urllib.request
d = json.load(urllib.request.urlopen(sys.argv[1], timeout=2))
# (an underlay peer without a known agent shows as "unknown": not a node of the datastore)
nodes = {n["name"]: n["health"] for n in d["nodes"] if n["health"] != "unknown"}
print(nodes, d["datastore"], d["datastore_ok"], d["revision"])
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
		sleep 0.5
	done
	fail "dashboard state: $(cat "$TMP/state.out") $(cat "$TMP/dashboard.log")"
}
until_state 'sorted(nodes) == ["node-1", "node-2"] and set(nodes.values()) == {"converged"} and d["datastore_ok"] and d["revision"] > 1'
log "two agents found through the status keys: $(cat "$TMP/state.out")"
agent_up 3
until_state 'sorted(nodes) == ["node-1", "node-2", "node-3"] and set(nodes.values()) == {"converged"}'
log "a node that joined later appears: $(cat "$TMP/state.out")"

# Tunnel statistics through the datastore = through one --agent per node. ICMP between every
# pair of nodes' workloads puts traffic on every tunnel: the policy lets the client ping web;
# the pings to db are denied, but their ARP exchange and echo requests cross the tunnels both
# ways.
ov_wait_ready w11 10.210.0.21
ov_touch w11 10.210.0.31
ov_touch w21 10.210.0.31
tunnels_match() {
	IOFENCE_ETCD_ENDPOINTS=$EURL fctl tunnels --interval 0 -o json >"$TMP/t-etcd.json" \
		|| fail "tunnels with IOFENCE_ETCD_ENDPOINTS"
	fctl tunnels --interval 0 -o json --agent "$(agent n1)" --agent "$(agent n2)" \
		--agent "$(agent n3)" >"$TMP/t-agents.json" || fail "tunnels --agent"
	python3 - "$TMP/t-etcd.json" "$TMP/t-agents.json" >"$TMP/t-check" 2>&1 <<'PY'
import json, sys
e, a = (json.load(open(f)) for f in sys.argv[1:3])
def nodes(d):
    return sorted(n["node"] for n in d["nodes"] if n["enabled"])
def links(d):
    return sorted((l["src"], l["dst"], l["vni"]) for l in d["tunnels"] if l["packets"] > 0)
if nodes(e) != ["node-1", "node-2", "node-3"] or nodes(e) != nodes(a):
    sys.exit("nodes: datastore %s, agents %s" % (nodes(e), nodes(a)))
if len(links(e)) != 6 or links(e) != links(a):
    sys.exit("tunnels: datastore %s, agents %s" % (links(e), links(a)))
PY
}
for _ in $(seq 20); do tunnels_match && break; sleep 0.5; done
tunnels_match || fail "tunnels through the datastore: $(cat "$TMP/t-check")"
fctl tunnels --etcd-endpoints "$EURL" >"$TMP/t-etcd.txt" || fail "tunnels --etcd-endpoints table"
for i in 1 2 3; do grep -q "^node-$i " "$TMP/t-etcd.txt" || fail "tunnels table: $(cat "$TMP/t-etcd.txt")"; done
rc=0
fctl tunnels --etcd-endpoints "$EURL" --etcd-prefix /elsewhere 2>"$TMP/err" >/dev/null || rc=$?
[ $rc = 1 ] && grep -q "datastore $EURL: no agent has a status key" "$TMP/err" \
	|| fail "no status keys: exit $rc: $(cat "$TMP/err")"
rc=0
fctl tunnels --etcd-endpoints http://127.0.0.1:21812 --timeout 2 2>"$TMP/err" >/dev/null || rc=$?
[ $rc = 2 ] && grep -q "datastore http://127.0.0.1:21812" "$TMP/err" \
	|| fail "unreachable datastore: exit $rc: $(cat "$TMP/err")"
log "tunnels --etcd-endpoints: the three nodes' 6 tunnels, as with --agent"

# node-3's agent stops and its status lease ends: absent on the page (and in the browser).
stop_agent n3 || fail "agent node-3 exit code"
lease=$(in_ns "$PFX-fabric" etcdctl --endpoints "$EURL" get /iofence/status/node-3 -w json |
	python3 -c 'import json,sys; print("%x" % json.load(sys.stdin)["kvs"][0]["lease"])')
in_ns "$PFX-fabric" etcdctl --endpoints "$EURL" lease revoke "$lease" >/dev/null || fail "lease revoke"
until_state 'nodes.get("node-3") == "absent" and nodes["node-1"] == nodes["node-2"] == "converged"'
log "node-3's lease ended: $(cat "$TMP/state.out")"
if command -v chromium >/dev/null; then
	in_ns "$PFX-fabric" /usr/bin/python3 "$SRC/deploy/demo/snapshot.py" "$URL" "$TMP/absent.html" \
		"$TMP/absent.png" || fail "chromium did not render the page"
	grep -q 'data-name="node-3"[^>]*data-health="absent"\|data-health="absent"[^>]*data-name="node-3"' \
		"$TMP/absent.html" || fail "rendered DOM does not show node-3 absent"
	log "Chromium renders node-3 absent"
fi

kill "$ETCD_PID"
wait "$ETCD_PID" 2>/dev/null
until_state 'not d["datastore_ok"] and nodes["node-1"] == nodes["node-2"] == "converged"'
log "etcd stopped: $(cat "$TMP/state.out")"
