#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Against etcd's default limits (128 operations per transaction, 1.5 MiB per request): a
# 10k-rule document of 10k objects is written in many transactions yet reaches the agents as
# ONE revision (a new generation flipped by one guarded transaction, the old one deleted with
# it); the same rules as one 10k-rule group (stored in parts); two controllers applying at once:
# exactly one wins, the other exits 1 and nothing of it is left.
source "$(dirname "$0")/lib.sh" scale 21420 "$@"
GEN="/usr/bin/python3 $(dirname "$0")/gen_doc.py"

backbone
etcd_start 1
cnode a 1
cnode b 2
etcd_wait
# policy-only agents (--datapath none): this test is about the datastore and the rollout
start_cagent A a node-0 --datapath none
start_cagent B b node-1 --datapath none

etcd_rev() { etcdctl_ns endpoint status -w json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])'; }
applied_count() { grep -c "applied revision" "$TMP/$1/log"; }
gen_keys() { etcdctl_ns get --prefix /iofence/gen/ --keys-only | grep -c .; }

$GEN 10000 1 1000 >"$TMP/big1.yaml"
$GEN 10000 1 2000 >"$TMP/big2.yaml"
before=$(etcd_rev)
cctl apply -f "$TMP/big1.yaml" -o json >"$TMP/a1.json" || fail "apply 10k: $(cat "$TMP/a1.json")"
rev1=$(json "$TMP/a1.json" 'd["revision"]')
[ "$(json "$TMP/a1.json" 'd["puts"]')" = 10005 ] || fail "objects: $(cat "$TMP/a1.json")"
[ $((rev1 - before)) -gt 50 ] || fail "expected many transactions: $before -> $rev1"
rollout_wait 60
[ "$(applied_count A)" = 1 ] && [ "$(applied_count B)" = 1 ] || fail "not one revision: $(grep 'applied revision' "$TMP"/?/log)"
grep -q "applied revision $rev1:" "$TMP/A/log" || fail "A applied another revision than $rev1"
log "10005 objects in $(json "$TMP/a1.json" 'd["transactions"]') transactions, agents applied revision $rev1 only"

# all 10k objects change: a second generation; the first one is gone with the flip
cctl apply -f "$TMP/big2.yaml" -o json >"$TMP/a2.json" || fail "apply 10k (2)"
rev2=$(json "$TMP/a2.json" 'd["revision"]')
rollout_wait 60
[ "$(applied_count A)" = 2 ] && grep -q "applied revision $rev2:" "$TMP/B/log" || fail "second 10k apply not one revision"
[ "$(gen_keys)" = 10005 ] || fail "old generation left: $(gen_keys) keys"
cctl get policy -o json >"$TMP/g.json" || fail "get policy"
[ "$(json "$TMP/g.json" 'len(d["securityGroups"]), d["securityGroups"][5]["rules"][0]["ports"]')" = "10000 [2000]" ] \
	|| fail "get policy after the 10k change"

# one group of 10k rules: stored in parts, joined again
$GEN 1 10000 3000 >"$TMP/one.yaml"
cctl apply -f "$TMP/one.yaml" >/dev/null || fail "apply one 10k-rule group"
rollout_wait 60
cctl get policy -o json >"$TMP/g1.json" || fail "get policy (parts)"
[ "$(json "$TMP/g1.json" 'len(d["securityGroups"][0]["rules"])')" = 10000 ] || fail "group parts not joined"
[ "$(etcdctl_ns get --prefix /iofence/gen/ --keys-only | grep -c '/groups/g0#')" -ge 1 ] || fail "no parts"
log "a 10k-rule group is stored in parts and read back whole"

# two controllers at once, both reading the same revision: exactly one wins
$GEN 20 1 4000 >"$TMP/c1.yaml"
$GEN 20 1 5000 >"$TMP/c2.yaml"
IOFENCE_TEST_WRITE_DELAY_MS=700 cctl apply -f "$TMP/c1.yaml" >"$TMP/c1.out" 2>&1 &
p1=$!
IOFENCE_TEST_WRITE_DELAY_MS=700 cctl apply -f "$TMP/big1.yaml" >"$TMP/c2.out" 2>&1 &
p2=$!
rc1=0; wait $p1 || rc1=$?
rc2=0; wait $p2 || rc2=$?
[ "$((rc1 + rc2))" = 1 ] || fail "concurrent applies: rc $rc1 and $rc2: $(cat "$TMP"/c?.out)"
grep -q "changed since read, nothing written" "$TMP/c$([ $rc1 = 1 ] && echo 1 || echo 2).out" \
	|| fail "loser's message: $(cat "$TMP"/c?.out)"
winner=$([ $rc1 = 0 ] && echo c1 || echo big1)
rollout_wait 60
cctl diff -f "$TMP/$winner.yaml" >/dev/null || fail "the datastore is not the winner's document"
keys=$(gen_keys)
[ "$keys" = "$([ $winner = c1 ] && echo 25 || echo 10005)" ] || fail "staged keys left: $keys"
log "concurrent applies: $winner won, the other exited 1, nothing mixed or left behind"
