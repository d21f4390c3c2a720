#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Two agents on one machine, one per node namespace, each with its own node name, store,
# socket and pin dir: one document pushed to both concurrently; each enforces only its own
# endpoints and uses the other node's addresses as group members.
source "$(dirname "$0")/lib.sh" two "$@"

node a
node b
workload a a-cli hcli 10.80.0.2 fd80::2
workload a a-srv hsrv 10.80.0.3 fd80::3
workload b b-cli hcli 10.81.0.2 fd81::2
workload b b-srv hsrv 10.81.0.3 fd81::3
serve a-srv tcp 8080 9000
serve b-srv tcp 8080 9000

cat >"$TMP/p.yaml" <<'YAML'
revision: 1
defaults: {ingress: deny, egress: allow}
securityGroups:
  - name: client
    rules: []
  - name: server
    rules:
      - {direction: ingress, protocol: tcp, ports: [8080], group: client}
  - name: server-b
    rules:
      - {direction: ingress, protocol: tcp, ports: [9000], group: client}
endpoints:
  - {name: a-cli, node: node-a, interface: hcli, addresses: [10.80.0.2], groups: [client]}
  - {name: a-srv, node: node-a, interface: hsrv, addresses: [10.80.0.3], groups: [server]}
  - {name: b-cli, node: node-b, interface: hcli, addresses: [10.81.0.2], groups: [client]}
  - {name: b-srv, node: node-b, interface: hsrv, addresses: [10.81.0.3], groups: [server-b]}
YAML
start_agent A a node-a
start_agent B b node-b
"$CTL" apply -f "$TMP/p.yaml" --agent "$(agent A)" --agent "$(agent B)" -o json >"$TMP/r.json" \
	|| fail "apply to both agents"
[ "$(json "$TMP/r.json" '[(r["node"], r["endpoints"]) for r in d["results"]]')" = "[('node-a', 2), ('node-b', 2)]" ] \
	|| fail "per-agent results: $(cat "$TMP/r.json")"
ctl A get endpoints -o json >"$TMP/ea.json"
ctl B get endpoints -o json >"$TMP/eb.json"
[ "$(json "$TMP/ea.json" 'sorted(e["name"] for e in d["endpoints"])')" = "['a-cli', 'a-srv']" ] \
	|| fail "agent A enforces: $(cat "$TMP/ea.json")"
[ "$(json "$TMP/eb.json" 'sorted(e["name"] for e in d["endpoints"])')" = "['b-cli', 'b-srv']" ] \
	|| fail "agent B enforces: $(cat "$TMP/eb.json")"
# Node a: server group (8080 only); node b: server-b group (9000 only).
tcp_ok a-cli 10.80.0.3 8080
tcp_blocked a-cli 10.80.0.3 9000
tcp_ok b-cli 10.81.0.3 9000
tcp_blocked b-cli 10.81.0.3 8080
log "each agent enforces its own endpoints"
[ -d "/sys/fs/bpf/$PFX-A" ] && [ -d "/sys/fs/bpf/$PFX-B" ] || fail "separate pin dirs"
# A second agent on A's socket is refused, and A keeps serving.
rc=0
in_ns "$PFX-a" "$IOFENCED" --node x --state "$TMP/x.db" --listen "$(agent A)" \
	--pin-dir "/sys/fs/bpf/$PFX-x" 2>"$TMP/x.err" || rc=$?
PINS+=("/sys/fs/bpf/$PFX-x")
[ $rc != 0 ] && grep -q "another agent" "$TMP/x.err" || fail "a second agent took A's socket"
[ ! -e "/sys/fs/bpf/$PFX-x" ] || fail "the refused agent touched the datapath"
rc=0
in_ns "$PFX-a" "$IOFENCED" --node x --state "$TMP/A/state.db" --listen "unix:$TMP/x.sock" \
	--pin-dir "/sys/fs/bpf/$PFX-x" 2>"$TMP/x.err" || rc=$?
[ $rc != 0 ] && grep -q "another agent is using this store" "$TMP/x.err" || fail "a second agent opened A's store"
ctl A status >/dev/null || fail "agent A lost its socket"
# Stopping A leaves B (and A's pinned enforcement) untouched.
stop_agent A || fail "A exit code"
tcp_blocked a-cli 10.80.0.3 9000
tcp_ok b-cli 10.81.0.3 9000
ctl B status >/dev/null || fail "agent B"
