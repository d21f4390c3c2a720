# SPDX-License-Identifier: Apache-2.0
# Shared helpers of the agent tests: a node namespace with a bridge and workload namespaces
# (veth host sides on the bridge, where the agent's programs attach), agents run inside the
# node namespace with their own state, socket and pin dir, and a cleanup that runs on every
# exit and only kills the PIDs this test started. Names: iofag-<test>-<pid>-*; pins under
# /sys/fs/bpf/iofag-<test>-<pid>-*. Usage: source lib.sh TEST IOFENCED IOFENCECTL SRC_DIR
# shellcheck disable=SC2034
set -u

AT_TEST=$1
IOFENCED=$2
CTL=$3
SRC=$4
SKIP=249
PFX=iofag-$AT_TEST-$$
TMP=$(mktemp -d /tmp/iofag-$AT_TEST.XXXXXX)
PROBE="/usr/bin/python3 $SRC/deploy/demo/probe.py"
PIDS=()
PINS=()
CGROUPS=() # removed at the end (their processes must have exited)
declare -A AGENT_PID AGENT_NS

log() { echo "[$AT_TEST] $*"; }
fail() {
	echo "[$AT_TEST] FAIL: $*" >&2
	for f in "$TMP"/*/log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -30 "$f" >&2; }; done
	exit 1
}
skip() {
	echo "[$AT_TEST] SKIP: $*"
	exit $SKIP
}

[ "$(id -u)" = 0 ] || skip "needs root"
command -v nsenter >/dev/null && command -v ip >/dev/null || skip "needs iproute2 and nsenter"
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf || skip "no bpffs"

in_ns() {
	local ns=$1
	shift
	nsenter --net=/var/run/netns/"$ns" "$@"
}

cleanup() {
	local rc=$?
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.2
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	for pin in "${PINS[@]}"; do
		[ -d "$pin" ] && "$IOFENCED" --cleanup --pin-dir "$pin" --log-level error
	done
	for ns in $(ip netns list | awk '{print $1}' | grep "^$PFX-"); do ip netns del "$ns"; done
	for cg in "${CGROUPS[@]}"; do [ -d "$cg" ] && rmdir "$cg"; done
	rm -rf "$TMP"
	if [ $rc = 0 ]; then
		local left
		left=$(ip netns list | grep -c "^$PFX-")
		[ "$left" = 0 ] || { echo "[$AT_TEST] FAIL: namespaces left behind"; rc=1; }
		for pin in "${PINS[@]}"; do
			[ ! -e "$pin" ] || { echo "[$AT_TEST] FAIL: $pin left behind"; rc=1; }
		done
	fi
	[ $rc = 0 ] && echo "[$AT_TEST] PASS"
	exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Leftovers of earlier runs of this test whose process is gone.
for ns in $(ip netns list | awk '{print $1}' | grep "^iofag-$AT_TEST-"); do
	pid=${ns#iofag-"$AT_TEST"-}
	pid=${pid%%-*}
	kill -0 "$pid" 2>/dev/null || ip netns del "$ns"
done
for d in /sys/fs/bpf/iofag-"$AT_TEST"-*; do
	[ -d "$d" ] || continue
	pid=${d#/sys/fs/bpf/iofag-"$AT_TEST"-}
	pid=${pid%%-*}
	kill -0 "$pid" 2>/dev/null || "$IOFENCED" --cleanup --pin-dir "$d" --log-level error
done

# node NAME: a node namespace $PFX-NAME with bridge br0.
node() {
	local ns=$PFX-$1
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip -n "$ns" link add br0 type bridge
	ip -n "$ns" link set br0 up
}

# workload NODE NAME HOSTIF ADDR4 ADDR6: namespace $PFX-NAME, eth0 bridged into NODE as HOSTIF.
workload() {
	local nodens=$PFX-$1 ns=$PFX-$2
	ip netns add "$ns"
	ip -n "$nodens" link add "$3" type veth peer name eth0 netns "$ns"
	ip -n "$nodens" link set "$3" master br0 up
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "$4/24" dev eth0
	ip -n "$ns" addr add "$5/64" dev eth0 nodad
	ip -n "$ns" link set eth0 up
}

# serve WORKLOAD tcp|udp PORT...: echo servers (killed at the end).
serve() {
	nsenter --net=/var/run/netns/"$PFX-$1" $PROBE serve "$2" "${@:3}" >/dev/null &
	PIDS+=($!)
}

# start_agent NAME NODE NODE_NAME [ARGS...]: iofenced in node namespace NODE; waits for it.
start_agent() {
	local name=$1 nodens=$PFX-$2 node_name=$3
	shift 3
	mkdir -p "$TMP/$name"
	local pin=/sys/fs/bpf/$PFX-$name
	[[ " ${PINS[*]} " == *" $pin "* ]] || PINS+=("$pin")
	nsenter --net=/var/run/netns/"$nodens" ${AGENT_WRAP:-} "$IOFENCED" --node "$node_name" \
		--state "$TMP/$name/state.db" --listen "unix:$TMP/$name/sock" --pin-dir "$pin" \
		--log-level debug "$@" 2>>"$TMP/$name/log" &
	AGENT_PID[$name]=$!
	AGENT_NS[$name]=$nodens
	PIDS+=($!)
	for _ in $(seq 600); do
		"$CTL" status --agent "unix:$TMP/$name/sock" >/dev/null 2>&1 && return 0
		kill -0 "${AGENT_PID[$name]}" 2>/dev/null || fail "agent $name exited at start"
		sleep 0.1
	done
	fail "agent $name did not answer"
}

# stop_agent NAME [SIGNAL]: stops it and returns its exit code.
stop_agent() {
	local pid=${AGENT_PID[$1]} rc=0
	kill -"${2:-TERM}" "$pid"
	wait "$pid" || rc=$?
	return $rc
}

agent() { echo "unix:$TMP/$1/sock"; }
ctl() { # ctl AGENT ARGS...
	local a=$1
	shift
	"$CTL" "$@" --agent "$(agent "$a")"
}

tcp_ok() { in_ns "$PFX-$1" $PROBE tcp "$2" "$3" 1.5 || fail "tcp $2:$3 from $1 should connect"; }
tcp_blocked() { ! in_ns "$PFX-$1" $PROBE tcp "$2" "$3" 0.7 || fail "tcp $2:$3 from $1 should be blocked"; }
udp_ok() { in_ns "$PFX-$1" $PROBE udp "$2" "$3" 1 || fail "udp $2:$3 from $1 should pass"; }
udp_blocked() { ! in_ns "$PFX-$1" $PROBE udp "$2" "$3" 0.7 || fail "udp $2:$3 from $1 should be blocked"; }

# json FILE EXPR: evaluates a Python expression over the JSON document d of FILE.
json() { /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
