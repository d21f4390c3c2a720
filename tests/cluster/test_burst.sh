#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Churn: a burst of endpoint writes (200 revisions in one second, bench_cluster's churn writer)
# is applied by each agent in a few batched applies (the batch window grows under churn:
# agent/etcd/batch_window.h), each agent ends at the last revision, and nothing is missed: the
# agent's enforced document (its store) is the datastore's, and the real datapath's active
# slot holds that document's image (the guard's verify finds nothing to repair).
source "$(dirname "$0")/lib.sh" burst 22320 "$@"
GEN="/usr/bin/python3 $(dirname "$0")/gen_doc.py"
BENCH=$(dirname "$CTL")/../../bench/cluster/bench_cluster
[ -x "$BENCH" ] || skip "needs bench_cluster (bench/cluster) in the build tree"
BURST=200

backbone
etcd_start 1
cnode a 1
cnode b 2
etcd_wait
start_cagent A a node-0
start_cagent B b node-1 --datapath none
$GEN 10 3 1000 2 >"$TMP/p.yaml"
cctl apply -f "$TMP/p.yaml" >/dev/null || fail "apply"
rollout_wait
applies() { grep -c "applied revision" "$TMP/$1/log"; }
a0=$(applies A) b0=$(applies B)

# the burst: endpoints of both nodes put and deleted, each write its own revision; the bench
# waits until both agents report the last one
in_ns "$NET" "$BENCH" "$(endpoints)" 2 churn "$BURST" 1 >"$TMP/burst.out" 2>&1 \
	|| fail "burst: $(cat "$TMP/burst.out")"
grep -q "lagged=$BURST/$BURST" "$TMP/burst.out" || fail "not every write enforced: $(cat "$TMP/burst.out")"
rollout_wait
na=$(($(applies A) - a0)) nb=$(($(applies B) - b0))
log "$BURST revisions applied in $na applies (A, real datapath) and $nb (B)"
[ "$na" -ge 1 ] && [ "$na" -le $((BURST / 5)) ] && [ "$nb" -le $((BURST / 5)) ] \
	|| fail "the burst was not batched: $na and $nb applies for $BURST revisions"

# the last revision, and the whole policy of the datastore
head=$(etcdctl_ns get /iofence/head -w json | /usr/bin/python3 -c \
	'import json,sys; print(json.load(sys.stdin)["kvs"][0]["mod_revision"])')
for a in A B; do
	rev=$(ctl $a status -o json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["agents"][0]["revision"])')
	[ "$rev" = "$head" ] || fail "agent $a enforces revision $rev, the datastore's is $head"
	ctl $a get policy -o json >"$TMP/agent.json" || fail "get policy from $a"
	cctl get policy -o json >"$TMP/ds.json" || fail "get policy from the datastore"
	/usr/bin/python3 - "$TMP/agent.json" "$TMP/ds.json" <<'PY' || fail "agent $a: its enforced document differs from the datastore's"
import json, sys
a, d = (json.load(open(p)) for p in sys.argv[1:])
for doc in (a, d):
    doc.pop("revision", None)
    doc["endpoints"] = sorted(doc.get("endpoints", []), key=lambda e: e["name"])
sys.exit(0 if a == d else 1)
PY
done
# the guard verifies the active slot against the enforced image at least every 4 s
mark=$(grep -c "guard: checked" "$TMP/A/log")
for _ in $(seq 100); do
	[ "$(grep -c "guard: checked" "$TMP/A/log")" -gt $((mark + 4)) ] && break
	sleep 0.1
done
[ "$(grep -c "guard: checked" "$TMP/A/log")" -gt $((mark + 4)) ] || fail "the guard did not run"
! grep -q "tamper:" "$TMP/A/log" || fail "the delta writes left the maps apart from the image: $(grep tamper: "$TMP/A/log" | head -3)"
log "both agents at revision $head with the datastore's document; the maps verified"
