#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Endpoints whose interface does not exist yet: enforced the moment it appears (the agent's
# netlink watcher), and also when it appeared while no agent ran (reconciled at restart).
source "$(dirname "$0")/lib.sh" link "$@"

node n
workload n cli hcli 10.84.0.2 fd84::2
cat >"$TMP/p.yaml" <<'YAML'
revision: 1
defaults: {ingress: deny, egress: allow}
securityGroups:
  - {name: client, rules: []}
  - name: server
    rules:
      - {direction: ingress, protocol: tcp, ports: [8080], group: client}
endpoints:
  - {name: cli, node: n1, interface: hcli, addresses: [10.84.0.2], groups: [client]}
  - {name: late, node: n1, interface: hlate, addresses: [10.84.0.3], groups: [server]}
  - {name: later, node: n1, interface: hlater, addresses: [10.84.0.4], groups: [server]}
YAML
start_agent a n n1
ctl a apply -f "$TMP/p.yaml" >/dev/null || fail "apply"
ctl a get endpoints -o json >"$TMP/e.json"
[ "$(json "$TMP/e.json" '[e["enforced"] for e in d["endpoints"] if e["name"]=="late"][0]')" = False ] \
	|| fail "late endpoint reported enforced before its interface exists"

workload n late hlate 10.84.0.3 fd84::3
serve late tcp 8080 9000
sleep 0.3
tcp_ok cli 10.84.0.3 8080
tcp_blocked cli 10.84.0.3 9000
grep -q "link hlate (ifindex [0-9]*) appeared" "$TMP/a/log" || fail "no link event logged"
log "interface that appeared while the agent ran: enforced"

stop_agent a TERM || fail "stop"
workload n later hlater 10.84.0.4 fd84::4
serve later tcp 8080 9000
start_agent a n n1
sleep 0.3
tcp_ok cli 10.84.0.4 8080
tcp_blocked cli 10.84.0.4 9000
tcp_blocked cli 10.84.0.3 9000
grep -q "adopted from the pinned datapath and reconciled" "$TMP/a/log" || fail "restart did not reconcile"
log "interface that appeared while no agent ran: enforced after the restart"
