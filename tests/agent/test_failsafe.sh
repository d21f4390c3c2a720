#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Anti-lockout: with a deny-all XDP prefilter on the node's uplink, the agent's TCP API port
# (--listen HOST:PORT) stays reachable from the denied side without any --failsafe entry for
# it, while another TCP port of the node is dropped.
source "$(dirname "$0")/lib.sh" failsafe "$@"

node n
OUT=$PFX-out
ip netns add "$OUT"
ip -n "$PFX-n" link add up0 type veth peer name eth0 netns "$OUT"
ip -n "$PFX-n" addr add 10.88.7.1/24 dev up0
ip -n "$PFX-n" link set up0 up
ip -n "$OUT" link set lo up
ip -n "$OUT" addr add 10.88.7.2/24 dev eth0
ip -n "$OUT" link set eth0 up
serve n tcp 21202
cat >"$TMP/p.yaml" <<'YAML'
revision: 1
defaults: {ingress: deny, egress: allow}
securityGroups: []
endpoints: []
prefilter:
  - {node: node-n, interfaces: [up0], deny: [0.0.0.0/0, "::/0"]}
YAML
start_agent A n node-n --listen 10.88.7.1:21201 --insecure-tcp --xdp-generic
in_ns "$OUT" $PROBE tcp 10.88.7.1 21202 1.5 || fail "before the prefilter tcp/21202 connects"
ctl A apply -f "$TMP/p.yaml" >/dev/null || fail "apply the deny-all prefilter"
! in_ns "$OUT" $PROBE tcp 10.88.7.1 21202 0.7 || fail "deny-all prefilter lets tcp/21202 in"
ok=0
for _ in $(seq 20); do
	in_ns "$OUT" timeout 5 "$CTL" status --agent 10.88.7.1:21201 >/dev/null 2>&1 || break
	ok=$((ok + 1))
done
log "agent API over TCP with a deny-all prefilter: $ok of 20 calls answered"
[ $ok = 20 ] || fail "the agent's listen port is not failsafe ($ok of 20)"
exit 0
