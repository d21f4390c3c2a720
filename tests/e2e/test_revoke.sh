#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Revoked while open: a long-lived TCP connection admitted by revision 1 is cut by the first
# packet after revision 2 no longer allows it; a connection still allowed keeps flowing.
. "$(dirname "$0")/lib.sh" revoke "$@"

topology
bg_ns "$SRV" "$NET" tcp-server :: 8080
bg_ns "$SRV" "$NET" tcp-server :: 8083
policy 1 "8080, 8083" >"$TMP/p1.yaml"
policy 2 "8083" >"$TMP/p2.yaml"
dpctl apply --node n1 -f "$TMP/p1.yaml" >/dev/null || fail "apply 1"
dpctl events >/dev/null # drain
sleep 0.2
nsenter --net=/var/run/netns/"$CLI" "$NET" tcp-hold 10.77.2.2 8080 8 >"$TMP/h8080" &
h1=$!
track $h1
nsenter --net=/var/run/netns/"$CLI" "$NET" tcp-hold fd77:2::2 8083 4 >"$TMP/h8083" &
h2=$!
track $h2
sleep 1
grep -q connected "$TMP/h8080" || fail "8080 did not connect under revision 1"
dpctl apply --node n1 -f "$TMP/p2.yaml" >/dev/null || fail "apply 2"
t0=$(date +%s.%N)
rc=0
wait $h1 || rc=$?
t1=$(date +%s.%N)
cat "$TMP/h8080"
if [ $rc != 3 ]; then
	dpctl events --list | grep -v ":8083" | head -20
	fail "revoked connection not cut (exit $rc)"
fi
log "cut after $(echo "$t1 - $t0" | bc) s"
rc=0
wait $h2 || rc=$?
cat "$TMP/h8083"
[ $rc = 0 ] || fail "allowed connection was cut (exit $rc)"
tcp_blocked "$CLI" 10.77.2.2 8080
r=$(counter drop_revoked)
[ "${r:-0}" -gt 0 ] || fail "drop_revoked not counted"
log "drop_revoked=$r"
exit 0
