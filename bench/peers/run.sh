#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# bench/peers/run.sh: iofence against no filter, iptables (a linear chain, as users write it),
# nftables (verdict maps, as experts write it) and, for the XDP prefilter, xdp-tools'
# xdp-filter - the same rule set loaded into each in turn, on a node namespace that routes
# between a client and a server namespace (veth pairs). Needs root.
#
#   bench/peers/run.sh [--quick] [--build DIR] [--out DIR] [--runs N] [--duration S]
#                      [--counts 0,100,1000,10000,100000] [--contenders none,iptables,nft,iofence]
#                      [--iofence agent|dpctl] [--no-prefilter | --prefilter-only]
#
#   --quick      rule counts 0 and 100, one run, 1 s per figure (the ctest smoke test)
#   --runs N --duration S   repetitions (default 5) and seconds per figure (default 1.5):
#                the default full run takes about 13 minutes on 2 vCPUs
#   --build DIR  build tree with bench/peers, agent/ and tests/e2e (default: <repo>/build)
#   --out DIR    results (default bench/peers/out): results.md (the table), raw.tsv (every
#                measurement), peers.png (rate by rule count), logs
#   --iofence    agent: iofenced in the node namespace + `iofencectl apply` (default);
#                dpctl: the datapath test driver (tests/e2e/dpctl)
#
# Figures, each the median of --runs runs (min-max beside it) as a ratio to the unfiltered path
# measured in the same repetition (contenders round-robin within each repetition):
#   (a) new TCP connections/s (connect, 1-byte echo, close; 128 in flight, 16 source addresses)
#   (b) 64-byte UDP packets/s, a new 5-tuple every 16 packets (raw socket, sendmmsg)
#   (c) one established TCP stream (iperf3), Gbit/s
#   (d) XDP prefilter: packets/s dropped from denied sources, 10k deny entries, native XDP on
#       the node's client-facing veth (xdp-filter: 10k host addresses, all it can match;
#       iofence: the same 10k hosts, and 10k /16../32 prefixes)
# Topology (namespaces iofpeer-<pid>-{cli,node,srv}): cli eth0 10.201.1.2-17/24 -- vcli (node,
# 10.201.1.1) ; node vsrv 10.201.2.1/24 -- srv eth0 10.201.2.2. The filters sit on the node:
# FORWARD chain / forward hook, iofence TC on vsrv (the server endpoint's host-side interface),
# XDP on vcli. Everything is removed on exit, also on failure.
# Rule sets (peers_gen_rules): N ingress rules of the server's group, 60% naming a peer group
# (1-3 members), 40% a CIDR, tcp/udp/icmp with 1-3 ports, 10% deny; the probed flows match two
# rules placed last in every linear order. iptables is Debian's default iptables-nft backend;
# a group rule is one line with `-s a,b,c` (one kernel rule per member, as users write it
# without ipset): the table prints the kernel rule counts. nftables gets verdict maps keyed by
# source . port. The netfilter contenders put conntrack first (ESTABLISHED,RELATED accept).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# namespaces, background processes and the cleanup on exit (its log/skip are replaced below)
NET_TAG=peers
# shellcheck source=../../tests/lib/net.sh
source "$REPO/tests/lib/net.sh"
BUILD=$REPO/build
OUT=$HERE/out
RUNS=5
DUR=1.5 # seconds per figure; iperf3 takes whole seconds (rounded up)
COUNTS=0,100,1000,10000,100000
CONTENDERS=none,iptables,nft,iofence
IOFENCE_IMPL=${IOFENCE_IMPL:-agent}
PREFILTER=1
QUICK=0

usage() { awk 'NR > 3 && !/^#/ { exit } NR > 3 { sub(/^# ?/, ""); print }' "$0"; }

while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1; COUNTS=0,100; RUNS=1; DUR=1 ;;
	--build) BUILD=$2; shift ;;
	--out) OUT=$2; shift ;;
	--runs) RUNS=$2; shift ;;
	--duration) DUR=$2; shift ;;
	--counts) COUNTS=$2; shift ;;
	--contenders) CONTENDERS=$2; shift ;;
	--iofence) IOFENCE_IMPL=$2; shift ;;
	--no-prefilter) PREFILTER=0 ;;
	--prefilter-only) CONTENDERS=; COUNTS=0 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done

log() { echo "[peers $(date +%H:%M:%S)] $*" >&2; }
die() { echo "[peers] FAIL: $*" >&2; exit 1; }
skip() { echo "[peers] SKIP: $*" >&2; exit $SKIP; }

[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, BPF, netfilter)"
for t in ip nsenter iptables-restore nft iperf3 awk; do
	command -v $t >/dev/null || skip "needs $t"
done
[ -d /sys/fs/bpf ] || skip "no bpffs at /sys/fs/bpf"
if [ $PREFILTER = 1 ]; then
	for t in xdp-filter bpftool jq; do
		command -v $t >/dev/null && continue
		echo "[peers] no $t: the prefilter figure (d) is left out" >&2
		PREFILTER=0
	done
fi

GEN=$BUILD/bench/peers/peers_gen_rules
CPS=$BUILD/bench/peers/peers_cps
ECHO=$BUILD/bench/peers/peers_echo
UDP=$BUILD/bench/peers/peers_udp
IOFENCED=$BUILD/agent/iofenced/iofenced
IOFENCECTL=$BUILD/agent/ctl/iofencectl
DPCTL=$BUILD/tests/e2e/dpctl
for b in "$GEN" "$CPS" "$ECHO" "$UDP"; do
	[ -x "$b" ] || die "$b missing: build first (cmake --build $BUILD)"
done

PFX=iofpeer-$$
NS_CLI=$PFX-cli
NS_NODE=$PFX-node
NS_SRV=$PFX-srv
PIN=/sys/fs/bpf/$PFX
TMP=$(mktemp -d /tmp/iofpeer.XXXXXX)
IOF_AGENT_PID=
REVISION=0
CLIENT=10.201.1.2
SERVER=10.201.2.2
mkdir -p "$OUT"

# What net.sh's cleanup does not know of: the agent or dpctl pins, bpf stats, xdp-filter.
peers_cleanup() {
	iofence_stop
	stats_off
	if [ -e /var/run/netns/$NS_NODE ]; then
		in_ns $NS_NODE xdp-filter unload vcli >/dev/null 2>&1
		in_ns $NS_NODE xdp-filter unload --all >/dev/null 2>&1
	fi
	if [ -d "$PIN" ]; then rm -rf "$PIN"; fi
}
NET_CLEANUP_HOOKS+=(peers_cleanup)

topology() {
	ip netns add $NS_CLI
	ip netns add $NS_NODE
	ip netns add $NS_SRV
	ip link add eth0 netns $NS_CLI type veth peer name vcli netns $NS_NODE
	ip link add eth0 netns $NS_SRV type veth peer name vsrv netns $NS_NODE
	ip -n $NS_NODE addr add 10.201.1.1/24 dev vcli
	ip -n $NS_NODE addr add 10.201.2.1/24 dev vsrv
	for i in $(seq 2 17); do ip -n $NS_CLI addr add 10.201.1.$i/24 dev eth0; done
	ip -n $NS_SRV addr add $SERVER/24 dev eth0
	for ns in $NS_CLI $NS_NODE $NS_SRV; do
		ip -n $ns link set lo up
		ip -n $ns link set eth0 up 2>/dev/null || true
	done
	ip -n $NS_NODE link set vcli up
	ip -n $NS_NODE link set vsrv up
	ip -n $NS_CLI route add default via 10.201.1.1
	ip -n $NS_SRV route add default via 10.201.2.1
	in_ns $NS_NODE sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.vcli.rp_filter=0
	# The client opens hundreds of thousands of connections: reuse TIME_WAIT ports.
	in_ns $NS_CLI sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65000"
	in_ns $NS_SRV sysctl -qw net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=4096
	# Conntrack of the netfilter contenders: TIME_WAIT entries of earlier runs must not fill
	# the (global) table during later ones.
	in_ns $NS_NODE sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_time_wait=2 2>/dev/null ||
		true
	bg_ns $NS_SRV "$ECHO" --port 7000
	bg_ns $NS_SRV "$ECHO" --port 7002 # no rule allows it: shows whether a filter enforces
	bg_ns $NS_SRV iperf3 -s -p 5201 >/dev/null 2>&1
	sleep 0.3
	in_ns $NS_CLI ping -c1 -W2 $SERVER >/dev/null || die "no route from client to server"
}

# ---- contenders: load_<name> COUNT / unload_<name> -------------------------------------------

load_none() { :; }
unload_none() { :; }

load_iptables() { in_ns $NS_NODE iptables-restore <"$TMP/rules-$1/iptables.rules"; }
unload_iptables() { in_ns $NS_NODE nft flush ruleset; }

load_nft() { in_ns $NS_NODE nft -f "$TMP/rules-$1/nft.rules"; }
unload_nft() { in_ns $NS_NODE nft flush ruleset; }

# iofence: the real path is the agent; dpctl (the datapath's test driver) is the fallback.
# Switch with --iofence or IOFENCE_IMPL. iofence_apply FILE pushes one policy document.
iofence_start() {
	case $IOFENCE_IMPL in
	agent)
		[ -x "$IOFENCED" ] && [ -x "$IOFENCECTL" ] || die "no iofenced/iofencectl in $BUILD"
		nsenter --net=/var/run/netns/$NS_NODE "$IOFENCED" --node iofpeer-node \
			--state "$TMP/state.db" --listen "unix:$TMP/agent.sock" --pin-dir "$PIN" \
			--log-level warn 2>"$OUT/iofenced.log" &
		IOF_AGENT_PID=$!
		for _ in $(seq 100); do [ -S "$TMP/agent.sock" ] && break; sleep 0.1; done
		[ -S "$TMP/agent.sock" ] || die "iofenced did not start (see $OUT/iofenced.log)"
		;;
	dpctl) [ -x "$DPCTL" ] || die "no dpctl in $BUILD/tests/e2e" ;;
	*) die "--iofence agent|dpctl" ;;
	esac
}

iofence_apply() {
	local t0=$(date +%s.%N)
	REVISION=$((REVISION + 1))
	{ echo "revision: $REVISION"; cat "$1"; } >"$TMP/apply.yaml"
	case $IOFENCE_IMPL in
	agent) in_ns $NS_NODE "$IOFENCECTL" apply -f "$TMP/apply.yaml" --timeout 300 \
		--agent "unix:$TMP/agent.sock" >>"$OUT/apply.log" ;;
	dpctl) in_ns $NS_NODE "$DPCTL" apply --pin-dir "$PIN" --node iofpeer-node \
		-f "$TMP/apply.yaml" >>"$OUT/apply.log" ;;
	esac
	echo "apply $(basename "$(dirname "$1")")/$(basename "$1") revision $REVISION:" \
		"$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') s" >>"$OUT/apply.log"
}

iofence_stop() {
	if [ -n "$IOF_AGENT_PID" ]; then
		kill "$IOF_AGENT_PID" 2>/dev/null
		wait "$IOF_AGENT_PID" 2>/dev/null
		IOF_AGENT_PID=
	fi
	if [ -d "$PIN" ]; then
		if [ -x "$IOFENCED" ] && [ "$IOFENCE_IMPL" = agent ]; then
			in_ns $NS_NODE "$IOFENCED" --cleanup --pin-dir "$PIN" >/dev/null 2>&1
		elif [ -x "$DPCTL" ]; then
			in_ns $NS_NODE "$DPCTL" cleanup --pin-dir "$PIN" >/dev/null 2>&1
		fi
	fi
	return 0
}

load_iofence() { iofence_apply "$TMP/rules-$1/policy.yaml"; }
# The same document with the server on another node: nothing is enforced here any more.
unload_iofence() { iofence_apply "$TMP/off.yaml"; }

# ---- figures: measure_<fig> prints one number ------------------------------------------------

measure_cps() {
	in_ns $NS_CLI "$CPS" --dst $SERVER --port 7000 --src $CLIENT --src-count 16 \
		--concurrency 128 --duration "$DUR" | sed -n 's/^cps=\([0-9.]*\).*/\1/p'
}

measure_udp() {
	local f=$TMP/udp-recv.out
	nsenter --net=/var/run/netns/$NS_SRV "$UDP" recv --port 7001 --idle 0.5 \
		--max $((${DUR%.*} + 10)) >"$f" &
	local rpid=$!
	for _ in $(seq 50); do grep -q ready "$f" 2>/dev/null && break; sleep 0.05; done
	in_ns $NS_CLI "$UDP" send --dst $SERVER --port 7001 --src $CLIENT --src-count 16 \
		--duration "$DUR" --batch 16 --tuple-every 16 >/dev/null
	wait $rpid
	sed -n 's/^pps=\([0-9.]*\).*/\1/p' "$f"
}

measure_tcp() {
	in_ns $NS_CLI iperf3 -c $SERVER -p 5201 -t "$(awk -v d="$DUR" 'BEGIN { printf "%d", d == int(d) ? d : int(d) + 1 }')" -f m 2>/dev/null |
		awk '/receiver/ { for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") print $(i - 1) / 1000 }'
}

# A loaded filter must refuse port 7002 (no rule allows it); without one it must connect.
check_enforced() {
	local done
	done=$(in_ns $NS_CLI "$CPS" --dst $SERVER --port 7002 --src $CLIENT --concurrency 4 \
		--duration 0.3 | sed -n 's/.*completed=\([0-9]*\).*/\1/p')
	if [ "$1" = none ]; then
		[ "${done:-0}" -gt 0 ] || die "unfiltered path refuses port 7002"
	else
		[ "${done:-1}" = 0 ] || die "$1 does not enforce: $done connections to port 7002 passed"
	fi
}

FIGURES="cps udp tcp"
fig_name() {
	case $1 in
	cps) echo "(a) new TCP conn/s" ;;
	udp) echo "(b) UDP pps, new 5-tuples" ;;
	tcp) echo "(c) TCP stream Gbit/s" ;;
	xdp) echo "(d) XDP drops pps, 10k deny" ;;
	esac
}

# ---- the prefilter: native XDP on vcli; drops counted as the packets the sender got through -

# Packets the XDP program counted as dropped, to check the sender's figure against: the first
# u64 (little-endian) of a per-CPU array entry, summed over CPUs.
percpu_u64() {
	local h sum=0
	for h in $(bpftool -j map lookup pinned "$1" key "$2" 0 0 0 2>/dev/null |
		jq -r '.values[].value[0:8] | map(ltrimstr("0x")) | reverse | join("")' 2>/dev/null); do
		sum=$((sum + 16#$h))
	done
	echo $sum
}
xdp_drops_xdpfilter() { percpu_u64 /sys/fs/bpf/xdp-filter/xdp_stats_map 1; } # XDP_DROP
xdp_drops_iofence() { percpu_u64 "$PIN/maps/iof_drops" 3; }                 # IOF_DROP_PREFILTER

# Kernel BPF run-time statistics (kernel.bpf_stats_enabled, on only for the cost phases: they
# add a clock read to every program run): "runs ns" of one program.
STATS_WAS=
stats_on() {
	STATS_WAS=$(cat /proc/sys/kernel/bpf_stats_enabled 2>/dev/null || echo "")
	[ -n "$STATS_WAS" ] && echo 1 >/proc/sys/kernel/bpf_stats_enabled
}
stats_off() {
	[ -z "$STATS_WAS" ] || echo "$STATS_WAS" >/proc/sys/kernel/bpf_stats_enabled
	STATS_WAS=
}
prog_runs() { # bpftool prog selector... -> "runs ns"
	bpftool -j prog show "$@" 2>/dev/null | jq -r '"\(.run_cnt // 0) \(.run_time_ns // 0)"' 2>/dev/null ||
		echo "0 0"
}
xdp_prog_id() { in_ns $NS_NODE ip -j -d link show dev vcli | jq -r '.[0].xdp.prog.id // empty'; }
ns_per_run() { # "runs ns" before, "runs ns" after -> ns per run
	echo "$1 $2" | awk '{ r = $3 - $1; printf "%.0f", (r > 0 ? ($4 - $2) / r : 0) }'
}

load_xdpfilter() {
	in_ns $NS_NODE xdp-filter load --mode native --policy allow vcli
	# An xdp-filter invocation per address would take minutes: fill its pinned map in one batch.
	awk '{ split($1, o, "."); printf "map update pinned /sys/fs/bpf/xdp-filter/filter_ipv4 key %d %d %d %d value 1 0 0 0 0 0 0 0\n", o[1], o[2], o[3], o[4] }' \
		"$TMP/rules-prefilter/deny_hosts.txt" >"$TMP/xdpfilter.batch"
	bpftool batch file "$TMP/xdpfilter.batch" >/dev/null
}
unload_xdpfilter() { in_ns $NS_NODE xdp-filter unload vcli; }

# Workaround: the datapath pins an XDP link at <pin>/links/xdp/<ifname> without creating
# links/xdp first (agent/datapath/attach.c attach_links() makes the folder for tc and cg only).
xdp_pin_dir() { [ -d "$PIN/links" ] && mkdir -p "$PIN/links/xdp" || true; }
load_iofence_hosts() { xdp_pin_dir; iofence_apply "$TMP/rules-prefilter/policy-hosts.yaml"; }
unload_iofence_hosts() { unload_iofence; }
load_iofence_prefixes() { xdp_pin_dir; iofence_apply "$TMP/rules-prefilter/policy-prefilter.yaml"; }
unload_iofence_prefixes() { unload_iofence; }

measure_xdp() {
	local out
	out=$(in_ns $NS_CLI "$UDP" send --dst $SERVER --port 7001 \
		--src-file "$TMP/rules-prefilter/flood_sources.txt" --duration "$DUR" --batch 32 \
		--tuple-every 1)
	echo "$out" | sed -n 's/.*pps=\([0-9.]*\).*/\1/p'
}

# ---- the run ---------------------------------------------------------------------------------

RAW=$OUT/raw.tsv
: >"$RAW"
: >"$OUT/apply.log"
: >"$OUT/rulesets.txt"
IFS=, read -r -a COUNT_LIST <<<"$COUNTS"
CONT_LIST=()
[ -z "$CONTENDERS" ] || IFS=, read -r -a CONT_LIST <<<"$CONTENDERS"

log "rule sets: ${COUNT_LIST[*]}"
for n in "${COUNT_LIST[@]}" prefilter; do
	mkdir -p "$TMP/rules-$n"
	if [ "$n" = prefilter ]; then
		"$GEN" --rules 0 --out "$TMP/rules-$n" --prefilter 10000 >/dev/null
		# The host form of the deny-list, for iofence against xdp-filter on equal terms.
		awk '/^  deny:/ { exit } { print }' "$TMP/rules-$n/policy-prefilter.yaml" \
			>"$TMP/rules-$n/policy-hosts.yaml"
		{ echo "  deny:"; sed 's/^/  - /; s/$/\/32/' "$TMP/rules-$n/deny_hosts.txt"; } \
			>>"$TMP/rules-$n/policy-hosts.yaml"
	else
		"$GEN" --rules "$n" --out "$TMP/rules-$n" | tee -a "$OUT/rulesets.txt" >&2
	fi
done
sed 's/node: iofpeer-node/node: iofpeer-elsewhere/' "$TMP/rules-0/policy.yaml" >"$TMP/off.yaml"

topology
for c in "${CONT_LIST[@]}"; do if [ "$c" = iofence ]; then iofence_start; fi; done
if [ $PREFILTER = 1 ] && [ -z "$IOF_AGENT_PID" ] && [ "$IOFENCE_IMPL" = agent ]; then
	iofence_start
fi

started=$(date +%s)
for n in "${COUNT_LIST[@]}"; do
	[ ${#CONT_LIST[@]} -gt 0 ] || break
	for rep in $(seq "$RUNS"); do
		for c in "${CONT_LIST[@]}"; do
			load_$c "$n" || die "loading $c with $n rules failed"
			[ "$rep" != 1 ] || check_enforced "$c"
			for f in $FIGURES; do
				v=$(measure_$f)
				[ -n "$v" ] || v=0
				printf '%s\t%s\t%s\t%s\t%s\n' "$f" "$n" "$c" "$rep" "$v" >>"$RAW"
				log "$f rules=$n $c run $rep: $v"
			done
			unload_$c || die "unloading $c failed"
		done
	done
done

# Cost phase: iofence's TC program time per packet (kernel BPF stats) under the UDP load of
# (b), by rule count - the verdict cost without the machine's noise in it.
if [[ ",$CONTENDERS," == *,iofence,* ]]; then
	stats_on
	for n in "${COUNT_LIST[@]}"; do
		load_iofence "$n"
		for rep in $(seq $((RUNS < 3 ? RUNS : 3))); do
			runs0=$(prog_runs pinned "$PIN/progs/iof_tc_to_ep")
			measure_udp >/dev/null
			runs1=$(prog_runs pinned "$PIN/progs/iof_tc_to_ep")
			v=$(ns_per_run "$runs0" "$runs1")
			printf 'tcns\t%s\tiofence\t%s\t%s\n' "$n" "$rep" "$v" >>"$RAW"
			log "iofence TC program, rules=$n run $rep: $v ns per packet"
		done
		unload_iofence
	done
	stats_off
fi

if [ $PREFILTER = 1 ]; then
	XDP_CONT="xdpfilter iofence_hosts iofence_prefixes"
	stats_on
	for rep in $(seq "$RUNS"); do
		for c in $XDP_CONT; do
			load_$c || die "loading $c failed"
			counter=xdp_drops_${c%%_*}
			prog=$(xdp_prog_id)
			[ -n "$prog" ] || die "$c: no XDP program on vcli"
			before=$($counter)
			runs0=$(prog_runs id "$prog")
			v=$(measure_xdp)
			runs1=$(prog_runs id "$prog")
			after=$($counter)
			printf 'xdp\t10000\t%s\t%s\t%s\n' "$c" "$rep" "$v" >>"$RAW"
			printf 'xdpns\t10000\t%s\t%s\t%s\n' "$c" "$rep" "$(ns_per_run "$runs0" "$runs1")" >>"$RAW"
			log "xdp $c run $rep: $v pps sent from denied sources; the program counted" \
				"$(awk -v a="$after" -v b="$before" -v d="$DUR" 'BEGIN { printf "%.0f", (a - b) / d }') pps dropped," \
				"$(ns_per_run "$runs0" "$runs1") ns per packet"
			unload_$c
		done
	done
	stats_off
fi
log "measured in $(($(date +%s) - started)) s"

# ---- the table and the plot ------------------------------------------------------------------
"$HERE/report.sh" "$RAW" "$OUT" "$CONTENDERS" "$COUNTS"
