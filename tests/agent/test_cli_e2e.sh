#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# iofencectl against a real agent and real traffic: apply, probe, change the policy, revoke a
# live flow, refuse stale and invalid documents, and check that counters and flow events
# match the traffic sent.
source "$(dirname "$0")/lib.sh" cli "$@"

cli_srv 78
serve srv tcp 8080 9000
serve srv udp 5353

# policy REV PORTS: srv accepts tcp PORTS from the client group; everything else denied.
policy() {
	cat <<YAML
# written by test_cli_e2e
revision: $1
defaults: {ingress: deny, egress: allow}
securityGroups:
  - name: client
    rules: []
  - name: server
    rules:
      - {direction: ingress, protocol: tcp, ports: [$2], group: client}
      - {direction: ingress, action: deny, priority: 10, protocol: udp, ports: [5353], group: client}
endpoints:
  - {name: cli, node: n1, interface: hcli, addresses: [10.78.0.2, "fd78::2"], groups: [client]}
  - {name: srv, node: n1, interface: hsrv, addresses: [10.78.0.3, "fd78::3"], groups: [server]}
YAML
}

start_agent a1 n n1 --metrics 127.0.0.1:21101
# iofencectl itself in the background ($! its PID): a follower outlives its agent
"$CTL" flows --follow --agent "$(agent a1)" -o json >"$TMP/flows.json" 2>"$TMP/flows.err" &
PIDS+=($!)
sleep 0.3

policy 1 8080 >"$TMP/p1.yaml"
ctl a1 apply -f "$TMP/p1.yaml" -o json >"$TMP/apply1.json" || fail "apply revision 1"
[ "$(json "$TMP/apply1.json" 'd["results"][0]["revision"]')" = 1 ] || fail "ack of revision 1"
log "revision 1 applied"
tcp_ok cli 10.78.0.3 8080
tcp_ok cli fd78::3 8080
tcp_blocked cli 10.78.0.3 9000
udp_blocked cli 10.78.0.3 5353

# Counters match: one allowed flow per family on server[0], the 9000 SYN and the UDP denied.
ctl a1 counters -o json >"$TMP/c1.json" || fail "counters"
[ "$(json "$TMP/c1.json" '[r["packets"] for r in d["rules"] if r["group"]=="server" and r["index"]==0][0] > 0')" = True ] \
	|| fail "rule server[0] counted nothing: $(cat "$TMP/c1.json")"
[ "$(json "$TMP/c1.json" '[r["packets"] for r in d["rules"] if r["group"]=="server" and r["index"]==1][0] > 0')" = True ] \
	|| fail "rule server[1] (udp deny) counted nothing"
[ "$(json "$TMP/c1.json" '[e["ingress_denied"]["packets"] for e in d["endpoints"] if e["name"]=="srv"][0] >= 2')" = True ] \
	|| fail "srv ingress denials not counted"
[ "$(json "$TMP/c1.json" 'd["drops"]["default"] > 0 and d["drops"]["policy"] > 0')" = True ] \
	|| fail "drop reasons: $(json "$TMP/c1.json" 'd["drops"]')"
ctl a1 counters --endpoint srv -o json >"$TMP/c1s.json" || fail "counters --endpoint"
[ "$(json "$TMP/c1s.json" 'len(d["endpoints"])')" = 1 ] || fail "--endpoint filter"
ctl a1 counters --endpoint nosuch >/dev/null 2>&1
[ $? = 1 ] || fail "unknown endpoint should exit 1"
# Exactly 50 datagrams of one denied UDP flow: 50 more denials at srv and on rule server[1],
# 50 deny events for :5353 (a few unrelated link-local packets may add to the endpoint's).
in_ns "$PFX-cli" $PROBE burst 10.78.0.3 5353 50 || fail "burst"
sleep 0.5
ctl a1 counters -o json >"$TMP/c2.json" || fail "counters"
d_ep=$(( $(json "$TMP/c2.json" '[e["ingress_denied"]["packets"] for e in d["endpoints"] if e["name"]=="srv"][0]') - \
	$(json "$TMP/c1.json" '[e["ingress_denied"]["packets"] for e in d["endpoints"] if e["name"]=="srv"][0]') ))
d_rule=$(( $(json "$TMP/c2.json" '[r["packets"] for r in d["rules"] if r["group"]=="server" and r["index"]==1][0]') - \
	$(json "$TMP/c1.json" '[r["packets"] for r in d["rules"] if r["group"]=="server" and r["index"]==1][0]') ))
[ "$d_rule" = 50 ] || fail "rule server[1] counted $d_rule of 50 denied datagrams"
[ "$d_ep" -ge 50 ] && [ "$d_ep" -le 55 ] || fail "srv ingress denied counted $d_ep of 50 datagrams"
n_ev=$(grep -c '"verdict": "deny".*"protocol": "udp".*"dport": 5353' "$TMP/flows.json")
[ "$n_ev" -ge 50 ] || fail "$n_ev deny events for the 50 datagrams (+1 probe)"
log "counters match the traffic (50 datagrams: rule +$d_rule, endpoint +$d_ep, $n_ev events)"

# Change: 9000 allowed too.
policy 2 "8080, 9000" >"$TMP/p2.yaml"
ctl a1 apply -f "$TMP/p2.yaml" >/dev/null || fail "apply revision 2"
tcp_ok cli 10.78.0.3 9000
tcp_ok cli 10.78.0.3 8080

# Revoke on a live flow: a connection to 9000 is cut when revision 3 drops the port.
in_ns "$PFX-cli" $PROBE hold 10.78.0.3 9000 8 &
HOLD=$!
PIDS+=($HOLD)
sleep 1
policy 3 8080 >"$TMP/p3.yaml"
ctl a1 apply -f "$TMP/p3.yaml" >/dev/null || fail "apply revision 3"
rc=0
wait $HOLD || rc=$?
[ $rc = 3 ] || fail "the established 9000 connection was not cut (hold exit $rc)"
tcp_blocked cli 10.78.0.3 9000
tcp_ok cli 10.78.0.3 8080
log "revoked flow cut"

# Refusals: stale revision and invalid document exit 1; unreachable agent exits 2.
out=$(ctl a1 apply -f "$TMP/p2.yaml" 2>&1)
[ $? = 1 ] || fail "stale revision should exit 1"
echo "$out" | grep -q FAILED_PRECONDITION || fail "stale revision: $out"
out=$("$CTL" apply -f "$SRC/tests/cli/bad.yaml" --agent "$(agent a1)" 2>&1)
[ $? = 1 ] || fail "invalid policy should exit 1"
echo "$out" | grep -q 'bad.yaml:12: securityGroups\[0\].rules\[2\].group' || fail "errors not listed: $out"
"$CTL" status --agent "unix:$TMP/nonexistent.sock" >/dev/null 2>&1
[ $? = 2 ] || fail "unreachable agent should exit 2"
"$CTL" status --agent "unix:$TMP/nonexistent.sock" --agent "$(agent a1)" >/dev/null 2>&1
[ $? = 2 ] || fail "one unreachable agent of two should exit 2"

# A document over a map capacity (4097 local endpoints): RESOURCE_EXHAUSTED, exit 1, nothing
# stored, revision 3 still enforced.
/usr/bin/python3 - >"$TMP/big.yaml" <<'PY'
print("revision: 10\nsecurityGroups:\n  - {name: g, rules: []}\nendpoints:")
for i in range(4097):
    print("  - {name: e%d, node: n1, cgroup: /nonexistent/e%d, addresses: [10.%d.%d.%d], groups: [g]}"
          % (i, i, 100 + (i >> 14), (i >> 6) & 255, 1 + (i & 63)))
PY
out=$(ctl a1 apply -f "$TMP/big.yaml" --timeout 60 2>&1)
rc=$?
[ $rc = 1 ] && echo "$out" | grep -q RESOURCE_EXHAUSTED || fail "over capacity: exit $rc: $out"
ctl a1 get policy --revision 10 >/dev/null 2>&1 && fail "a refused revision was stored"
tcp_blocked cli 10.78.0.3 9000
tcp_ok cli 10.78.0.3 8080
log "over-capacity document refused, nothing stored, previous revision enforced"

# Reads: status, policy (current and kept), endpoints.
ctl a1 status -o json >"$TMP/st.json" || fail "status"
[ "$(json "$TMP/st.json" 'd["agents"][0]["revision"]')" = 3 ] || fail "status revision"
# Three applies flipped fresh slots 0 -> 1 -> 0 -> 1 (the refused one flipped nothing).
[ "$(json "$TMP/st.json" 'd["agents"][0]["active_slot"]')" = 1 ] || fail "status active_slot"
[ "$(json "$TMP/st.json" 'all(e["enforced"] for e in d["agents"][0]["endpoints"])')" = True ] \
	|| fail "endpoints not enforced"
[ "$(json "$TMP/st.json" 'len(d["agents"][0]["modules"]) == 4 and all(m["attached"] and m["prog_id"] > 0 for m in d["agents"][0]["modules"])')" = True ] \
	|| fail "modules: $(json "$TMP/st.json" 'd["agents"][0]["modules"]')"
ctl a1 get policy -o json >"$TMP/gp.json" || fail "get policy"
[ "$(json "$TMP/gp.json" 'd["revision"]')" = 3 ] || fail "get policy revision"
ctl a1 get policy --revision 1 -o yaml | grep -q '^revision: 1' || fail "get policy --revision 1"
# The applied revision comes back as written, comments included.
ctl a1 get policy -o yaml >"$TMP/gp.yaml" || fail "get policy -o yaml"
cmp -s "$TMP/gp.yaml" "$TMP/p3.yaml" || fail "get policy -o yaml is not the text applied"
ctl a1 get policy -o table | grep -q '^server' || fail "get policy -o table"
ctl a1 get endpoints -o json >"$TMP/ge.json" || fail "get endpoints"
[ "$(json "$TMP/ge.json" 'sorted(e["name"] for e in d["endpoints"])')" = "['cli', 'srv']" ] \
	|| fail "get endpoints"
ctl a1 get policy --revision 99 >/dev/null 2>&1
[ $? = 1 ] || fail "unknown revision should exit 1"

# Flow events: a deny of 10.78.0.2 -> 10.78.0.3:9000 judged by srv, and allows with rule names.
sleep 0.5
grep -q '"verdict": "deny".*"dst": "10.78.0.3".*"dport": 9000' "$TMP/flows.json" \
	|| fail "no deny event for :9000 ($(wc -l <"$TMP/flows.json") events)"
grep -q '"endpoint": "srv".*"verdict": "allow".*"dport": 8080.*"rule": "server\[0\]"' "$TMP/flows.json" \
	|| fail "no allow event for :8080 by server[0]"
grep -q '"reason": "revoked"' "$TMP/flows.json" || log "note: no revoked event reported"
ctl a1 flows --verdict deny --duration 0.3 >/dev/null || fail "flows without --follow"
log "flow events match"

# The metrics show the conntrack entries the traffic made (counted off the scrape path).
ct_seen=
for _ in $(seq 30); do
	in_ns "$PFX-n" curl -sf http://127.0.0.1:21101/metrics >"$TMP/metrics.txt" || fail "metrics"
	grep -q '^iofence_map_entries{map="iof_ct4"} [1-9]' "$TMP/metrics.txt" && { ct_seen=1; break; }
	sleep 1
done
[ -n "$ct_seen" ] || fail "metrics count no conntrack entry: $(grep iof_ct "$TMP/metrics.txt")"
grep -q '^iofence_map_entries{map="iof_endpoints"} 2$' "$TMP/metrics.txt" \
	|| fail "metrics: endpoints entries $(grep iof_endpoints "$TMP/metrics.txt")"

stop_agent a1 TERM || fail "agent exit code on SIGTERM"
# Enforcement outlives the agent.
tcp_blocked cli 10.78.0.3 9000
tcp_ok cli 10.78.0.3 8080
