#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/cluster: 3 etcd members on loopback and N agents on this machine, all following them: --none N agents with --datapath none and --real R agents with
# the real datapath (their endpoints' interfaces do not exist here: compile and map writes are
# real, attachments are not). A policy of --rules rules in 100 groups (default 10k), two
# endpoints per node. Then, timed from the write to ALL agents enforcing (their status keys):
#   (a) one endpoint added, --changes times      (b) one rule changed, --changes times
#   (c) endpoint put/delete at --rate per second for --churn-seconds (lag)
# plus each agent's own implementation delay (controller stamp to enforced) and the agents'
# CPU and RSS. Before the modes, the agents' CPU while idle (--idle-seconds, no writes): each
# mode's CPU per agent and change is printed as measured and less that idle rate (marginal).
# Usage: run.sh BUILD_DIR [--none 100] [--real 3] [--changes 30] [--rate 100]
#                         [--churn-seconds 30] [--rules 10000] [--modes abc] [--keep DIR]
#                         [--idle-seconds 30] [--enforce-all 1] [--log-level LEVEL]
#                         [--port-base P] [--floor W] [--put-cost N] [--threads 1]
# --enforce-all 1: every endpoint is in every group, so each node's image holds every rule and
# (b) changes a rule the node enforces (one agent alone with the real datapath: the map writes
# of a one-rule change at --rules rules, as bench/apply measures them for the direct push).
# Ports: six the kernel reports free (etcd's client and peer ports), so that two runs, or a
# test beside one, never collide; --port-base P takes P+1..P+3 (clients) and P+6..P+8 (peers).
# --floor W: no agents; W plain watchers in bench_cluster watch what agents watch while the
# churn writes at --rate for --churn-seconds: the lag and CPU of etcd's own fan-out.
# --threads 1: per thread CPU and switches of one --datapath none agent and one real agent for
# the idle time and each mode (perf stat --per-thread; threads.py prints RESULT threads lines).
# --put-cost N: no agents; what one status put costs the agent's process, the agent's way
# against a queue and a deadline per call (bench_status_put: 10 rounds of N puts each).
# --keep DIR: the etcd and agent logs (agents then log at info level: a line per apply) and each mode's
# per-change lines (CHANGE: revision, time to all, the slowest agent's own delay, the last node)
# are copied to DIR. --log-level: the agents' level (default warn, info with --keep; debug adds
# each apply's steps: derive, compile, datapath, store).
set -u
BUILD=$1
shift
NONE=100 REAL=3 CHANGES=30 RATE=100 CHURN=30 RULES=10000 MODES=abc KEEP= FLOOR=0 IDLE=30
ALL=0 LEVEL= PORT_BASE= PUT_COST=0 THREADS=0
while [ $# -gt 0 ]; do
	case $1 in
	--none) NONE=$2 ;;
	--real) REAL=$2 ;;
	--changes) CHANGES=$2 ;;
	--rate) RATE=$2 ;;
	--churn-seconds) CHURN=$2 ;;
	--rules) RULES=$2 ;;
	--modes) MODES=$2 ;;
	--keep) KEEP=$2 ;;
	--floor) FLOOR=$2 ;;
	--idle-seconds) IDLE=$2 ;;
	--enforce-all) ALL=$2 ;;
	--log-level) LEVEL=$2 ;;
	--port-base) PORT_BASE=$2 ;;
	--put-cost) PUT_COST=$2 ;;
	--threads) THREADS=$2 ;;
	*) echo "run.sh: unknown option $1" >&2; exit 1 ;;
	esac
	shift 2
done
SKIP=249
IOFENCED=$BUILD/agent/iofenced/iofenced
CTL=$BUILD/agent/ctl/iofencectl
BENCH=$BUILD/bench/cluster/bench_cluster
GEN="/usr/bin/python3 $(dirname "$0")/../../tests/cluster/gen_doc.py"
[ "$(id -u)" = 0 ] || { echo "bench/cluster: needs root"; exit $SKIP; }
command -v etcd >/dev/null || { echo "bench/cluster: needs etcd"; exit $SKIP; }
TMP=$(mktemp -d /tmp/iofbench-cluster.XXXXXX)
PIDS=()
PINS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	for pin in "${PINS[@]}"; do [ -d "$pin" ] && "$IOFENCED" --cleanup --pin-dir "$pin" --log-level error; done
	[ -n "$KEEP" ] && mkdir -p "$KEEP" && cp "$TMP"/*.log "$TMP"/*.out "$KEEP"/ 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# free_ports N: N distinct loopback ports nobody listens on now (bound together, then released)
free_ports() {
	/usr/bin/python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}
if [ -n "$PORT_BASE" ]; then
	CLIENT=($((PORT_BASE + 1)) $((PORT_BASE + 2)) $((PORT_BASE + 3)))
	PEER=($((PORT_BASE + 6)) $((PORT_BASE + 7)) $((PORT_BASE + 8)))
else
	read -r -a ports <<<"$(free_ports 6)"
	CLIENT=("${ports[@]:0:3}") PEER=("${ports[@]:3:3}")
fi
EPS=http://127.0.0.1:${CLIENT[0]},http://127.0.0.1:${CLIENT[1]},http://127.0.0.1:${CLIENT[2]}
cluster=m1=http://127.0.0.1:${PEER[0]},m2=http://127.0.0.1:${PEER[1]},m3=http://127.0.0.1:${PEER[2]}
for i in 1 2 3; do
	client=http://127.0.0.1:${CLIENT[i - 1]} peer=http://127.0.0.1:${PEER[i - 1]}
	etcd --name "m$i" --data-dir "$TMP/etcd$i" --listen-client-urls "$client" \
		--advertise-client-urls "$client" --listen-peer-urls "$peer" \
		--initial-advertise-peer-urls "$peer" \
		--initial-cluster "$cluster" >"$TMP/etcd$i.log" 2>&1 &
	PIDS+=($!)
	ETCD_PIDS+=" $!"
done
for _ in $(seq 100); do etcdctl --endpoints "$EPS" endpoint health >/dev/null 2>&1 && break; sleep 0.1; done
etcdctl --endpoints "$EPS" endpoint health >/dev/null 2>&1 || {
	tail -3 "$TMP"/etcd*.log
	echo "bench/cluster: etcd did not start on ports ${CLIENT[*]} ${PEER[*]}"
	exit 1
}
if [ "$PUT_COST" -gt 0 ]; then
	"$BUILD/bench/cluster/bench_status_put" "http://127.0.0.1:${CLIENT[0]}" "$PUT_COST" 10
	exit
fi
N=$((NONE + REAL))
$GEN 100 $((RULES / 100 > 0 ? RULES / 100 : 1)) 1000 "$N" "$([ "$ALL" = 1 ] && echo all)" \
	>"$TMP/policy.yaml"
"$CTL" apply -f "$TMP/policy.yaml" --etcd-endpoints "$EPS" >/dev/null || { echo "apply failed"; exit 1; }
cpu_ticks() { local t=0; for p in $1; do t=$((t + $(awk '{print $14 + $15}' /proc/$p/stat))); done; echo $t; }
HZ=$(getconf CLK_TCK)
if [ "$FLOOR" -gt 0 ]; then
	e0=$(cpu_ticks "$ETCD_PIDS") w0=$(date +%s.%N)
	"$BENCH" "$EPS" "$FLOOR" watch-floor "$RATE" "$CHURN" | tee "$TMP/floor.out" | grep RESULT
	echo "RESULT cpu mode=watch-floor watchers=$FLOOR etcd_cpu_s=$(awk -v t=$(($(cpu_ticks "$ETCD_PIDS") - e0)) -v hz="$HZ" 'BEGIN {printf "%.1f", t / hz}') wall_s=$(awk -v a="$w0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') loadavg=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /)"
	exit 0
fi
AGENT_PIDS=""
for i in $(seq 0 $((N - 1))); do
	# spread the agents over the members: each starts with another endpoint
	e1=${CLIENT[i % 3]} e2=${CLIENT[(i + 1) % 3]} e3=${CLIENT[(i + 2) % 3]}
	dp=(--datapath none)
	if [ "$i" -ge "$NONE" ]; then
		dp=(--pin-dir "/sys/fs/bpf/iofbench-cluster-$$-$i")
		PINS+=("/sys/fs/bpf/iofbench-cluster-$$-$i")
	fi
	level=warn
	[ -n "$KEEP" ] && level=info
	[ -n "$LEVEL" ] && level=$LEVEL
	"$IOFENCED" --node "node-$i" --state "$TMP/a$i.db" --listen "unix:$TMP/a$i.sock" "${dp[@]}" \
		--etcd-endpoints "http://127.0.0.1:$e1,http://127.0.0.1:$e2,http://127.0.0.1:$e3" \
		--log-level $level 2>"$TMP/a$i.log" &
	PIDS+=($!)
	AGENT_PIDS+=" $!"
done
"$CTL" rollout status --wait --timeout 300 --etcd-endpoints "$EPS" >"$TMP/rollout" \
	|| { tail -3 "$TMP/rollout"; echo "agents did not converge"; exit 1; }
echo "bench/cluster: $NONE agents --datapath none + $REAL real, $RULES rules, 3 etcd members, converged"
none_pids=$([ "$NONE" -gt 0 ] && echo $AGENT_PIDS | cut -d' ' -f1-"$NONE")
real_pids=$([ "$REAL" -gt 0 ] && echo $AGENT_PIDS | cut -d' ' -f$((NONE + 1))-)
PERF_PIDS=""
if [ "$THREADS" = 1 ]; then
	command -v perf >/dev/null || { echo "bench/cluster: --threads needs perf"; exit $SKIP; }
	for kind in none real; do
		[ $kind = none ] && p=${none_pids%% *} || p=${real_pids%% *}
		[ -n "$p" ] || continue
		date +%s.%N >"$TMP/threads-$kind.start"
		perf stat -I 1000 -x, --per-thread -e task-clock,context-switches -p "$p" \
			-o "$TMP/threads-$kind.csv" &
		PERF_PIDS+=" $!"
		PIDS+=($!)
	done
fi

rss_kb() { local t=0 n=0; for p in $1; do t=$((t + $(awk '/VmRSS/ {print $2}' /proc/$p/status))); n=$((n + 1)); done; echo $((t / n)); }
# CPU seconds of the agents and of the etcd members while one mode ran, and the load average;
# per agent and change: as measured, and less the agents' idle CPU over the same time
IDLE_RATE=0 # CPU seconds per second of all agents together, idle
cpu_line() { # cpu_line MODE CHANGES AGENT_TICKS0 ETCD_TICKS0 WALL0
	local a=$(($(cpu_ticks "$AGENT_PIDS") - $3)) e=$(($(cpu_ticks "$ETCD_PIDS") - $4))
	local wall
	local end
	end=$(date +%s.%N)
	wall=$(awk -v a="$5" -v b="$end" 'BEGIN {printf "%.2f", b - a}')
	echo "$1 $5 $end $2" >>"$TMP/modes"
	awk -v m="$1" -v c="$2" -v a="$a" -v e="$e" -v hz="$HZ" -v w="$wall" -v n="$N" \
		-v idle="$IDLE_RATE" -v load="$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /)" 'BEGIN {
		printf "RESULT cpu mode=%s agents_cpu_s=%.1f etcd_cpu_s=%.1f wall_s=%.1f loadavg=%s", m, a / hz, e / hz, w, load
		if (c > 0) printf " per_agent_change_ms=%.3f marginal_ms=%.3f", a / hz / n / c * 1e3, (a / hz - idle * w) / n / c * 1e3
		else printf " per_agent_ms_per_s=%.3f", a / hz / n / w * 1e3
		printf "\n" }'
}
run_mode() { # run_mode MODE CHANGES ARGS...
	local m=$1 c=$2 a0 e0 w0
	shift 2
	a0=$(cpu_ticks "$AGENT_PIDS") e0=$(cpu_ticks "$ETCD_PIDS") w0=$(date +%s.%N)
	"$BENCH" "$EPS" "$N" "$m" "$@" | tee "$TMP/$m.out" | grep RESULT
	local rc=${PIPESTATUS[0]}
	cpu_line "$m" "$c" "$a0" "$e0" "$w0"
	return "$rc"
}

if [ "$IDLE" -gt 0 ]; then
	sleep 3 # the rollout's last status puts and the start's heap trims
	a0=$(cpu_ticks "$AGENT_PIDS") e0=$(cpu_ticks "$ETCD_PIDS") w0=$(date +%s.%N)
	sleep "$IDLE"
	cpu_line idle 0 "$a0" "$e0" "$w0"
	IDLE_RATE=$(awk -v t=$(($(cpu_ticks "$AGENT_PIDS") - a0)) -v hz="$HZ" -v w="$(awk -v a="$w0" -v b="$(date +%s.%N)" 'BEGIN {print b - a}')" 'BEGIN {printf "%.6f", t / hz / w}')
fi
if [[ $MODES == *a* ]]; then run_mode endpoint-adds "$CHANGES" "$CHANGES" || exit 1; fi
if [[ $MODES == *b* ]]; then run_mode rule-changes "$CHANGES" "$CHANGES" || exit 1; fi
if [[ $MODES == *c* ]]; then run_mode churn "$(awk -v r="$RATE" -v s="$CHURN" 'BEGIN {print int(r * s)}')" "$RATE" "$CHURN"; fi
if [ -n "$PERF_PIDS" ]; then
	sleep 1 # the last interval
	for p in $PERF_PIDS; do kill -INT "$p"; done
	for p in $PERF_PIDS; do wait "$p"; done
	for kind in none real; do
		[ -f "$TMP/threads-$kind.csv" ] && /usr/bin/python3 "$(dirname "$0")/threads.py" \
			"$TMP/modes" "$TMP/threads-$kind.start" "$TMP/threads-$kind.csv" $kind
	done
fi
echo "RESULT agents${none_pids:+ rss_none_kb=$(rss_kb "$none_pids")}${real_pids:+ rss_real_kb=$(rss_kb "$real_pids")} etcd_rss_kb=$(rss_kb "$ETCD_PIDS")"
