#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Cluster-mode workload starts the orchestrator's way, with a denied UDP flow aimed at the
# workload's address all along and a responder in the workload that answers every datagram:
# create the veth (both ends down, the peer in the workload's namespace), `endpoint put
# --enforced` (the datastore write, then the wait for the node's agent), set the link up; stop:
# delete the link and `endpoint delete`. STARTS starts (default 20): 0 denied datagrams
# delivered; one start whose endpoint allows ingress shows that the flow does reach a
# workload that admits it. Also: `endpoint wait` by NODE/NAME and by NAME (unique, ambiguous,
# unknown); put --enforced for a node without agent times out (exit 2, "absent"); a node whose
# agent refuses the revision makes it exit 1 with the agent's reason.
# Prints: starts, datagrams sent, delivered, the wait (as the CLI measured it) p50/p99/max.
# Usage: test_endpoint_enforced.sh IOFENCED IOFENCECTL SRC [STARTS]
source "$(dirname "$0")/lib.sh" endpoint_enforced 22500 "$@"
STARTS=${4:-20}
PORT=22510 # the denied flow's UDP port
TRAFFIC="/usr/bin/python3 $SRC/tests/agent/start_traffic.py"
N=$PFX-n
W=$PFX-w
WMAC=02:00:0a:51:00:03

backbone
etcd_start 1
cnode n 1
cnode f 2
cworkload n atk hatk 2
net_ns_add "$W"
etcd_wait
# both agents load their programs at once (B is for the refused revision at the end)
spawn_agent A n node-n --etcd-endpoints "$(endpoints)"
spawn_agent B f node-f --etcd-endpoints "$(endpoints)"
wait_agent A
wait_agent B

cat >"$TMP/p.yaml" <<'YAML'
defaults: {ingress: deny, egress: allow}
securityGroups: []
endpoints:
  - {name: atk, node: node-n, interface: hatk, addresses: [10.81.0.2]}
YAML
cctl apply -f "$TMP/p.yaml" >/dev/null || fail "apply"
rollout_wait
# the attacker keeps sending to the workload's address while no link is there
in_ns "$PFX-atk" ip neigh replace 10.81.0.3 lladdr "$WMAC" dev eth0

# cctl_retry OUT ARGS...: cctl, again (up to 3 times) when etcd was UNAVAILABLE for the CLI's
# read or write (a loaded machine; an orchestrator retries such a write), counted in retries.
cctl_retry() {
	local out=$1 rc
	shift
	for _ in 1 2 3; do
		rc=0
		cctl "$@" >"$out" 2>&1 || rc=$?
		[ $rc = 2 ] && grep -q "^iofencectl endpoint [a-z]*: etcd .*UNAVAILABLE" "$out" || return $rc
		echo "$*: $(cat "$out")" >>"$TMP/retries"
		sleep 0.2
	done
	return $rc
}

# start NAME [INGRESS]: the workload's interface, its endpoint put --enforced, the link up.
start() {
	ip -n "$N" link add hw type veth peer name eth0 netns "$W" || fail "veth"
	ip -n "$W" link set eth0 address "$WMAC"
	ip -n "$W" addr add 10.81.0.3/24 dev eth0
	ip -n "$N" link set hw master br0 || fail "enslave"
	printf 'name: %s\nnode: node-n\ninterface: hw\naddresses: [10.81.0.3]\n%s' "$1" \
		"${2:+ingress: $2
}" >"$TMP/ep.yaml"
	cctl_retry "$TMP/put.out" endpoint put -f "$TMP/ep.yaml" --enforced --timeout 10 ||
		fail "endpoint put --enforced $1: $(cat "$TMP/put.out")"
	sed -n 's/.* enforced .*waited \([0-9]*\) ms.*/\1/p' "$TMP/put.out" >>"$TMP/waits"
	ip -n "$W" link set eth0 up
	ip -n "$N" link set hw up
}
stop() {
	ip -n "$N" link del hw
	# a retried delete may find its first attempt done
	cctl_retry "$TMP/del.out" endpoint delete "node-n/$1" ||
		{ [ -s "$TMP/retries" ] && grep -q "no endpoint node-n/$1" "$TMP/del.out"; } ||
		fail "endpoint delete $1: $(cat "$TMP/del.out")"
}

# traffic OUT: the responder in the workload (before any link: the harshest order, it
# answers the first datagram that arrives) and the denied flow, 2,000 pps.
traffic() {
	nsenter --net=/var/run/netns/"$W" $TRAFFIC recv "$PORT" "$1.rx" &
	RX=$!
	track $RX
	nsenter --net=/var/run/netns/"$PFX-atk" $TRAFFIC send 10.81.0.3 "$PORT" 2000 36000 "$1.tx" &
	TX=$!
	track $TX
	T0=$(date +%s.%N)
}
traffic_stop() {
	kill "$TX" "$RX"
	wait "$RX" 2>/dev/null
	wait "$TX" 2>/dev/null
	T1=$(date +%s.%N)
}

: >"$TMP/waits"
: >"$TMP/retries"
traffic "$TMP/starts"
for i in $(seq "$STARTS"); do
	start "w$i"
	sleep 0.1 # denied traffic against the running workload
	stop "w$i"
done
start wlast
sleep 0.3
traffic_stop
delivered=$(grep -c . "$TMP/starts.rx")
python3 - "$TMP/waits" "$STARTS" "$T0" "$T1" "$(cat "$TMP/starts.tx")" "$delivered" <<'PY'
import sys
w = sorted(int(l) for l in open(sys.argv[1]) if l.strip())
q = lambda p: w[min(len(w) - 1, int(p * len(w)))]
print("[endpoint_enforced] %s starts with endpoint put --enforced in %.1f s, %s denied "
      "datagrams sent, %s delivered; wait p50 %d ms, p99 %d ms, max %d ms"
      % (sys.argv[2], float(sys.argv[4]) - float(sys.argv[3]), sys.argv[5], sys.argv[6],
         q(0.5), q(0.99), w[-1]))
PY
[ -s "$TMP/retries" ] && log "etcd UNAVAILABLE to the CLI, retried: $(cat "$TMP/retries")"
[ "$delivered" = 0 ] || fail "$delivered denied datagrams delivered"

# endpoint wait on the running workload: NODE/NAME, NAME, unknown, ambiguous
cctl endpoint wait node-n/wlast --enforced --timeout 5 >/dev/null || fail "wait node-n/wlast"
cctl endpoint wait wlast --enforced --timeout 5 >/dev/null || fail "wait wlast"
rc=0; cctl endpoint wait nosuch --enforced --timeout 1 2>"$TMP/err" || rc=$?
[ $rc = 1 ] && grep -q "no endpoint nosuch" "$TMP/err" || fail "wait nosuch: rc $rc $(cat "$TMP/err")"
# Names are unique across the document (the CLI validates it), but a key written behind its
# back can repeat one on another node: NAME alone is then ambiguous.
key=$(etcdctl_ns get --prefix /iofence/gen/ --keys-only | grep '/endpoints/node-n/wlast$')
etcdctl_ns get "$key" -w json | python3 -c '
import base64, json, sys
sys.stdout.buffer.write(base64.b64decode(json.load(sys.stdin)["kvs"][0]["value"]))' >"$TMP/val"
etcdctl_ns put "${key/node-n/node-gone}" <"$TMP/val" >/dev/null || fail "etcdctl put"
rc=0; cctl endpoint wait wlast --enforced --timeout 1 2>"$TMP/err" || rc=$?
[ $rc = 1 ] && grep -q "is on 2 nodes (node-gone, node-n)" "$TMP/err" ||
	fail "wait ambiguous: rc $rc $(cat "$TMP/err")"
etcdctl_ns del "${key/node-n/node-gone}" >/dev/null || fail "etcdctl del"
log "endpoint wait: by NODE/NAME and unique NAME 0; unknown and ambiguous NAME 1"

# a node without agent (no status key): timeout, exit 2, saying so
printf 'name: ghost\nnode: node-gone\ninterface: hg\naddresses: [10.81.0.8]\n' >"$TMP/ghost.yaml"
rc=0; cctl endpoint put -f "$TMP/ghost.yaml" --enforced --timeout 1 >/dev/null 2>"$TMP/err" || rc=$?
[ $rc = 2 ] && grep -q "node-gone/ghost not enforced after 1 s: node node-gone is absent" "$TMP/err" ||
	fail "put --enforced for an absent node: rc $rc $(cat "$TMP/err")"
rc=0; cctl endpoint wait node-gone/ghost --enforced --timeout 1 2>"$TMP/err" || rc=$?
[ $rc = 2 ] && grep -q "node node-gone is absent: no status key" "$TMP/err" ||
	fail "wait for an absent node: rc $rc $(cat "$TMP/err")"
log "absent node: put --enforced and wait time out with exit 2"

# positive control: the same flow reaches a workload whose endpoint admits it
stop wlast
traffic "$TMP/allowed"
start wopen allow
sleep 0.5
traffic_stop
[ "$(grep -c . "$TMP/allowed.rx")" -gt 0 ] || fail "the flow does not reach an admitting workload"
log "control: $(grep -c . "$TMP/allowed.rx") datagrams delivered to a workload that allows them"

# a revision the node's agent refuses (its datapath cannot attach to a "cgroup" that is a plain
# directory): put --enforced reports the refusal with the agent's reason, exit 1
mkdir "$TMP/notcg"
printf 'name: fw\nnode: node-f\ncgroup: %s\naddresses: [10.82.0.5]\n' "$TMP/notcg" >"$TMP/fw.yaml"
rc=0; cctl endpoint put -f "$TMP/fw.yaml" --enforced --timeout 20 >/dev/null 2>"$TMP/err" || rc=$?
[ $rc = 1 ] && grep -Eq "node node-f refused revision [0-9]*: .*endpoint fw: .*(connect4|not a cgroup v2 folder)" "$TMP/err" ||
	fail "put --enforced on a refusing node: rc $rc $(cat "$TMP/err")"
log "refused revision: $(cat "$TMP/err")"
exit 0
