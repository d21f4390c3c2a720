#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Cluster mode end to end: one etcd, two node namespaces each with its own agent (real
# datapath) following it, workloads on both, cross-node group rules. After apply + rollout
# status --wait, real traffic between the nodes is allowed or denied as the policy says; then
# a rule change (applied by each agent as a group delta), an endpoint put and delete (one small
# write each), the guarded direct Apply,
# unchanged re-apply, diff exit codes, get policy --revision, and a bad value written behind
# the CLI's back (reported, last good revision kept).
source "$(dirname "$0")/lib.sh" two_nodes 21400 "$@"

backbone
etcd_start 1
cnode a 1
cnode b 2
cworkload a a-cli hcli 2
cworkload a a-srv hsrv 3
cworkload b b-cli hcli 2
cworkload b b-srv hsrv 3
serve a-srv tcp 8080 9000
serve b-srv tcp 8080 9000
etcd_wait
start_cagent A a node-a
start_cagent B b node-b

cat >"$TMP/p.yaml" <<'YAML'
defaults: {ingress: deny, egress: allow}
securityGroups:
  - name: client
    rules: []
  - name: server
    rules:
      - {direction: ingress, protocol: tcp, ports: [8080], group: client}
endpoints:
  - {name: a-cli, node: node-a, interface: hcli, addresses: [10.81.0.2], groups: [client]}
  - {name: a-srv, node: node-a, interface: hsrv, addresses: [10.81.0.3], groups: [server]}
  - {name: b-cli, node: node-b, interface: hcli, addresses: [10.82.0.2], groups: [client]}
  - {name: b-srv, node: node-b, interface: hsrv, addresses: [10.82.0.3], groups: [server]}
YAML
cctl diff -f "$TMP/p.yaml" >"$TMP/diff.out"; rc=$?
[ $rc = 1 ] && grep -qE "^\+ group +server" "$TMP/diff.out" || fail "diff before apply: rc $rc $(cat "$TMP/diff.out")"
cctl apply -f "$TMP/p.yaml" >"$TMP/apply.out" || fail "apply: $(cat "$TMP/apply.out")"
rev1=$(sed -n 's/^revision \([0-9]*\) written.*/\1/p' "$TMP/apply.out")
[ -n "$rev1" ] || fail "apply output: $(cat "$TMP/apply.out")"
rollout_wait
grep -q "2 converged" "$TMP/rollout.out" || fail "rollout: $(cat "$TMP/rollout.out")"
# cross-node: a client on either node reaches a server on the other on 8080 only
tcp_ok a-cli 10.82.0.3 8080
tcp_ok b-cli 10.81.0.3 8080
tcp_blocked a-cli 10.82.0.3 9000
tcp_blocked b-srv 10.81.0.3 8080 # b-srv is not a client
log "cross-node group rules enforced after rollout (revision $rev1)"

[ "$(cctl apply -f "$TMP/p.yaml")" = unchanged ] || fail "re-apply is not unchanged"
cctl diff -f "$TMP/p.yaml" >/dev/null || fail "diff of the applied document should exit 0"
rc=0
"$CTL" apply -f "$TMP/p.yaml" --agent "$(agent A)" 2>"$TMP/direct.err" >/dev/null || rc=$?
[ $rc = 1 ] && grep -q "this node follows the datastore at" "$TMP/direct.err" \
	|| fail "direct Apply in cluster mode: rc $rc $(cat "$TMP/direct.err")"

# a rule change: 9000 instead of 8080
sed 's/ports: \[8080\]/ports: [9000]/' "$TMP/p.yaml" >"$TMP/p2.yaml"
cctl apply -f "$TMP/p2.yaml" -o json >"$TMP/apply2.json" || fail "apply 2"
[ "$(json "$TMP/apply2.json" 'd["puts"], d["deletes"], d["transactions"]')" = "1 0 1" ] \
	|| fail "only the changed group is written: $(cat "$TMP/apply2.json")"
rollout_wait
tcp_ok a-cli 10.82.0.3 9000
tcp_blocked a-cli 10.82.0.3 8080
tcp_ok b-cli 10.81.0.3 9000
tcp_blocked b-cli 10.81.0.3 8080
for a in A B; do
	grep -q "applied revision [0-9]*: 0 endpoints and 1 group changed," "$TMP/$a/log" \
		|| fail "agent $a did not apply the rule change as a group delta"
done
log "rule change: one object written, applied as a group delta, enforced on both nodes"
cctl get policy --revision "$rev1" -o json >"$TMP/old.json" || fail "get policy --revision"
[ "$(json "$TMP/old.json" 'd["securityGroups"][1]["rules"][0]["ports"]')" = "[8080]" ] \
	|| fail "revision $rev1: $(cat "$TMP/old.json")"

# endpoint put: b-cli2 on node b joins the clients; endpoint delete takes a-cli out
cworkload b b-cli2 hcli2 4
cat >"$TMP/ep.yaml" <<'YAML'
name: b-cli2
node: node-b
interface: hcli2
addresses: [10.82.0.4]
groups: [client]
YAML
tcp_blocked b-cli2 10.81.0.3 9000
cctl endpoint put -f "$TMP/ep.yaml" -o json >"$TMP/ep.json" || fail "endpoint put"
[ "$(json "$TMP/ep.json" 'd["puts"], d["deletes"]')" = "1 0" ] || fail "endpoint put: $(cat "$TMP/ep.json")"
rollout_wait
tcp_ok b-cli2 10.81.0.3 9000
cctl endpoint delete node-a/a-cli >/dev/null || fail "endpoint delete"
rollout_wait
tcp_blocked a-cli 10.82.0.3 9000 # no longer a client: b-srv refuses it
rc=0; cctl endpoint delete node-a/a-cli 2>/dev/null || rc=$?
[ $rc = 1 ] || fail "deleting a missing endpoint: rc $rc"
log "endpoint put/delete enforced across nodes"

# garbage written behind the CLI's back: reported, the last good revision keeps enforcing
gen_key=$(etcdctl_ns get --prefix /iofence/gen/ --keys-only | grep '/groups/server$')
etcdctl_ns put "$gen_key" "not a protobuf message $(printf '\377\377')" >/dev/null
rc=0; cctl rollout status --wait --timeout 20 -o json >"$TMP/bad.json" || rc=$?
[ $rc = 1 ] || fail "rollout with a bad value: rc $rc $(cat "$TMP/bad.json")"
json "$TMP/bad.json" '[n["error"] for n in d["nodes"]]' | grep -q "does not decode" \
	|| fail "node status: $(cat "$TMP/bad.json")"
tcp_ok b-cli2 10.81.0.3 9000
kill -0 "${AGENT_PID[A]}" && kill -0 "${AGENT_PID[B]}" || fail "an agent died on a bad value"
# a valid document again heals it
cctl apply -f "$TMP/p2.yaml" >/dev/null || fail "apply after the bad value"
rollout_wait
tcp_ok b-cli 10.81.0.3 9000
log "bad value reported, enforcement kept, healed by the next apply"
