#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/hostile: how long the agent takes to answer hostile Apply requests sent by several
# clients at once, and to acknowledge (enforced and committed) valid applies sent among them.
# An agent with the real datapath in a node namespace (tests/agent/lib.sh); root.
#   bench/hostile/run.sh BUILD_DIR [--seconds 20] [--clients 4] [--size 200000] [--busy N]
# --busy N: N busy loops at nice 0 beside the agent for the whole run (a controlled load).
# --burst N: instead, N clients send the densest text of --size bytes at once; prints how each
# was answered and the agent's peak RSS (VmHWM) (from the C client with --c-client). --agent
# DIR: the agent binaries of DIR.
# --wall-ms MS: the agent's --apply-read-wall-ms (default: its own).
# --c-client: the hostile requests come from bench_hostile_send (C, the gRPC core: the
# transport iofencectl has) rather than Python, the densest text of --size bytes; first its
# floor, a text of that size the agent refuses at once, alone.
# --apply FILE: instead, iofencectl applies FILE (a large valid document, e.g. written by
# bench_compile --rules 100000 --write FILE) --count times (default 5); prints each answer and
# its time (the agent's node has no endpoint in it: the read is what is timed).
# Prints a markdown table (docs/BENCHMARKS.md, "Hostile requests"); also the parser alone:
# build/bench/hostile/bench_hostile_parse.
set -u
[ -f "$(realpath "$1")/tests/agent/py/iofence/v1/agent_pb2_grpc.py" ] && /usr/bin/python3 -c "import grpc" 2>/dev/null || { echo "SKIP: no Python gRPC stubs or grpcio"; exit 249; }
BUILD=$(realpath "$1")
shift
SECONDS_=20 CLIENTS=4 SIZE=200000 BUSY=0 BURST=0 C_CLIENT=0 APPLY= COUNT=5 AGENT_DIR=$BUILD/agent/iofenced WALL=()
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) SECONDS_=$2 ;;
	--clients) CLIENTS=$2 ;;
	--size) SIZE=$2 ;;
	--busy) BUSY=$2 ;;
	--burst) BURST=$2 ;;
	--apply) APPLY=$(realpath "$2") ;;
	--count) COUNT=$2 ;;
	--agent) AGENT_DIR=$(realpath "$2") ;;
	--wall-ms) WALL=(--apply-read-wall-ms "$2") ;;
	--c-client) C_CLIENT=1; shift; continue ;;
	*) echo "usage: $0 BUILD_DIR [--seconds S] [--clients N] [--size BYTES] [--busy N] [--burst N] [--apply FILE [--count N]] [--agent DIR] [--wall-ms MS] [--c-client]" >&2; exit 2 ;;
	esac
	shift 2
done
SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
source "$SRCDIR/tests/agent/lib.sh" hostilebench "$AGENT_DIR/iofenced" \
	"$BUILD/agent/ctl/iofencectl" "$SRCDIR"

node n
workload n cli hcli 10.77.0.2 fd77::2
workload n srv hsrv 10.77.0.3 fd77::3
for port in 8080 9090; do
	cat >"$TMP/p$port.yaml" <<YAML
defaults: {ingress: deny, egress: allow}
securityGroups:
  - name: client
    rules: []
  - name: server
    rules:
      - {direction: ingress, protocol: tcp, ports: [$port], group: client}
endpoints:
  - {name: cli, node: n1, interface: hcli, addresses: [10.77.0.2], groups: [client]}
  - {name: srv, node: n1, interface: hsrv, addresses: [10.77.0.3], groups: [server]}
YAML
done
# (debug with --apply: the log says when each message arrived and how long its read took)
start_agent a n n1 --log-level "$([ -n "$APPLY" ] && echo debug || echo info)" "${WALL[@]}"
BUSY_PIDS=()
stop_busy() { for pid in "${BUSY_PIDS[@]}"; do kill "$pid" 2>/dev/null; done; BUSY_PIDS=(); }
trap 'stop_busy; net_cleanup' EXIT
for ((i = 0; i < BUSY; i++)); do
	nice -n 0 sh -c 'while :; do :; done' &
	BUSY_PIDS+=($!)
done
echo "busy loops: $BUSY; load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "$APPLY" ]; then
	for ((i = 0; i < COUNT; i++)); do
		t0=$(date +%s%N)
		out=$("$BUILD/agent/ctl/iofencectl" apply -f "$APPLY" --agent "unix:$TMP/a/sock" 2>&1)
		rc=$?
		echo "apply $((i + 1)): exit $rc in $((($(date +%s%N) - t0) / 1000000)) ms: $(echo "$out" | grep -v '^warning' | tail -1 | cut -c1-160)"
	done
	echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	grep -E "message arrived|apply: read|apply stopped|apply refused" "$TMP/a/log" | cut -c1-200
	stop_busy
	exit 0
fi
if [ "$BURST" -gt 0 ]; then
	echo "agent RSS before: $(($(awk '/VmRSS/ {print $2}' /proc/"${AGENT_PID[a]}"/status) / 1024)) MiB"
	echo "burst sent at $(date -u +%T.%N | cut -c1-12)"
	if [ "$C_CLIENT" = 1 ]; then
		"$BUILD/bench/hostile/bench_hostile_send" --agent "unix:$TMP/a/sock" --size "$SIZE" \
			--clients "$BURST" --once || fail "burst"
	else
		/usr/bin/python3 "$SRCDIR/tests/agent/grpc_hostile.py" "$BUILD/tests/agent/py" \
			"$TMP/a/sock" "$TMP/a/log" burst "$BURST" "$SIZE" || fail "burst"
	fi
	echo "agent peak RSS (VmHWM): $(($(awk '/VmHWM/ {print $2}' /proc/"${AGENT_PID[a]}"/status) / 1024)) MiB"
	echo "the agent's answers (its log):"
	grep -E "apply (refused|stopped|not started)" "$TMP/a/log" | cut -c1-150
	exit 0
fi
if [ "$C_CLIENT" = 1 ]; then
	SEND="$BUILD/bench/hostile/bench_hostile_send --agent unix:$TMP/a/sock --size $SIZE"
	echo "floor (alone):"
	$SEND --shape nested --clients 1 --seconds 3 || fail "bench_hostile_send"
	$SEND --shape dense --clients "$CLIENTS" --seconds "$SECONDS_" >"$TMP/send.out" &
	SEND_PID=$!
	/usr/bin/python3 "$SRCDIR/tests/agent/grpc_hostile.py" "$BUILD/tests/agent/py" \
		"$TMP/a/sock" "$TMP/a/log" bench "$SECONDS_" 0 "$SIZE" "$TMP/p8080.yaml" \
		"$TMP/p9090.yaml" || fail "bench"
	wait "$SEND_PID" || fail "bench_hostile_send"
	cat "$TMP/send.out"
else
	/usr/bin/python3 "$SRCDIR/tests/agent/grpc_hostile.py" "$BUILD/tests/agent/py" \
		"$TMP/a/sock" "$TMP/a/log" bench "$SECONDS_" "$CLIENTS" "$SIZE" "$TMP/p8080.yaml" \
		"$TMP/p9090.yaml" || fail "bench"
fi
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
stop_busy
echo "agent RSS after: $(($(awk '/VmRSS/ {print $2}' /proc/"${AGENT_PID[a]}"/status) / 1024)) MiB"
