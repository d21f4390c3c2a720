# SPDX-License-Identifier: Apache-2.0
# Helpers of the e2e tests, on top of tests/lib/net.sh (namespaces, cleanup): a node namespace
# holding the host-side veths (where dpctl runs and the programs attach), workload namespaces
# routed through it (IPv4 and IPv6). Names: iofe2e-<test>-<pid>-<role>; pins under
# /sys/fs/bpf/iofe2e-<test>-<pid> (bpffs). Usage: source lib.sh TEST DPCTL E2E_NET
# shellcheck disable=SC2034
set -u

E2E_TEST=$1
DPCTL=$2
NET=$3
NET_TAG=$E2E_TEST
NET_CHECK=1
PFX=iofe2e-$E2E_TEST-$$
NODE=$PFX-node
CLI=$PFX-cli
SRV=$PFX-srv
OUT=$PFX-out
PIN=/sys/fs/bpf/$PFX
TMP=/tmp/$PFX # also holds pids, for the cleanup after a killed run
# shellcheck source=../lib/net.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/net.sh"
PINS+=("$PIN")
CGROUP=""
FAILSAFE=(--failsafe tcp:22 --failsafe tcp:2222)

[ "$(id -u)" = 0 ] || skip "needs root"
command -v nsenter >/dev/null && command -v ip >/dev/null || skip "needs iproute2 and nsenter"
[ -d /sys/fs/bpf ] || skip "no /sys/fs/bpf"
"$DPCTL" probe || skip "cannot load BPF programs here"
mkdir -p "$TMP"

dpctl() {
	local cmd=$1
	shift
	in_ns "$NODE" "$DPCTL" "$cmd" --pin-dir "$PIN" "${FAILSAFE[@]}" "$@"
}

# dpctl_bg OUTFILE ARGS...: a dpctl apply --hold in the background; sets HOLDER to its PID
# (the dpctl process itself, so that a signal reaches it) and waits until it is ready.
dpctl_bg() {
	local out=$1
	shift
	nsenter --net=/var/run/netns/"$NODE" "$DPCTL" apply --pin-dir "$PIN" "${FAILSAFE[@]}" \
		--hold "$@" >"$out" 2>&1 &
	HOLDER=$!
	track $HOLDER
	for _ in $(seq 100); do grep -q ready "$out" && return 0; sleep 0.05; done
	fail "dpctl not ready: $(cat "$out")"
}

cgroup2_mount() {
	awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo
}

# The pins are dpctl's: removed inside the node namespace while it exists, else from here.
net_unpin() {
	if ip netns list | grep -q "^$NODE"; then
		in_ns "$NODE" "$DPCTL" cleanup --pin-dir "$1" >/dev/null 2>&1
	fi
	[ -d "$1" ] && "$DPCTL" cleanup --pin-dir "$1" >/dev/null 2>&1
}
remove_cgroup() {
	if [ -n "$CGROUP" ] && [ -d "$CGROUP" ]; then
		while read -r p; do kill -9 "$p" 2>/dev/null; done <"$CGROUP/cgroup.procs"
		rmdir "$CGROUP" 2>/dev/null || { sleep 0.5; rmdir "$CGROUP"; }
	fi
}
NET_CLEANUP_HOOKS+=(remove_cgroup)

# track PID: a process of ours to kill at the end (or after this run was killed, by the next).
track() {
	PIDS+=("$1")
	echo "$1" >>"$TMP/pids"
}

# Leftovers of earlier runs of this test whose process is gone: our processes (by PID, if the
# PID still runs one of our tools), namespaces, pins, cgroups, temp dirs.
for d in /tmp/iofe2e-"$E2E_TEST"-*; do
	[ -d "$d" ] || continue
	kill -0 "${d##*-}" 2>/dev/null && continue
	if [ -f "$d/pids" ]; then
		while read -r p; do
			grep -qaE "e2e_net|dpctl" /proc/"$p"/cmdline 2>/dev/null && kill -9 "$p"
		done <"$d/pids"
	fi
	rm -rf "$d"
done
net_reap_stale "iofe2e-$E2E_TEST"
cg2=$(cgroup2_mount)
for d in "$cg2"/iofe2e-"$E2E_TEST"-*; do
	[ -d "$d" ] || continue
	pid=${d##*/iofe2e-"$E2E_TEST"-}
	kill -0 "$pid" 2>/dev/null || rmdir "$d" 2>/dev/null
done

# workload NAME NS HOSTIF N: namespace NS with eth0 = 10.77.N.2 / fd77:N::2, its peer HOSTIF
# in the node namespace = 10.77.N.1 / fd77:N::1, default routes through the node.
workload() {
	local ns=$1 hif=$2 n=$3
	ip netns add "$ns"
	ip -n "$NODE" link add "$hif" type veth peer name eth0 netns "$ns"
	ip -n "$NODE" addr add 10.77.$n.1/24 dev "$hif"
	ip -n "$NODE" addr add fd77:$n::1/64 dev "$hif" nodad
	ip -n "$NODE" link set "$hif" up
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add 10.77.$n.2/24 dev eth0
	ip -n "$ns" addr add fd77:$n::2/64 dev eth0 nodad
	ip -n "$ns" link set eth0 up
	ip -n "$ns" route add default via 10.77.$n.1
	ip -n "$ns" -6 route add default via fd77:$n::1
}

topology() {
	ip netns add "$NODE"
	ip -n "$NODE" link set lo up
	in_ns "$NODE" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	workload "$CLI" hc 1
	workload "$SRV" hs 2
}

# The basic two-endpoint policy: $1 = revision, $2 = TCP ports the server accepts from the
# client group, $3 = extra YAML lines appended to endpoints (more endpoints).
policy() {
	local rev=$1 ports=${2:-8080, 8082} extra=${3:-}
	cat <<YAML
revision: $rev
defaults:
  ingress: deny
  egress: allow
securityGroups:
  - name: client
    rules:
      - direction: egress
        action: deny
        protocol: tcp
        ports: [8082]
  - name: server
    rules:
      - {direction: ingress, protocol: tcp, ports: [$ports], group: client}
      - {direction: ingress, protocol: udp, ports: [9090], group: client}
      - {direction: ingress, protocol: icmp, group: client}
      - {direction: ingress, protocol: icmpv6, group: client}
  - name: app
    rules:
      - {direction: egress, protocol: tcp, ports: [8080], cidr: 10.77.2.2/32}
      - {direction: egress, protocol: tcp, ports: [8080], cidr: "fd77:2::2/128"}
endpoints:
  - name: cli
    node: n1
    interface: hc
    addresses: [10.77.1.2, "fd77:1::2"]
    groups: [client]
  - name: srv
    node: n1
    interface: hs
    addresses: [10.77.2.2, "fd77:2::2"]
    groups: [server]
$extra
YAML
}

# tcp_ok NS ADDR PORT / tcp_blocked NS ADDR PORT
tcp_ok() { in_ns "$1" "$NET" tcp-connect "$2" "$3" 1500 >/dev/null || fail "tcp $2:$3 from $1 should connect"; }
tcp_blocked() {
	local rc=0
	in_ns "$1" "$NET" tcp-connect "$2" "$3" 700 >/dev/null || rc=$?
	[ $rc = 3 ] || fail "tcp $2:$3 from $1 should time out (exit $rc)"
}

# udp_count NS_FROM NS_TO ADDR PORT N: datagrams received of N sent
udp_count() {
	local from=$1 to=$2 addr=$3 port=$4 n=$5 out=$TMP/sink.$RANDOM
	nsenter --net=/var/run/netns/"$to" "$NET" udp-sink "$addr" "$port" 400 5 >"$out" &
	local sp=$!
	for _ in $(seq 50); do grep -q listening "$out" && break; sleep 0.02; done
	in_ns "$from" "$NET" udp-send "$addr" "$port" "$n" 2000 >/dev/null
	wait $sp
	sed -n 's/.*distinct=\([0-9]*\).*/\1/p' "$out"
}

ping_ok() { in_ns "$1" ping -c1 -W1 "$2" >/dev/null || fail "ping $2 from $1 should pass"; }
ping_blocked() { ! in_ns "$1" ping -c1 -W1 "$2" >/dev/null || fail "ping $2 from $1 should be dropped"; }

counter() { # counter NAME: value of a dpctl counters line
	dpctl counters | awk -v k="$1" '$1 == k { print $2 }'
}
