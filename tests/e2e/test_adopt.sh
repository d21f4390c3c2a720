#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Adopt: the process that applied is SIGKILLed; enforcement stays (denied stays denied,
# allowed keeps flowing); a new process adopts the pins (same links, same active revision)
# and applies a new revision.
. "$(dirname "$0")/lib.sh" adopt "$@"

topology
for port in 8080 8081; do bg_ns "$SRV" "$NET" tcp-server :: $port; done
policy 1 "8080" >"$TMP/p1.yaml"
policy 2 "8080, 8081" >"$TMP/p2.yaml"
dpctl_bg "$TMP/hold" --node n1 -f "$TMP/p1.yaml"
holder=$HOLDER
dpctl links | sort >"$TMP/links1"
nsenter --net=/var/run/netns/"$CLI" "$NET" tcp-hold 10.77.2.2 8080 4 >"$TMP/flow" &
flow=$!
track $flow
sleep 0.5
kill -9 $holder
wait $holder 2>/dev/null
kill -0 $holder 2>/dev/null && fail "applier still alive"
log "applier SIGKILLed"
tcp_ok "$CLI" 10.77.2.2 8080
tcp_blocked "$CLI" 10.77.2.2 8081
n=$(udp_count "$CLI" "$SRV" 10.77.2.2 9090 100)
[ "$n" = 100 ] || fail "udp after the kill: $n of 100"
dpctl apply --node n1 -f "$TMP/p2.yaml" >"$TMP/out2" || fail "adopting apply"
cat "$TMP/out2"
grep -q "adopted=1 revision=1" "$TMP/out2" || fail "did not adopt revision 1"
grep -q "applied revision=2" "$TMP/out2" || fail "revision 2 not applied"
dpctl links | sort >"$TMP/links2"
diff "$TMP/links1" "$TMP/links2" || fail "links changed on adopt (same build)"
tcp_ok "$CLI" 10.77.2.2 8081
rc=0
wait $flow || rc=$?
[ $rc = 0 ] || fail "long-lived allowed flow cut across kill and adopt: $(cat "$TMP/flow")"
log "flow across kill and adopt: $(cat "$TMP/flow" | tail -1)"
exit 0
