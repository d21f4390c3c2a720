#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Hot upgrade: a new process adopts with a "different build" (IOFENCE_DP_FORCE_UPGRADE=1) and
# replaces the program in every pinned link with bpf_link_update while UDP and TCP traffic
# flows: every link now runs a new program id, and no allowed packet is lost.
. "$(dirname "$0")/lib.sh" upgrade "$@"

N=12000
PPS=4000
topology
bg_ns "$SRV" "$NET" tcp-server :: 8080
policy 1 >"$TMP/p1.yaml"
policy 2 >"$TMP/p2.yaml"
dpctl apply --node n1 -f "$TMP/p1.yaml" >/dev/null || fail "apply"
dpctl links | sort >"$TMP/links1"
nsenter --net=/var/run/netns/"$SRV" "$NET" udp-sink 10.77.2.2 9090 1500 20 >"$TMP/sink" &
sink=$!
track $sink
for _ in $(seq 100); do grep -q listening "$TMP/sink" && break; sleep 0.02; done
nsenter --net=/var/run/netns/"$CLI" "$NET" tcp-hold 10.77.2.2 8080 $((N / PPS + 1)) >"$TMP/hold" &
hold=$!
track $hold
nsenter --net=/var/run/netns/"$CLI" "$NET" udp-send 10.77.2.2 9090 $N $PPS >/dev/null &
send=$!
track $send
sleep 1
IOFENCE_DP_FORCE_UPGRADE=1 dpctl apply --node n1 -f "$TMP/p2.yaml" >"$TMP/out" ||
	fail "upgrade: $(cat "$TMP/out")"
grep -q "adopted=1" "$TMP/out" || fail "did not adopt"
dpctl links | sort >"$TMP/links2"
wait $send
wait $sink
rc=0
wait $hold || rc=$?
paste "$TMP/links1" "$TMP/links2" | awk '{ split($2, a, "="); split($5, b, "=");
	if ($1 != $4 || a[2] == b[2]) bad = 1 } END { exit bad }' ||
	fail "links not upgraded in place: $(cat "$TMP/links1" "$TMP/links2")"
got=$(sed -n 's/.*distinct=\([0-9]*\).*/\1/p' "$TMP/sink")
log "programs replaced in $(wc -l <"$TMP/links2") links; UDP received $got of $N, lost $((N - got)); TCP: $(tail -1 "$TMP/hold")"
[ "$got" = "$N" ] || fail "lost $((N - got)) datagrams during the upgrade"
[ $rc = 0 ] || fail "TCP connection stalled during the upgrade"
tcp_blocked "$CLI" 10.77.2.2 8081
exit 0
