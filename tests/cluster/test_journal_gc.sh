#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Endpoint changes as deltas and the store's journal: endpoint puts and deletes reach the
# agent as endpoint deltas (no whole document), the agent's store keeps them as a journal that
# reads back as the datastore's document (GetPolicy) before and after a restart. Garbage
# collection: generations no head points to (a controller killed while staging) are deleted
# by the next write of the head, an in-place one or a flip to a new generation. A long journal
# is rebased (its latest revision stored whole) after an ack.
source "$(dirname "$0")/lib.sh" journal_gc 22310 "$@"
GEN="/usr/bin/python3 $(dirname "$0")/gen_doc.py"

backbone
etcd_start 1
cnode a 1
etcd_wait
start_cagent A a node-0 --datapath none
orphans() { etcdctl_ns get --prefix --keys-only /iofence/gen/00000000deadbee | grep -c . ; }
same_policy() { # the agent's document (its store) against the datastore's
	ctl A get policy -o json >"$TMP/agent.json" || fail "get policy from the agent"
	cctl get policy -o json >"$TMP/ds.json" || fail "get policy from the datastore"
	/usr/bin/python3 - "$TMP/agent.json" "$TMP/ds.json" <<'PY' || fail "$1: the agent's stored document differs from the datastore's"
import json, sys
a, d = (json.load(open(p)) for p in sys.argv[1:])
for doc in (a, d):
    doc.pop("revision", None)
    doc["endpoints"] = sorted(doc.get("endpoints", []), key=lambda e: e["name"])
sys.exit(0 if a == d else 1)
PY
}

$GEN 10 3 1000 3 >"$TMP/p1.yaml"
cctl apply -f "$TMP/p1.yaml" >/dev/null || fail "apply 1"
rollout_wait

# a controller killed while staging left a generation behind
etcdctl_ns put /iofence/gen/00000000deadbeef/defaults x >/dev/null
etcdctl_ns put /iofence/gen/00000000deadbeef/groups/g1 y >/dev/null
[ "$(orphans)" = 2 ] || fail "orphan generation not staged"
for i in 1 2 3 4 5 6; do
	cat >"$TMP/ep.yaml" <<YAML
name: extra-$i
node: node-$((i % 3))
interface: x$i
addresses: [10.99.0.$i]
groups: [g$((i % 10))]
YAML
	cctl endpoint put -f "$TMP/ep.yaml" >/dev/null || fail "endpoint put $i"
	[ "$i" = 1 ] && { [ "$(orphans)" = 0 ] || fail "an in-place write left the orphan generation"; }
done
cctl endpoint delete node-2/extra-2 >/dev/null || fail "endpoint delete"
rollout_wait
deltas=$(grep -c "applied revision [0-9]*: [0-9]* endpoints\? and 0 groups changed" "$TMP/A/log")
[ "$deltas" -ge 1 ] || fail "no endpoint delta applied"
grep -q "store commit (delta)" "$TMP/A/log" || fail "nothing stored as a delta"
same_policy "after the endpoint changes"
log "endpoint changes: $deltas delta applies, the stored journal reads back as the datastore's policy"

stop_agent A || fail "agent stop"
start_cagent A a node-0 --datapath none
rollout_wait
same_policy "after a restart"
log "restart: the journal restores the enforced revision"

# a chain of deltas larger than the document (x a factor drawn in [1, 2)): stored whole after
# an ack, and read back whole after a restart
cat >"$TMP/ep.yaml" <<YAML
name: churn
node: node-1
interface: churn
addresses: [10.99.1.1]
groups: [g1]
YAML
# (the status key must live through it: puts under a lease do not renew it, keep-alives do)
created() { etcdctl_ns get /iofence/status/node-0 -w json | /usr/bin/python3 -c \
	'import json,sys; print(json.load(sys.stdin)["kvs"][0]["create_revision"])'; }
key_created=$(created) && t0=$(date +%s)
rebased() { grep -q "store: revision [0-9]* stored whole after [0-9]* deltas" "$TMP/A/log"; }
i=0 # until a rebase (the deltas' bytes pass 1-2x the document's), for longer than the 10 s TTL
while { ! rebased || [ $(($(date +%s) - t0)) -lt 12 ]; } && [ $i -lt 400 ]; do
	i=$((i + 1)) # one revision each: a write takes longer than the batch window
	if [ $((i % 2)) = 1 ]; then cctl endpoint put -f "$TMP/ep.yaml" >/dev/null || fail "churn put $i"
	else cctl endpoint delete node-1/churn >/dev/null || fail "churn delete $i"; fi
done
rollout_wait
rebased || fail "no rebase after $i deltas"
[ "$(created)" = "$key_created" ] \
	|| fail "the status key was lost and written again during $(($(date +%s) - t0)) s of changes"
stop_agent A || fail "agent stop"
start_cagent A a node-0 --datapath none
rollout_wait
same_policy "after a rebase and a restart"
log "a long journal is stored whole after an ack and restores; the status key lived through $(($(date +%s) - t0)) s of changes"

# an orphan again, then a flip to a new generation (every group changes: > 128 operations)
etcdctl_ns put /iofence/gen/00000000deadbeef/defaults x >/dev/null
$GEN 130 1 2000 3 >"$TMP/p2.yaml"
cctl apply -f "$TMP/p2.yaml" >/dev/null || fail "apply 2"
[ "$(orphans)" = 0 ] || fail "the flip left the orphan generation"
gens=$(etcdctl_ns get --prefix --keys-only /iofence/gen/ | grep . | cut -d/ -f4 | sort -u | wc -l)
[ "$gens" = 1 ] || fail "$gens generations after the flip"
rollout_wait
same_policy "after a flip"
log "orphan generations collected by in-place writes and by flips"
