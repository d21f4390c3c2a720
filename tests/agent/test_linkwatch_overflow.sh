#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Link events lost to a full netlink socket: the agent is stopped (SIGSTOP) while thousands
# of link events (alias changes of the bridge) fill its link watcher's receive buffer, then
# endpoint interfaces appear and an enforced one goes away, their events lost (ENOBUFS).
# Once the agent runs again, its resync must enforce every endpoint interface present and
# forget the one gone: each endpoint enforced, the traffic judged by the policy.
source "$(dirname "$0")/lib.sh" lwover "$@"
EVENTS=${EVENTS:-4000}
N=$PFX-n

node n
workload n cli hcli 10.86.0.2 fd86::2
workload n old hold 10.86.0.9 fd86::9
cat >"$TMP/p.yaml" <<'YAML'
revision: 1
defaults: {ingress: deny, egress: allow}
securityGroups:
  - {name: client, rules: []}
  - name: server
    rules:
      - {direction: ingress, protocol: tcp, ports: [8080], group: client}
endpoints:
  - {name: cli, node: n1, interface: hcli, addresses: [10.86.0.2], groups: [client]}
  - {name: old, node: n1, interface: hold, addresses: [10.86.0.9], groups: [server]}
  - {name: new1, node: n1, interface: hnew1, addresses: [10.86.0.11], groups: [server]}
  - {name: new2, node: n1, interface: hnew2, addresses: [10.86.0.12], groups: [server]}
  - {name: new3, node: n1, interface: hnew3, addresses: [10.86.0.13], groups: [server]}
YAML
start_agent a n n1
ctl a apply -f "$TMP/p.yaml" >/dev/null || fail "apply"
ctl a endpoint wait old --enforced --timeout 5 >/dev/null || fail "old not enforced"

pid=${AGENT_PID[a]}
kill -STOP "$pid"
for i in $(seq "$EVENTS"); do echo "link set br0 alias burst$i"; done | ip -n "$N" -batch - ||
	{ kill -CONT "$pid"; fail "link event burst"; }
for i in 1 2 3; do workload n "new$i" "hnew$i" "10.86.0.1$i" "fd86::1$i"; done
ip -n "$N" link del hold
kill -CONT "$pid"

for i in 1 2 3; do
	ctl a endpoint wait "new$i" --enforced --timeout 5 >/dev/null ||
		fail "new$i not enforced after the lost link events"
done
grep -q "link events lost (netlink receive buffer full): resynced [0-9]* interfaces of the image in [0-9.]* ms: 3 attached, 1 gone" "$TMP/a/log" ||
	fail "no resync logged"
grep "link events lost" "$TMP/a/log" | tail -1 | sed 's/^/[lwover] agent: /'
serve new2 tcp 8080 9000
sleep 0.3
tcp_ok cli 10.86.0.12 8080
tcp_blocked cli 10.86.0.12 9000
ctl a get endpoints -o json >"$TMP/e.json"
[ "$(json "$TMP/e.json" '[e["enforced"] for e in d["endpoints"] if e["name"]=="old"][0]')" = False ] ||
	fail "old reported enforced after its interface went away"
log "$EVENTS link events lost while stopped: 3 new endpoint interfaces enforced, 1 gone forgotten"
