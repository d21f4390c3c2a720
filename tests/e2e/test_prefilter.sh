#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# XDP prefilter on an uplink: traffic from a denied prefix is dropped before the stack and
# counted (drop_prefilter); other sources pass; the failsafe port passes even from the denied
# prefix. Native XDP first (the default), then generic (--xdp-generic).
. "$(dirname "$0")/lib.sh" prefilter "$@"

topology
ip netns add "$OUT"
ip -n "$NODE" link add up0 type veth peer name eth0 netns "$OUT"
ip -n "$NODE" addr add 10.77.100.1/24 dev up0
ip -n "$NODE" link set up0 up
ip -n "$OUT" link set lo up
ip -n "$OUT" addr add 10.77.100.2/24 dev eth0
ip -n "$OUT" addr add 10.77.200.2/32 dev eth0
ip -n "$OUT" link set eth0 up
ip -n "$OUT" route add default via 10.77.100.1
ip -n "$NODE" route add 10.77.200.0/24 via 10.77.100.2
bg_ns "$NODE" "$NET" tcp-server 0.0.0.0 2222
bg_ns "$NODE" "$NET" tcp-server 0.0.0.0 2223
policy 1 >"$TMP/p.yaml"
cat >>"$TMP/p.yaml" <<YAML
prefilter:
  - node: n1
    interfaces: [up0]
    deny: [10.77.200.0/24, "2001:db8:bad::/48"]
YAML
sleep 0.2
in_ns "$OUT" "$NET" tcp-connect 10.77.100.1 2223 1000 10.77.200.2 >/dev/null ||
	fail "before the prefilter the denied source connects"
for mode in "" --xdp-generic; do
	dpctl apply --node n1 -f "$TMP/p.yaml" $mode >/dev/null || fail "apply"
	dpctl links | grep -q "xdp/up0 .*prog=iof_xdp_prefilt" || fail "no xdp link: $(dpctl links)"
	before=$(counter drop_prefilter)
	in_ns "$OUT" "$NET" tcp-connect 10.77.100.1 2223 1000 10.77.100.2 >/dev/null ||
		fail "allowed source blocked"
	rc=0
	in_ns "$OUT" "$NET" tcp-connect 10.77.100.1 2223 700 10.77.200.2 >/dev/null || rc=$?
	[ $rc = 3 ] || fail "denied prefix not dropped (exit $rc)"
	in_ns "$OUT" "$NET" tcp-connect 10.77.100.1 2222 1000 10.77.200.2 >/dev/null ||
		fail "failsafe port tcp/2222 blocked from the denied prefix"
	after=$(counter drop_prefilter)
	log "${mode:-native first}: drop_prefilter $before -> $after"
	[ "$after" -gt "$before" ] || fail "prefilter drops not counted"
	want=xdp
	[ -n "$mode" ] && want=xdpgeneric
	in_ns "$NODE" ip link show up0 | grep -q " $want" ||
		fail "not in $want mode: $(in_ns "$NODE" ip link show up0)"
	dpctl cleanup
	in_ns "$NODE" ip link show up0 | grep -q " xdp" && fail "XDP left on up0 after cleanup"
	in_ns "$OUT" "$NET" tcp-connect 10.77.100.1 2223 1000 10.77.200.2 >/dev/null ||
		fail "after cleanup the denied source is still dropped"
done

# An uplink that appears after the apply gets its deny-list then (dp_link_changed), host
# entries in the host map as an apply writes them; when it goes, its entries go with it.
host_entries() { # entries of the IPv4 host maps of both slots (ifindex, address keys)
	local id n=0
	for id in $(bpftool -j map dump pinned "$PIN/maps/iof_prefilter4_host" |
		python3 -c 'import json,sys
for e in json.load(sys.stdin): # the value is the inner map id
	print(int.from_bytes(bytes(int(b, 16) for b in e["value"]), "little"))'); do
		n=$((n + $(bpftool -j map dump id "$id" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')))
	done
	echo $n
}
sed -i 's/interfaces: \[up0\]/interfaces: [up0, up1]/; s|deny: \[|deny: [10.77.201.2/32, |' \
	"$TMP/p.yaml"
dpctl_bg "$TMP/hold" --node n1 -f "$TMP/p.yaml" --watch
[ "$(host_entries)" = 1 ] || fail "up0's host entry: $(host_entries) entries"
ip -n "$OUT" addr add 10.77.201.2/32 dev eth0
ip -n "$NODE" route add 10.77.201.0/24 via 10.77.100.2
ip -n "$NODE" link add up1 type veth peer name eth1 netns "$OUT"
ip -n "$NODE" link set up1 up
ip -n "$OUT" link set eth1 up
for _ in $(seq 50); do dpctl links | grep -q "xdp/up1" && break; sleep 0.1; done
dpctl links | grep -q "xdp/up1 .*prog=iof_xdp_prefilt" || fail "no xdp on up1: $(dpctl links)"
[ "$(host_entries)" = 2 ] || fail "the new uplink's host entry: $(host_entries) entries"
ip -n "$NODE" link del up1
for _ in $(seq 50); do [ "$(host_entries)" = 1 ] && break; sleep 0.1; done
[ "$(host_entries)" = 1 ] || fail "host entries of a vanished uplink left: $(host_entries)"
log "late uplink: host entry written on arrival, gone with it"
kill $HOLDER
wait $HOLDER || fail "dpctl did not exit 0 on SIGTERM"
exit 0
