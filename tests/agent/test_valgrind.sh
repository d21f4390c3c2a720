#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# valgrind memcheck on an agent session with the real datapath: apply, flow watchers (one
# cancelled, one open until shutdown), traffic, counters, status, policy reads, a stale and an
# invalid apply, SIGTERM. No memory may be lost (definitely or indirectly).
source "$(dirname "$0")/lib.sh" vg "$@"
command -v valgrind >/dev/null || skip "needs valgrind"

cli_srv 82
serve srv tcp 8080 9000
cli_srv_policy 82 1 "{direction: ingress, protocol: tcp, ports: [8080], group: client}" >"$TMP/p.yaml"
VG=$TMP/valgrind.log
AGENT_WRAP=$(valgrind_wrap "$VG") \
	start_agent a n n1 --metrics 127.0.0.1:19106
"$CTL" flows --follow --agent "$(agent a)" -o json >"$TMP/flows.json" 2>/dev/null &
PIDS+=($!)
FLOWS=$!
ctl a flows --duration 0.5 >/dev/null 2>&1
ctl a apply -f "$TMP/p.yaml" --timeout 60 >/dev/null || fail "apply"
tcp_ok cli 10.82.0.3 8080
tcp_blocked cli 10.82.0.3 9000
ctl a counters -o json >/dev/null || fail "counters"
ctl a status -o json >/dev/null || fail "status"
ctl a get policy >/dev/null || fail "get policy"
ctl a apply -f "$TMP/p.yaml" | grep -q unchanged || fail "re-apply not unchanged"
sed 's/\[8080\]/[8081]/' "$TMP/p.yaml" >"$TMP/stale.yaml"
ctl a apply -f "$TMP/stale.yaml" >/dev/null 2>&1 && fail "stale apply acknowledged"
"$CTL" apply -f "$SRC/tests/cli/bad.yaml" --agent "$(agent a)" >/dev/null 2>&1
in_ns "$PFX-n" curl -sf http://127.0.0.1:19106/metrics | grep -q '^iofence_applied_revision' \
	|| fail "metrics"
sleep 1
grep -q '"dport": 9000' "$TMP/flows.json" || fail "no flow event under valgrind"
stop_agent a TERM || fail "agent exit code under valgrind" # with the stream open
kill $FLOWS 2>/dev/null # a follower reconnects when its agent goes: it ends only so
wait $FLOWS 2>/dev/null
valgrind_verdict "$VG"
