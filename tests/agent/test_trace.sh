#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# iofencectl trace against a real agent: the verdict of a flow at both ends, the deciding rule
# by name or group[index], every matching rule with why it lost, the datapath's own answer
# agreeing with the reference evaluator, the live conntrack entry of an open connection, and
# the agent of the other node answering for its own endpoint only. Rule names label counters.
source "$(dirname "$0")/lib.sh" trace "$@"

cli_srv 83
node m
serve srv tcp 8080 9000

cat >"$TMP/p.yaml" <<'YAML'
defaults: {ingress: deny, egress: allow}
securityGroups:
  - name: client
    rules: []
  - name: server
    rules:
      - {name: app, direction: ingress, protocol: tcp, ports: [8080, 9000], group: client}
      - {direction: ingress, action: deny, protocol: tcp, ports: [9000]}
      - {direction: ingress, priority: 2000, protocol: tcp, cidr: 10.83.0.0/24}
endpoints:
  - {name: cli, node: n1, interface: hcli, addresses: [10.83.0.2, "fd83::2"], groups: [client]}
  - {name: srv, node: n1, interface: hsrv, addresses: [10.83.0.3, "fd83::3"], groups: [server]}
YAML

start_agent a1 n n1
start_agent a2 m n2
ctl a1 apply -f "$TMP/p.yaml" >/dev/null || fail "apply on a1"
ctl a2 apply -f "$TMP/p.yaml" >/dev/null || fail "apply on a2"
tcp_ok cli 10.83.0.3 8080
tcp_blocked cli 10.83.0.3 9000

ctl a1 trace --from cli --to srv --proto tcp --port 8080 >"$TMP/t1" || fail "trace 8080: exit $?"
cat "$TMP/t1"
grep -q '^tcp 10.83.0.2 -> 10.83.0.3 port 8080 under revision 1 .*: allow$' "$TMP/t1" || fail "trace head"
grep -q '^  egress of cli .*: allow by default$' "$TMP/t1" || fail "egress side"
grep -q '^  ingress of srv .*: allow by server/app$' "$TMP/t1" || fail "ingress side"
grep -q '^    decides  server/app .*allow priority 1000' "$TMP/t1" || fail "deciding rule"
grep -q '^    lost     server\[2\] .*priority 2000 is above server/app.s 1000 (the lowest wins)' "$TMP/t1" \
	|| fail "losing rule"
[ "$(grep -c '^    datapath: allow by ' "$TMP/t1")" = 2 ] || fail "datapath answers"
! grep -q DISAGREE "$TMP/t1" || fail "disagreement"
log "trace 8080: allowed by server/app at srv's ingress, datapath agrees"

ctl a1 trace --from 10.83.0.2 --to srv --port 9000 -o json >"$TMP/t2.json" || fail "trace 9000"
[ "$(json "$TMP/t2.json" 'd["traces"][0]["verdict"]')" = deny ] || fail "9000 verdict: $(cat "$TMP/t2.json")"
side='d["traces"][0]["sides"][1]'
[ "$(json "$TMP/t2.json" "$side[\"decided_by\"]")" = "server[1]" ] || fail "9000 decider"
json "$TMP/t2.json" "[m[\"lost_because\"] for m in $side[\"matches\"] if not m[\"decides\"]]" >"$TMP/lost"
grep -q "^\['deny (server\[1\]) beats allow at equal priority 1000', \"priority 2000 is above server\[1\]'s 1000 (the lowest wins)\"\]$" "$TMP/lost" \
	|| fail "9000 losers: $(cat "$TMP/lost")"
[ "$(json "$TMP/t2.json" "($side[\"datapath\"][\"verdict\"], $side[\"datapath\"][\"disagree\"], $side[\"datapath\"][\"attached\"])")" \
	= "('deny', False, True)" ] || fail "9000 datapath: $(cat "$TMP/t2.json")"
log "trace 9000 (json): denied by server[1], each loser says why"

# An open connection: its conntrack entry decides its packets.
in_ns "$PFX-cli" $PROBE hold 10.83.0.3 8080 6 &
HOLD=$!
PIDS+=($HOLD)
sleep 1
ctl a1 trace --from cli --to srv --port 8080 -o json >"$TMP/t3.json" || fail "trace with a connection"
[ "$(json "$TMP/t3.json" "$side[\"datapath\"][\"conntrack_entries\"] >= 1 and $side[\"datapath\"][\"conntrack_decides\"]")" \
	= True ] || fail "conntrack of the open connection: $(cat "$TMP/t3.json")"
ctl a1 trace --from cli --to srv --port 8080 | grep -q 'conntrack: 1 live connection of this flow; the latest: established, admitted by rule server/app under revision 1' \
	|| fail "conntrack text: $(ctl a1 trace --from cli --to srv --port 8080)"
kill $HOLD 2>/dev/null
log "trace: the open connection's conntrack entry decides"

# The other node's agent judges with the same document, but its datapath holds neither end.
ctl a2 trace --from fd83::2 --to srv --port 8080 >"$TMP/t4" || fail "trace on a2"
[ "$(grep -c "datapath: not this agent's node (ask node n1's agent)" "$TMP/t4")" = 2 ] \
	|| fail "a2: $(cat "$TMP/t4")"
grep -q '^tcp fd83::2 -> fd83::3 port 8080' "$TMP/t4" || fail "a2 family"
log "trace on another node: reference answer only, IPv6 picked from the address"

rc=0
ctl a1 trace --from nosuch --to srv --port 80 2>"$TMP/err" || rc=$?
[ $rc = 1 ] && grep -q '"nosuch" is neither a host address nor an endpoint' "$TMP/err" \
	|| fail "unknown end: exit $rc $(cat "$TMP/err")"
rc=0
ctl a1 trace --from cli --to srv 2>"$TMP/err" || rc=$?
[ $rc = 1 ] && grep -q 'a port 1..65535 is required with tcp' "$TMP/err" || fail "no port: exit $rc"
ctl a1 trace --from cli --to srv --proto icmp >/dev/null || fail "icmp needs no port"

# Rule names label the counters (group[index] for unnamed rules).
ctl a1 counters -o json >"$TMP/c.json" || fail "counters"
[ "$(json "$TMP/c.json" 'sorted(r["rule"] for r in d["rules"])')" = "['server/app', 'server[1]', 'server[2]']" ] \
	|| fail "counter labels: $(cat "$TMP/c.json")"
log "counters: rules labelled server/app, server[1], server[2]"
