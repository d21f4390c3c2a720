#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Resume in a running agent: an agent that talks to one member of three loses it, changes are
# written through the two others, and the history is compacted past the agent's revision; when
# its member is back, the agent's watch from the revision after its last one is refused as
# compacted, so it reads the policy whole and converges. A second outage without compaction
# resumes the watch where it stopped (no whole read).
source "$(dirname "$0")/lib.sh" resume 21460 "$@"
GEN="/usr/bin/python3 $(dirname "$0")/gen_doc.py"

backbone
cluster="m1=http://$EIP:$((CL_PORT + 6)),m2=http://$EIP:$((CL_PORT + 7)),m3=http://$EIP:$((CL_PORT + 8))"
for i in 1 2 3; do etcd_start $i "$cluster"; done
cnode a 1
etcd_wait
# the agent knows member 1 only; iofencectl uses 2 and 3
start_agent A a node-0 --datapath none --etcd-endpoints "http://$EIP:$((CL_PORT + 1))"
others="http://$EIP:$((CL_PORT + 2)),http://$EIP:$((CL_PORT + 3))"
octl() { IOFENCE_ETCD_ENDPOINTS=$others in_ns "$NET" "$CTL" "$@"; }
reads() { grep -c "read the policy at" "$TMP/A/log"; }

$GEN 10 2 1000 1 >"$TMP/p1.yaml"
$GEN 10 2 2000 1 >"$TMP/p2.yaml"
$GEN 10 2 3000 1 >"$TMP/p3.yaml"
octl apply -f "$TMP/p1.yaml" >/dev/null || fail "apply 1"
octl rollout status --wait --timeout 20 >/dev/null || fail "rollout 1"
r0=$(reads)

# outage 1, with compaction past the agent's revision
etcd_stop 1
octl apply -f "$TMP/p2.yaml" >/dev/null || fail "apply 2"
octl apply -f "$TMP/p3.yaml" >/dev/null || fail "apply 3"
rev=$(in_ns "$NET" etcdctl --endpoints "$others" endpoint status -w json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])')
in_ns "$NET" etcdctl --endpoints "$others" compact "$rev" >/dev/null || fail "compact"
etcd_start 1 "$cluster"
octl rollout status --wait --timeout 30 >"$TMP/ro" || fail "rollout after compaction: $(cat "$TMP/ro")"
grep -q "was compacted" "$TMP/A/log" || fail "the agent did not see the compaction"
[ "$(reads)" -gt "$r0" ] || fail "no whole read after the compaction"
octl diff -f "$TMP/p3.yaml" >/dev/null || fail "datastore is not p3"
log "compacted while disconnected: read whole, converged"

# outage 2, no compaction: the watch resumes from the next revision
r1=$(reads)
etcd_stop 1
octl apply -f "$TMP/p1.yaml" >/dev/null || fail "apply 4"
etcd_start 1 "$cluster"
octl rollout status --wait --timeout 30 >"$TMP/ro" || fail "rollout after outage 2: $(cat "$TMP/ro")"
[ "$(reads)" = "$r1" ] || fail "read whole although nothing was compacted"
log "outage without compaction: watch resumed from the revision after the last one"
