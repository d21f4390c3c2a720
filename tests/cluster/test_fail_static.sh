#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fail-static and catching up: with every etcd member stopped, traffic stays enforced and the
# metrics say disconnected; an agent restarted while etcd is down enforces its last snapshot
# from its store; an apply while an agent is stopped reaches it when it starts; a compaction
# past a stopped agent's revision makes it read the policy whole and converge.
source "$(dirname "$0")/lib.sh" fail_static 21410 "$@"

backbone
etcd_start 1
cnode a 1
cnode b 2
cworkload a a-cli hcli 2
cworkload b b-srv hsrv 3
serve b-srv tcp 8080 9000
etcd_wait
start_cagent A a node-a --metrics 127.0.0.1:21419
start_cagent B b node-b

policy() { # policy PORT
	cat <<YAML
defaults: {ingress: deny, egress: allow}
securityGroups:
  - {name: client, rules: []}
  - name: server
    rules:
      - {direction: ingress, protocol: tcp, ports: [$1], group: client}
endpoints:
  - {name: a-cli, node: node-a, interface: hcli, addresses: [10.81.0.2], groups: [client]}
  - {name: b-srv, node: node-b, interface: hsrv, addresses: [10.82.0.3], groups: [server]}
YAML
}
metric() { in_ns "$PFX-a" /usr/bin/python3 -c "
import urllib.request,sys
for l in urllib.request.urlopen('http://127.0.0.1:21419/metrics').read().decode().splitlines():
    if l.startswith(sys.argv[1] + ' '): print(l.split()[1])" "$1"; }

policy 8080 >"$TMP/p1.yaml"
cctl apply -f "$TMP/p1.yaml" >/dev/null || fail "apply 1"
rollout_wait
tcp_ok a-cli 10.82.0.3 8080
tcp_blocked a-cli 10.82.0.3 9000
[ "$(metric iofence_datastore_connected)" = 1 ] || fail "connected metric"
rev1=$(metric iofence_applied_revision'{node="node-a"}')
[ "$(metric iofence_datastore_revision)" = "$rev1" ] || fail "datastore vs applied revision"
[ "$(metric iofence_policy_implementation_delay_seconds_count)" -ge 1 ] || fail "delay histogram"

# every member down: enforcement stays, the agents say disconnected
etcd_stop 1
for _ in $(seq 50); do [ "$(metric iofence_datastore_connected)" = 0 ] && break; sleep 0.1; done
[ "$(metric iofence_datastore_connected)" = 0 ] || fail "still connected with etcd down"
tcp_ok a-cli 10.82.0.3 8080
tcp_blocked a-cli 10.82.0.3 9000
# restart B while etcd is down: it enforces its last snapshot from the store
stop_agent B || fail "B exit"
start_cagent B b node-b
[ "$(ctl B status -o json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["agents"][0]["revision"])')" = "$rev1" ] \
	|| fail "B did not restore revision $rev1"
tcp_ok a-cli 10.82.0.3 8080
tcp_blocked a-cli 10.82.0.3 9000
log "etcd down: enforcement kept, restarted agent enforces its stored revision $rev1"

# etcd back: both reconnect; B stopped, a change is applied, B converges when it starts
etcd_start 1
etcd_wait
for _ in $(seq 100); do [ "$(metric iofence_datastore_connected)" = 1 ] && break; sleep 0.1; done
[ "$(metric iofence_datastore_connected)" = 1 ] || fail "A did not reconnect"
stop_agent B || fail "B exit"
policy 9000 >"$TMP/p2.yaml"
cctl apply -f "$TMP/p2.yaml" >/dev/null || fail "apply 2"
rc=0; cctl rollout status >"$TMP/ro.out" || rc=$?
[ $rc = 2 ] || grep -q "node-b.*absent" "$TMP/ro.out" || fail "B shown converged while stopped: $(cat "$TMP/ro.out")"
tcp_ok a-cli 10.82.0.3 8080 # B still enforces p1 (pinned)
start_cagent B b node-b
rollout_wait
tcp_ok a-cli 10.82.0.3 9000
tcp_blocked a-cli 10.82.0.3 8080
log "apply while B was stopped: B converged when it started"

# compaction past B's revision while it is stopped
stop_agent B || fail "B exit"
policy 7000 >"$TMP/p3.yaml"
cctl apply -f "$TMP/p3.yaml" >/dev/null || fail "apply 3"
policy 8080 >"$TMP/p4.yaml"
cctl apply -f "$TMP/p4.yaml" >/dev/null || fail "apply 4"
rev=$(etcdctl_ns endpoint status -w json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])')
etcdctl_ns compact "$rev" >/dev/null || fail "compact"
start_cagent B b node-b
rollout_wait
tcp_ok a-cli 10.82.0.3 8080
tcp_blocked a-cli 10.82.0.3 9000
log "compaction to $rev while B was stopped: B read the policy whole and converged"

# a store whose revision came from the direct push (higher than the datastore's): the node
# says it does not follow the datastore instead of claiming to be converged
stop_agent B || fail "B exit"
start_agent B b node-b
{ echo "revision: 1000000"; policy 9000; } >"$TMP/direct.yaml"
ctl B apply -f "$TMP/direct.yaml" >/dev/null || fail "direct apply"
stop_agent B || fail "B exit"
start_cagent B b node-b
rc=0
for _ in $(seq 50); do
	rc=0; cctl rollout status >"$TMP/ro.out" 2>&1 || rc=$?
	[ $rc = 1 ] && break
	sleep 0.2
done
[ $rc = 1 ] && grep -q "node-b.*failed.*did not come from the datastore" "$TMP/ro.out" \
	|| fail "B with a direct-push revision shown as: $(cat "$TMP/ro.out")"
log "a store revision from the direct push: the node reports it does not follow the datastore"
