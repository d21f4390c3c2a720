#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A 3-member etcd cluster: the leader is killed while a rollout is under way; every agent
# converges (agents connected to the dead member move to another one and resume from the
# revision after the last one they saw), and the two members left take further applies.
source "$(dirname "$0")/lib.sh" leader_kill 21430 "$@"
GEN="/usr/bin/python3 $(dirname "$0")/gen_doc.py"

backbone
cluster="m1=http://$EIP:$((CL_PORT + 6)),m2=http://$EIP:$((CL_PORT + 7)),m3=http://$EIP:$((CL_PORT + 8))"
for i in 1 2 3; do etcd_start $i "$cluster"; done
cnode a 1
cnode b 2
cnode c 3
etcd_wait
start_cagent A a node-0 --datapath none
start_cagent B b node-1 --datapath none
start_cagent C c node-2 --datapath none

leader() { # the index (1..3) of the leader member
	etcdctl_ns endpoint status -w json | /usr/bin/python3 -c '
import json, sys
for i, m in enumerate(json.load(sys.stdin)):
    if m["Status"]["leader"] == m["Status"]["header"]["member_id"]: print(i + 1)'
}
$GEN 100 10 1000 3 >"$TMP/p1.yaml"
$GEN 100 10 2000 3 >"$TMP/p2.yaml"
$GEN 100 10 3000 3 >"$TMP/p3.yaml"
cctl apply -f "$TMP/p1.yaml" >/dev/null || fail "apply 1"
rollout_wait 30
l=$(leader)
[ -n "$l" ] || fail "no leader"
# make m1 the leader: the agents are connected to m1 (the first endpoint), so its death also
# moves their watches to another member
if [ "$l" != 1 ]; then
	id1=$(etcdctl_ns endpoint status -w json | /usr/bin/python3 -c 'import json,sys; print("%x" % json.load(sys.stdin)[0]["Status"]["header"]["member_id"])')
	in_ns "$NET" etcdctl --endpoints "http://$EIP:$((CL_PORT + l))" move-leader "$id1" >/dev/null \
		|| fail "move-leader"
	for _ in $(seq 50); do l=$(leader); [ "$l" = 1 ] && break; sleep 0.1; done
	[ "$l" = 1 ] || fail "m1 did not become leader"
fi
cctl apply -f "$TMP/p2.yaml" -o json >"$TMP/a2.json" || fail "apply 2"
etcd_stop "$l" KILL
log "killed leader m$l during the rollout of revision $(json "$TMP/a2.json" 'd["revision"]')"
rollout_wait 40
cctl diff -f "$TMP/p2.yaml" >/dev/null || fail "datastore is not p2"
cctl apply -f "$TMP/p3.yaml" >/dev/null || fail "apply 3 with two members"
rollout_wait 40
grep -q "converged" "$TMP/rollout.out" || fail "rollout: $(cat "$TMP/rollout.out")"
[ "$(grep -c "3 converged" "$TMP/rollout.out")" = 1 ] || fail "not all three: $(cat "$TMP/rollout.out")"
grep -q "datastore: disconnected" "$TMP/A/log" || fail "A was not connected to the killed member"
# resumed from the revision after its last one: no whole read after the first generation's
[ "$(grep -c "read the policy at" "$TMP/A/log")" = 2 ] || fail "A read the policy whole again: $(grep datastore "$TMP/A/log")"
log "every agent converged after the leader was killed (watches resumed); new leader took revision 3"
