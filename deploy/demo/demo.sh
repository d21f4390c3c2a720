#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# iofence demo: three workloads (client, web, db) in network namespaces bridged in a node
# namespace, one iofenced enforcing the example policy on them, real traffic probes printed as
# an allowed/denied matrix with counters and flow events.
#
#   deploy/demo/demo.sh BUILD_DIR [--keep]          from a build tree (scripts/run.sh --single)
#   /usr/share/iofence/demo/demo.sh [--keep]       as installed by the .deb: the installed binaries
#
# The policy is ../examples/policy.yaml beside this script (IOFDEMO_POLICY overrides it).
# Everything it creates is named iofdemo-* (namespaces), /sys/fs/bpf/iofdemo (pins) and
# /var/lib/iofence-demo (state); it is all removed on exit unless --keep is given (then run it
# again to clean up). It needs python3, iproute2, iputils-ping and nsenter (util-linux).
set -u
BUILD="" KEEP=0
for arg in "$@"; do
	case $arg in
	--keep) KEEP=1 ;;
	-*) echo "usage: demo.sh [BUILD_DIR] [--keep]" >&2; exit 2 ;;
	*) BUILD=$arg ;;
	esac
done
HERE=$(cd "$(dirname "$0")" && pwd)
if [ -n "$BUILD" ]; then
	IOFENCED=$BUILD/agent/iofenced/iofenced
	CTL=$BUILD/agent/ctl/iofencectl
else
	IOFENCED=/usr/sbin/iofenced
	CTL=/usr/bin/iofencectl
fi
PROBE="/usr/bin/python3 $HERE/probe.py"
POLICY=${IOFDEMO_POLICY:-$(cd "$HERE/../examples" 2>/dev/null && pwd)/policy.yaml}
NODE=iofdemo-node
PIN=/sys/fs/bpf/iofdemo
STATE=/var/lib/iofence-demo
SOCK=unix:$STATE/iofenced.sock
AGENT_PID=""
SERVER_PIDS=()

[ "$(id -u)" = 0 ] || { echo "demo.sh: needs root (network namespaces, BPF)" >&2; exit 2; }
for f in "$IOFENCED" "$CTL"; do
	[ -x "$f" ] || { echo "demo.sh: $f not found (build it, or install the .deb)" >&2; exit 2; }
done
[ -f "$POLICY" ] || { echo "demo.sh: policy $POLICY not found" >&2; exit 2; }
for tool in /usr/bin/python3 ip ping nsenter; do
	command -v $tool >/dev/null || { echo "demo.sh: needs $tool (python3, iproute2, iputils-ping, util-linux)" >&2; exit 2; }
done
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

in_ns() { local ns=$1; shift; nsenter --net=/var/run/netns/"$ns" "$@"; }
ctl() { "$CTL" "$@" --agent "$SOCK"; }

teardown() {
	[ -n "$AGENT_PID" ] && kill -TERM "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
	for p in "${SERVER_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${SERVER_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	[ -d "$PIN" ] && "$IOFENCED" --cleanup --pin-dir "$PIN" --log-level warn
	for ns in $(ip netns list | awk '{print $1}' | grep '^iofdemo-'); do ip netns del "$ns"; done
	rm -rf "$STATE"
}

on_exit() {
	local rc=$?
	if [ $KEEP = 1 ] && [ $rc = 0 ]; then
		echo
		echo "--keep: agent (pid $AGENT_PID) and namespaces left running. Try:"
		echo "  $CTL status --agent $SOCK"
		echo "  $CTL flows --follow --agent $SOCK"
		echo "  ip netns exec iofdemo-client ping 10.77.0.3"
		echo "Run demo.sh again to clean up and start over."
		exit 0
	fi
	teardown
	exit $rc
}

# Leftovers of an earlier (kept or interrupted) run: the processes it recorded.
if [ -f "$STATE/pids" ]; then
	while read -r p; do kill -TERM "$p" 2>/dev/null; done <"$STATE/pids"
	sleep 0.5
fi
teardown
trap on_exit EXIT
trap 'exit 1' INT TERM

echo "== topology: node namespace $NODE with bridge iofdemo-br; workloads client, web, db, ext"
ip netns add $NODE
ip -n $NODE link set lo up
ip -n $NODE link add iofdemo-br type bridge
ip -n $NODE link set iofdemo-br up
workload() { # NAME HOSTIF ADDR4 ADDR6
	local ns=iofdemo-$1
	ip netns add "$ns"
	ip -n $NODE link add "$2" type veth peer name eth0 netns "$ns"
	ip -n $NODE link set "$2" master iofdemo-br up
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "$3/24" dev eth0
	[ -n "$4" ] && ip -n "$ns" addr add "$4/64" dev eth0 nodad
	ip -n "$ns" link set eth0 up
}
workload client iof-client-h 10.77.0.2 fd77::2
workload web iof-web-h 10.77.0.3 fd77::3
workload db iof-db-h 10.77.0.4 fd77::4
workload ext iof-uplink 10.77.0.100 ""   # outside the policy; its uplink has the prefilter
ip -n iofdemo-ext addr add 198.51.100.7/24 dev eth0

mkdir -p "$STATE"
# nsenter execs the command: $! is the server / agent itself, which teardown signals.
serve() {
	nsenter --net=/var/run/netns/iofdemo-"$1" $PROBE serve "$2" "${@:3}" >/dev/null &
	SERVER_PIDS+=($!)
	echo $! >>"$STATE/pids"
}
serve web tcp 80 8080 22
serve web udp 53
serve db tcp 5432 22

echo "== iofenced (node demo-node, state $STATE, pins $PIN)"
nsenter --net=/var/run/netns/$NODE "$IOFENCED" --node demo-node --state "$STATE/state.db" --listen "$SOCK" \
	--pin-dir "$PIN" --log-level info 2>"$STATE/iofenced.log" &
AGENT_PID=$!
echo $AGENT_PID >>"$STATE/pids"
for _ in $(seq 100); do ctl status >/dev/null 2>&1 && break; sleep 0.1; done
ctl status >/dev/null || { cat "$STATE/iofenced.log"; echo "demo.sh: agent did not start" >&2; exit 2; }

echo "== iofencectl apply -f $POLICY"
ctl apply -f "$POLICY" || { cat "$STATE/iofenced.log"; exit 1; }
echo
ctl get endpoints
echo

# Flow events (denies) while probing.
ctl flows --verdict deny --duration 30 >"$STATE/flows.txt" 2>&1 &
FLOWS_PID=$!
sleep 0.3

printf "== probes\n%-8s %-8s %-12s %-26s %-9s %-9s %s\n" FROM TO DST TRAFFIC EXPECTED RESULT ""
failures=0
probe() { # FROM TO DST KIND PORT EXPECTED
	local from=$1 to=$2 dst=$3 kind=$4 port=$5 want=$6 got
	case $kind in
	icmp) in_ns "iofdemo-$from" ping -c1 -W1 "$dst" >/dev/null 2>&1 && got=allowed || got=denied ;;
	icmp-src) in_ns "iofdemo-$from" ping -c1 -W1 -I "$port" "$dst" >/dev/null 2>&1 \
		&& got=allowed || got=denied ;;
	*) in_ns "iofdemo-$from" $PROBE "$kind" "$dst" "$port" 1 && got=allowed || got=denied ;;
	esac
	local traffic="$kind/$port"
	[ "$kind" = icmp ] && traffic="icmp echo"
	[ "$kind" = icmp-src ] && traffic="icmp echo from $port"
	local mark="ok"
	[ "$got" = "$want" ] || { mark="UNEXPECTED"; failures=$((failures + 1)); }
	printf "%-8s %-8s %-12s %-26s %-9s %-9s %s\n" "$from" "$to" "$dst" "$traffic" "$want" "$got" "$mark"
}
probe client web 10.77.0.3 tcp 80 allowed
probe client web 10.77.0.3 tcp 8080 allowed
probe client web fd77::3 tcp 80 allowed
probe client web 10.77.0.3 icmp - allowed
probe client web 10.77.0.3 tcp 22 denied
probe client web 10.77.0.3 udp 53 denied
probe client db 10.77.0.4 tcp 5432 denied
probe web db 10.77.0.4 tcp 5432 allowed
probe web db fd77::4 tcp 5432 allowed
probe web db 10.77.0.4 tcp 22 denied
probe db web 10.77.0.3 tcp 80 denied
probe ext web 10.77.0.3 tcp 80 denied
probe ext web 10.77.0.3 icmp-src 198.51.100.7 denied
sleep 0.5
kill "$FLOWS_PID" 2>/dev/null
wait "$FLOWS_PID" 2>/dev/null

echo
echo "== iofencectl counters"
ctl counters
echo
echo "== iofencectl flows --verdict deny (the probes'; IPv6 multicast listener reports left out)"
grep -v -- '-> ff02::' "$STATE/flows.txt" | head -20
echo
if [ $failures = 0 ]; then
	echo "demo: every probe matched the policy"
else
	echo "demo: $failures probe(s) did not match the policy" >&2
	echo "--- agent log" >&2
	cat "$STATE/iofenced.log" >&2
	exit 1
fi
