#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `iofencectl flows` as an operator uses it: without --follow it shows what just happened (the
# agent's bounded history, --last N of it), ICMP events carry type and code instead of ports
# (table and JSON), --follow survives an agent restart (reconnects and resumes by sequence
# number, the events sent while the agent was down included), and a resume from a sequence
# number the history no longer holds says how many events were missed.
source "$(dirname "$0")/lib.sh" flows "$@"

HISTORY=64
PORT=22420 # denied UDP port of srv

cli_srv 80

cat >"$TMP/p.yaml" <<YAML
revision: 1
defaults: {ingress: deny, egress: allow}
securityGroups:
  - name: client
    rules: []
  - name: server
    rules:
      - {name: no-$PORT, direction: ingress, action: deny, protocol: udp, ports: [$PORT], group: client}
endpoints:
  - {name: cli, node: n1, interface: hcli, addresses: [10.80.0.2, "fd80::2"], groups: [client]}
  - {name: srv, node: n1, interface: hsrv, addresses: [10.80.0.3, "fd80::3"], groups: [server]}
YAML

burst() { in_ns "$PFX-cli" $PROBE burst 10.80.0.3 $PORT "$1" || fail "burst"; }
# count FILE: deny events of the burst port in a JSON-lines file (the sender's allow of the
# flow is an event too)
count() { grep '"verdict": "deny"' "$1" | grep -c "\"dport\": $PORT," || true; }

start_agent a1 n n1 --flow-history $HISTORY
ctl a1 apply -f "$TMP/p.yaml" >/dev/null || fail "apply"

# 1. What just happened, without --follow: it returns at once with the recent events.
burst 5
in_ns "$PFX-cli" ping -c 2 -i 0.2 -W 1 10.80.0.3 >/dev/null 2>&1 && fail "ping should be denied"
sleep 0.3
timeout 10 "$CTL" flows --agent "$(agent a1)" -o json >"$TMP/h1.json" || fail "flows (history)"
[ "$(count "$TMP/h1.json")" = 5 ] || fail "history: $(count "$TMP/h1.json") of 5 denied datagrams"
grep '"protocol": "icmp"' "$TMP/h1.json" | head -1 >"$TMP/icmp.json"
[ -s "$TMP/icmp.json" ] || fail "no ICMP event in the history: $(cat "$TMP/h1.json")"
grep -q '"icmp_type": 8, "icmp_code": 0' "$TMP/icmp.json" || fail "ICMP echo type/code: $(cat "$TMP/icmp.json")"
grep -q '"sport"\|"dport"' "$TMP/icmp.json" && fail "ICMP event with ports: $(cat "$TMP/icmp.json")"
ctl a1 flows --verdict deny >"$TMP/h1.txt" || fail "flows table"
grep -q "icmp .* type 8 code 0" "$TMP/h1.txt" || fail "table without ICMP type/code: $(cat "$TMP/h1.txt")"
log "history: 5 datagrams and ICMP echo type 8 code 0 shown without --follow"

# 2. Bounded: the history keeps the last $HISTORY events; --last N shows N.
burst 100
sleep 0.5
ctl a1 flows -o json >"$TMP/h2.json" || fail "flows after 100"
n=$(wc -l <"$TMP/h2.json")
[ "$n" = $HISTORY ] || fail "history holds $n events, want $HISTORY"
ctl a1 flows --last 7 -o json >"$TMP/h3.json" || fail "flows --last"
[ "$(wc -l <"$TMP/h3.json")" = 7 ] || fail "--last 7 gave $(wc -l <"$TMP/h3.json")"
[ "$(tail -1 "$TMP/h3.json")" = "$(tail -1 "$TMP/h2.json")" ] || fail "--last 7 does not end with the latest"
seq_of() { python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["seq"])'; }
seq_last=$(tail -1 "$TMP/h3.json" | seq_of)
log "bounded: $n events kept, --last 7 ends at seq $seq_last"

# 3. Resume from a sequence number the history no longer holds: the gap is reported.
first_kept=$(head -1 "$TMP/h2.json" | seq_of)
ctl a1 flows --since-seq $((first_kept - 11)) -o json >"$TMP/h4.json" 2>"$TMP/h4.err" || fail "flows --since-seq"
grep -q '10 events may have been missed' "$TMP/h4.err" || fail "gap not reported: $(cat "$TMP/h4.err")"
head -1 "$TMP/h4.json" | grep -q '"missed": 10}' || fail "first event's missed: $(head -1 "$TMP/h4.json")"

# 4. --follow through an agent restart: the datagrams sent while it was down (still judged by
# the pinned programs, their events waiting in the pinned ring) and after are all shown, in
# order of their sequence numbers, with a reconnect notice and nothing missed.
"$CTL" flows --follow --agent "$(agent a1)" -o json >"$TMP/f.json" 2>"$TMP/f.err" &
follower=$!
track $follower
sleep 0.5
burst 10
sleep 0.5
stop_agent a1 || fail "agent exit code on SIGTERM"
burst 10
start_agent a1 n n1 --flow-history $HISTORY
burst 10
for _ in $(seq 50); do [ "$(count "$TMP/f.json")" -ge 30 ] && break; sleep 0.2; done
kill $follower 2>/dev/null
[ "$(count "$TMP/f.json")" = 30 ] || fail "follow across a restart: $(count "$TMP/f.json") of 30 datagrams: $(cat "$TMP/f.err")"
grep -q "reconnecting" "$TMP/f.err" || fail "no reconnect notice: $(cat "$TMP/f.err")"
grep -q "missed" "$TMP/f.err" && fail "events reported missed: $(cat "$TMP/f.err")"
python3 - "$TMP/f.json" <<'PY' || fail "sequence numbers of the followed events are not consecutive"
import json, sys
seqs = [json.loads(l)["seq"] for l in open(sys.argv[1])]
sys.exit(0 if seqs == list(range(seqs[0], seqs[0] + len(seqs))) else 1)
PY
log "follow: 30 of 30 datagrams across a restart, consecutive sequence numbers"
