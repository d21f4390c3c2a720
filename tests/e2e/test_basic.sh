#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Allowed and denied real TCP, UDP and ICMP traffic, IPv4 and IPv6, through the TC hooks of
# two workloads; replies of allowed flows pass both ends; drops are counted.
. "$(dirname "$0")/lib.sh" basic "$@"

topology
for port in 8080 8081 8082; do bg_ns "$SRV" "$NET" tcp-server :: $port; done
bg_ns "$CLI" "$NET" tcp-server :: 8080
sleep 0.3
tcp_ok "$CLI" 10.77.2.2 8081 # before any policy: open
policy 1 >"$TMP/p.yaml"
dpctl apply --node n1 -f "$TMP/p.yaml" || fail "apply"

log "IPv4 TCP"
tcp_ok "$CLI" 10.77.2.2 8080
tcp_blocked "$CLI" 10.77.2.2 8081     # server default ingress deny
tcp_blocked "$CLI" 10.77.2.2 8082     # client egress deny rule (server would allow)
tcp_blocked "$SRV" 10.77.1.2 8080     # client default ingress deny
log "IPv6 TCP"
tcp_ok "$CLI" fd77:2::2 8080
tcp_blocked "$CLI" fd77:2::2 8081
log "UDP"
n=$(udp_count "$CLI" "$SRV" 10.77.2.2 9090 200)
[ "$n" = 200 ] || fail "udp 9090 v4: $n of 200"
n=$(udp_count "$CLI" "$SRV" fd77:2::2 9090 200)
[ "$n" = 200 ] || fail "udp 9090 v6: $n of 200"
n=$(udp_count "$CLI" "$SRV" 10.77.2.2 9091 50)
[ "$n" = 0 ] || fail "udp 9091: $n of 50 passed"
log "ICMP"
ping_ok "$CLI" 10.77.2.2
ping_ok "$CLI" fd77:2::2
ping_blocked "$SRV" 10.77.1.2
ping_blocked "$SRV" fd77:1::2

dpctl counters >"$TMP/c"
cat "$TMP/c"
d=$(awk '$1 == "drop_default" { print $2 }' "$TMP/c")
p=$(awk '$1 == "drop_policy" { print $2 }' "$TMP/c")
[ "${d:-0}" -gt 0 ] && [ "${p:-0}" -gt 0 ] || fail "drops not counted (default=$d policy=$p)"
if [ -n "${IOFENCE_DP_NO_TCX:-}" ]; then # the tc clsact fallback
	in_ns "$NODE" tc filter show dev hc ingress | grep -q iof_tc_from_ep || fail "no tc filter"
else
	[ "$(dpctl links | grep -c 'prog=iof_tc_')" = 4 ] || fail "expected 4 tc links: $(dpctl links)"
fi

dpctl events >"$TMP/ev"
cat "$TMP/ev"
grep -Eq "deny=[1-9]" "$TMP/ev" || fail "no deny events"
grep -Eq "allow=[1-9]" "$TMP/ev" || fail "no new-flow allow events"

log "cleanup detaches"
dpctl cleanup
[ ! -e "$PIN" ] || fail "pins left"
in_ns "$NODE" bpftool net show | grep -q "iof_" && fail "programs left attached"
[ -z "$(in_ns "$NODE" tc filter show dev hc ingress 2>/dev/null)" ] || fail "tc filters left"
tcp_ok "$CLI" 10.77.2.2 8081
exit 0
