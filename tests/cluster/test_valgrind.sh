#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# valgrind memcheck on an agent in cluster mode (real datapath) following a real etcd: the
# first snapshot, a rule change (group delta), endpoint put and delete on its own node and on
# another node (member deltas), a value that does not decode (refused, reported), a valid
# revision again, SIGTERM with the watch and the lease open. No memory may be lost (definitely
# or indirectly) and valgrind may report no error (invalid reads, uninitialised jumps).
source "$(dirname "$0")/lib.sh" vgcl 22600 "$@"
command -v valgrind >/dev/null || skip "needs valgrind"

backbone
etcd_start 1
cnode a 1
cworkload a a-cli hcli 2
cworkload a a-srv hsrv 3
serve a-srv tcp 8080 9000
etcd_wait
VG=$TMP/valgrind.log
AGENT_WRAP=$(valgrind_wrap "$VG") \
	start_cagent A a node-a

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
YAML
cctl apply -f "$TMP/p.yaml" >/dev/null || fail "apply"
rollout_wait 120
tcp_ok a-cli 10.81.0.3 8080
tcp_blocked a-cli 10.81.0.3 9000

sed 's/ports: \[8080\]/ports: [9000]/' "$TMP/p.yaml" >"$TMP/p2.yaml"
cctl apply -f "$TMP/p2.yaml" >/dev/null || fail "apply of the rule change"
rollout_wait 120
tcp_ok a-cli 10.81.0.3 9000

# endpoint put and delete: one of this node (entry and hooks) and one of another node (members)
cworkload a a-cli2 hcli2 4
printf 'name: a-cli2\nnode: node-a\ninterface: hcli2\naddresses: [10.81.0.4]\ngroups: [client]\n' \
	>"$TMP/ep.yaml"
printf 'name: b-cli\nnode: node-b\ninterface: hcli\naddresses: [10.82.0.2]\ngroups: [client]\n' \
	>"$TMP/remote.yaml"
cctl endpoint put -f "$TMP/ep.yaml" >/dev/null || fail "endpoint put"
cctl endpoint put -f "$TMP/remote.yaml" >/dev/null || fail "endpoint put (another node)"
rollout_wait 120
tcp_ok a-cli2 10.81.0.3 9000
cctl endpoint delete node-a/a-cli2 >/dev/null || fail "endpoint delete"
cctl endpoint delete node-b/b-cli >/dev/null || fail "endpoint delete (another node)"
rollout_wait 120
tcp_blocked a-cli2 10.81.0.3 9000

# a value that does not decode: the node reports it and keeps its last good revision
gen_key=$(etcdctl_ns get --prefix /iofence/gen/ --keys-only | grep '/groups/server$')
etcdctl_ns put "$gen_key" "not a protobuf message $(printf '\377\377')" >/dev/null
rc=0
cctl rollout status --wait --timeout 60 >"$TMP/bad.out" 2>&1 || rc=$?
[ $rc = 1 ] || fail "rollout with a bad value: rc $rc $(cat "$TMP/bad.out")"
cctl apply -f "$TMP/p.yaml" >/dev/null || fail "apply after the bad value"
rollout_wait 120
tcp_ok a-cli 10.81.0.3 8080
log "cluster-mode session done under valgrind; stopping the agent"

stop_agent A TERM || fail "agent exit code under valgrind"
valgrind_verdict "$VG"
