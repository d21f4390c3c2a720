# SPDX-License-Identifier: Apache-2.0
# A multi-node VXLAN overlay in network namespaces, for tests, benchmarks and the demo.
#
#   fabric namespace $OV_PFX-fabric: bridge fab0 (the underlay switch)
#   node namespace   $OV_PFX-NODE:   ul0 = underlay veth (peer ul-NODE on fab0),
#                                    outer address 192.168.210.I/24 and fd00:21::I/64,
#                                    vx0 = kernel VXLAN (VNI $OV_VNI, dstport 4789, nolearning,
#                                    unicast head-end replication to every peer, no multicast),
#                                    br0 = bridge of vx0 and the workloads' host-side veths
#   workload namespace $OV_PFX-W:    eth0 = 10.210.0.X/24 and fd00:210::X/64 (one L2 overlay),
#                                    MAC 02:21:00:00:XX:XX; every other node's vx0 gets a static
#                                    FDB entry MAC -> this node, so known unicast goes to one
#                                    peer only (the all-zeros entries flood ARP/ND to all)
#
# Outer family: OV_OUTER=4 (default) or 6, before ov_node. Workload MTU 1400 so that a full
# frame fits in a VXLAN packet over either outer family on the 1500-byte underlay.
# Source it from bash (needs root, iproute2, nsenter); it defines functions only:
#   OV_PFX=iofov-mytest-$$; source tests/lib/overlay.sh
#   ov_fabric; ov_node n1 1; ov_node n2 2; ov_mesh; ov_workload n1 w1 vw1 11; ...
#   (create every node before the workloads: a workload's FDB entries go to the nodes there)
#   ov_build N [WORKLOADS_PER_NODE]  (nodes n1..nN, workloads wIK on host veths vwIK,
#                                     address index I*10+K)
#   ov_in NAME CMD...  (run in $OV_PFX-NAME with nsenter --net, keeping /sys/fs/bpf visible)
#   ov_cleanup         (deletes every namespace named $OV_PFX-*)
# shellcheck disable=SC2034
: "${OV_PFX:?set OV_PFX (namespace prefix, with the test name and \$\$) before sourcing overlay.sh}"
OV_VNI=${OV_VNI:-4242}
OV_PORT=${OV_PORT:-4789}
OV_OUTER=${OV_OUTER:-4}
OV_MTU=${OV_MTU:-1400}
OV_NODES=()            # node names, in creation order
declare -A OV_NODE_IDX # node name -> index I
declare -A OV_WL_NODE  # workload name -> node name

ov_in() {
	local ns=$OV_PFX-$1
	shift
	nsenter --net=/var/run/netns/"$ns" "$@"
}

# ov_outer_addr INDEX [4|6]: the underlay (outer) address of node INDEX.
ov_outer_addr() {
	if [ "${2:-$OV_OUTER}" = 6 ]; then echo "fd00:21::$1"; else echo "192.168.210.$1"; fi
}
# ov_inner_addr X [4|6]: the overlay address of a workload with index X.
ov_inner_addr() {
	if [ "${2:-4}" = 6 ]; then echo "fd00:210::$(printf %x "$1")"; else echo "10.210.0.$1"; fi
}

ov_fabric() {
	local ns=$OV_PFX-fabric
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip -n "$ns" link add fab0 type bridge
	ip -n "$ns" link set fab0 up
}

# ov_node NAME INDEX: node namespace with underlay ul0, VXLAN vx0 and bridge br0.
ov_node() {
	local name=$1 i=$2 ns=$OV_PFX-$1
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip -n "$OV_PFX-fabric" link add "ul-$name" type veth peer name ul0 netns "$ns"
	ip -n "$OV_PFX-fabric" link set "ul-$name" master fab0 up
	ip -n "$ns" addr add "192.168.210.$i/24" dev ul0
	ip -n "$ns" addr add "fd00:21::$i/64" dev ul0 nodad
	ip -n "$ns" link set ul0 up
	ip -n "$ns" link add vx0 type vxlan id "$OV_VNI" dstport "$OV_PORT" \
		local "$(ov_outer_addr "$i")" dev ul0 nolearning
	ip -n "$ns" link add br0 type bridge
	ip -n "$ns" link set br0 up
	ip -n "$ns" link set vx0 master br0 up
	OV_NODES+=("$name")
	OV_NODE_IDX[$name]=$i
}

# ov_mesh: head-end replication: every node floods BUM frames to every other node by unicast.
ov_mesh() {
	local a b
	for a in "${OV_NODES[@]}"; do
		for b in "${OV_NODES[@]}"; do
			[ "$a" = "$b" ] && continue
			bridge -n "$OV_PFX-$a" fdb append 00:00:00:00:00:00 dev vx0 \
				dst "$(ov_outer_addr "${OV_NODE_IDX[$b]}")"
		done
	done
}

# ov_workload NODE NAME HOSTIF X: workload namespace $OV_PFX-NAME, eth0 = 10.210.0.X and
# fd00:210::X (hex of X), its host side HOSTIF in br0 of NODE.
ov_workload() {
	local nodens=$OV_PFX-$1 ns=$OV_PFX-$2 hif=$3 x=$4
	ip netns add "$ns"
	ip -n "$nodens" link add "$hif" type veth peer name eth0 netns "$ns"
	ip -n "$nodens" link set "$hif" mtu "$OV_MTU" master br0 up
	ip -n "$ns" link set lo up
	ip -n "$ns" link set eth0 mtu "$OV_MTU"
	local mac
	mac=$(printf "02:21:00:00:%02x:%02x" $((x / 256)) $((x % 256)))
	ip -n "$ns" link set eth0 address "$mac"
	ip -n "$ns" addr add "10.210.0.$x/24" dev eth0
	ip -n "$ns" addr add "$(ov_inner_addr "$x" 6)/64" dev eth0 nodad
	ip -n "$ns" link set eth0 up
	OV_WL_NODE[$2]=$1
	local n
	for n in "${OV_NODES[@]}"; do
		[ "$n" = "$1" ] && continue
		bridge -n "$OV_PFX-$n" fdb append "$mac" dev vx0 \
			dst "$(ov_outer_addr "${OV_NODE_IDX[$1]}")"
	done
}

# ov_build N [K]: fabric, nodes n1..nN, full mesh, K (default 1) workloads per node named
# wIK on host veths vwIK with address index I*10+K.
ov_build() {
	local n=$1 k=${2:-1} i j
	ov_fabric
	for i in $(seq "$n"); do ov_node "n$i" "$i"; done
	ov_mesh
	for i in $(seq "$n"); do
		for j in $(seq "$k"); do ov_workload "n$i" "w$i$j" "vw$i$j" $((i * 10 + j)); done
	done
}

# ov_wait_ready W ADDR...: waits until workload W reaches each ADDR by ping (ND/ARP settled).
ov_wait_ready() {
	local w=$1 a
	shift
	for a in "$@"; do
		for _ in $(seq 50); do
			ov_in "$w" ping -c1 -W1 "$a" >/dev/null 2>&1 && break
			sleep 0.1
		done
	done
}

# ov_touch W ADDR...: one ping from workload W to each ADDR, answered or not: traffic (ARP or
# ND, the echo request) on the tunnels towards ADDR where the policy denies the ping, without
# ov_wait_ready's wait for a reply that cannot come.
ov_touch() {
	local w=$1 a
	shift
	for a in "$@"; do ov_in "$w" ping -c1 -W1 "$a" >/dev/null 2>&1; done
	return 0
}

ov_cleanup() {
	local ns
	for ns in $(ip netns list | awk '{print $1}' | grep "^$OV_PFX-"); do ip netns del "$ns"; done
}
