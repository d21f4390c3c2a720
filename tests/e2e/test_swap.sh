#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Atomic swap under continuous traffic: while a sender streams N sequence-numbered UDP
# datagrams (and a TCP connection echoes every 20 ms), 50 alternating revisions that all allow
# them are applied. Not one allowed datagram may be lost and the connection must never stall.
. "$(dirname "$0")/lib.sh" swap "$@"

N=${SWAP_PACKETS:-24000}
PPS=4000
topology
bg_ns "$SRV" "$NET" tcp-server :: 8080
policy 1 "8080, 8082" >"$TMP/a.yaml"
policy 1 "8080, 8081, 8082" >"$TMP/b.yaml" # differs: more entries, other ranks
dpctl apply --node n1 -f "$TMP/a.yaml" >/dev/null || fail "apply"
nsenter --net=/var/run/netns/"$SRV" "$NET" udp-sink 10.77.2.2 9090 1500 30 >"$TMP/sink" &
sink=$!
track $sink
for _ in $(seq 100); do grep -q listening "$TMP/sink" && break; sleep 0.02; done
nsenter --net=/var/run/netns/"$CLI" "$NET" tcp-hold 10.77.2.2 8080 $((N / PPS + 1)) >"$TMP/hold" &
hold=$!
track $hold
nsenter --net=/var/run/netns/"$CLI" "$NET" udp-send 10.77.2.2 9090 "$N" $PPS >"$TMP/sent" &
send=$!
track $send
sleep 0.5
t0=$(date +%s.%N)
dpctl apply --node n1 -f "$TMP/b.yaml" -f "$TMP/a.yaml" --repeat 25 --revision-start 2 \
	>"$TMP/apply" || fail "apply loop: $(cat "$TMP/apply")"
t1=$(date +%s.%N)
grep -q "applied revision=51" "$TMP/apply" || fail "not 50 revisions: $(cat "$TMP/apply")"
wait $send
wait $sink
rc=0
wait $hold || rc=$?
got=$(sed -n 's/.*distinct=\([0-9]*\).*/\1/p' "$TMP/sink")
log "50 revisions in $(echo "$t1 - $t0" | bc) s during the stream; UDP received $got of $N, lost $((N - got)); TCP: $(cat "$TMP/hold" | tail -1)"
[ "$got" = "$N" ] || fail "lost $((N - got)) of $N allowed datagrams"
[ $rc = 0 ] || fail "TCP connection stalled during the swaps"
exit 0
