#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# An enabled vxlan-trace module follows its interface, and GetStatus shows its state:
# - enabled before the underlay interface exists: `status` (table and JSON) and `module list`
#   say waiting; the interface is created: the module attaches by itself and counts;
# - the interface is deleted (waiting again) and re-created (attached again, counting on);
# - across an agent restart: deleted while the agent is down, the restarted agent adopts the
#   module and waits, and attaches when the interface is re-created. Counts go on from the
#   same pinned tables throughout.
# Two namespaces joined by a veth pair (ulx in A, uly in B), a point-to-point kernel VXLAN
# (vx0, VNI 4242, remote = the peer's underlay address) on top, UDP bursts between the vx0s.
# Usage: test_module_follow.sh IOFENCED IOFENCECTL SRC_DIR
source "$(dirname "$0")/../agent/lib.sh" modfollow "$@"

ip netns add "$PFX-a"
ip netns add "$PFX-b"
for ns in a b; do ip -n "$PFX-$ns" link set lo up; done

# underlay: (re)creates the veth pair and the VXLAN devices on it (vx0 survives ulx's deletion:
# it is bound to addresses, not to the device).
underlay() {
	ip -n "$PFX-a" link add ulx type veth peer name uly netns "$PFX-b"
	ip -n "$PFX-a" addr add 192.168.220.1/24 dev ulx
	ip -n "$PFX-b" addr add 192.168.220.2/24 dev uly
	ip -n "$PFX-a" link set ulx up
	ip -n "$PFX-b" link set uly up
	local i peer
	for ns in a b; do
		i=1 peer=2
		[ $ns = b ] && i=2 peer=1
		ip -n "$PFX-$ns" link show vx0 >/dev/null 2>&1 && continue
		ip -n "$PFX-$ns" link add vx0 type vxlan id 4242 dstport 4789 \
			local 192.168.220.$i remote 192.168.220.$peer
		ip -n "$PFX-$ns" addr add 10.220.0.$i/24 dev vx0
		ip -n "$PFX-$ns" link set vx0 up
	done
}

# state: the module's attachment state on ulx, from GetStatus (status -o json).
state() {
	ctl A status -o json >"$TMP/st.json" || fail "status"
	json "$TMP/st.json" '[a["state"] for m in d["agents"][0]["loadable_modules"] if m["name"] == "vxlan-trace" for a in m["attachments"]]'
}
# until_state WANT: the attachment state reaches WANT (["attached"] or ["waiting"]).
until_state() {
	for _ in $(seq 50); do
		[ "$(state)" = "$1" ] && return 0
		sleep 0.1
	done
	fail "module state $(state), not $1: $(cat "$TMP/st.json")"
}
# udp_pairs: packets of the inner pair 10.220.0.1 -> 10.220.0.2 udp seen leaving on ulx.
udp_pairs() {
	ctl A tunnels --interval 0 --top 100 -o json >"$TMP/t.json" || fail "tunnels"
	json "$TMP/t.json" 'sum(p["packets"] for p in d["top_inner"] if p["inner_src"] == "10.220.0.1" and p["inner_dst"] == "10.220.0.2" and p["inner_protocol"] == "udp" and p["direction"] == "egress")'
}
# counts N: a burst of N datagrams through the tunnel adds exactly N to the inner pair.
counts() {
	local before after
	for _ in $(seq 30); do # neighbours resolved over the (new) underlay
		in_ns "$PFX-a" ping -c1 -W1 10.220.0.2 >/dev/null 2>&1 && break
		sleep 0.1
	done
	before=$(udp_pairs)
	in_ns "$PFX-a" $PROBE burst 10.220.0.2 9999 "$1"
	sleep 0.2
	after=$(udp_pairs)
	[ "$after" = $((before + $1)) ] || fail "$2: inner pair $before -> $after, not +$1"
	echo "$after"
}

start_agent A a node-a
ctl A module enable vxlan-trace --interface ulx >"$TMP/en.txt" || fail "enable before ulx exists"
grep -q "ulx:waiting" "$TMP/en.txt" || fail "enable output: $(cat "$TMP/en.txt")"
[ "$(state)" = "['waiting']" ] || fail "waiting state: $(cat "$TMP/st.json")"
ctl A status >"$TMP/st.txt" || fail "status table"
grep -q "vxlan-trace .*enabled .*ulx:waiting" "$TMP/st.txt" &&
	grep -q "waiting: interface ulx does not exist" "$TMP/st.txt" || fail "status table: $(cat "$TMP/st.txt")"
log "enabled before its interface: waiting"

underlay
until_state "['attached']"
n=$(counts 40 "after ulx appeared")
ctl A status -o json >"$TMP/st.json"
got=$(json "$TMP/st.json" '[(m["state"], m["ports"], m["tunnel_capacity"], m["inner_capacity"], m["tunnel_entries"] > 0, m["inner_entries"] > 0, m["tunnel_evictions"], m["inner_evictions"]) for m in d["agents"][0]["loadable_modules"]]')
[ "$got" = "[('enabled', [4789], 4096, 16384, True, True, 0, 0)]" ] || fail "status module fields: $got"
ctl A status >"$TMP/st.txt"
grep -q "vxlan-trace .*enabled .*ulx:attached .*4789" "$TMP/st.txt" || fail "status table: $(cat "$TMP/st.txt")"
log "ulx created: attached by itself, counting ($n packets), status: $got"

ip -n "$PFX-a" link del ulx
until_state "['waiting']"
underlay
until_state "['attached']"
n=$(counts 30 "after ulx was re-created")
log "ulx deleted and re-created: waiting, then attached again ($n packets)"

stop_agent A || fail "agent exit code"
ip -n "$PFX-a" link del ulx
start_agent A a node-a
[ "$(state)" = "['waiting']" ] || fail "adopted without ulx: $(cat "$TMP/st.json")"
underlay
until_state "['attached']"
m=$(counts 20 "re-created after a restart")
[ "$m" -ge $((n + 20)) ] || fail "counts restarted across the agent restart: $n -> $m"
log "deleted while the agent was down: adopted, waiting, attached when re-created ($m packets)"

ctl A module disable vxlan-trace >/dev/null || fail "disable"
[ ! -e "/sys/fs/bpf/$PFX-A/modules" ] || fail "pins left after disable"
[ "$(state)" = "[]" ] || fail "attachments after disable: $(cat "$TMP/st.json")"
