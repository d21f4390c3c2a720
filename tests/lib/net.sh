# SPDX-License-Identifier: Apache-2.0
# The one shell library of the tests and benches that run hosts in network namespaces
# (tests/agent, tests/e2e, bench/*/run.sh): a per-run name prefix, commands run inside a
# namespace with nsenter (not `ip netns exec`, which hides /sys/fs/bpf), agents (iofenced)
# with their own state, socket and pin dir, leftovers of killed runs removed, and one cleanup
# on every exit that kills only the PIDs this run started, deletes its namespaces and pins,
# and (for tests) checks that nothing is left behind.
#
# Set before sourcing: NET_TAG (log tag), PFX (prefix of this run's namespaces, e.g.
# iofag-TEST-$$), TMP (a directory of this run, removed at exit). Optional: IOFENCED (used to
# unpin agent pins and by net_start_agent), CTL (iofencectl, for net_start_agent and ctl),
# NET_CHECK=1 (fail a passing run that leaves namespaces or pins behind, print PASS).
# Then: PIDS and PINS (arrays the cleanup empties), NET_CLEANUP_HOOKS (functions the cleanup
# runs after killing PIDS, before deleting namespaces), net_unpin and net_on_fail (override to
# change how a pin is removed or what a failure prints).
# shellcheck disable=SC2034
SKIP=249
PIDS=()
PINS=()
NET_CLEANUP_HOOKS=()
declare -A AGENT_PID AGENT_NS

log() { echo "[$NET_TAG] $*"; }
# The system's python3 (its Debian modules: grpcio, yaml) wherever a script says python3: a
# pyenv shim first in PATH costs ~0.7 s a call, and the tests make hundreds.
python3() { /usr/bin/python3 "$@"; }
net_on_fail() { :; }
fail() {
	echo "[$NET_TAG] FAIL: $*" >&2
	net_on_fail
	exit 1
}
skip() {
	echo "[$NET_TAG] SKIP: $*"
	exit $SKIP
}

# net_require: root, iproute2, nsenter and a bpffs (mounted if missing), or skip.
net_require() {
	[ "$(id -u)" = 0 ] || skip "needs root"
	command -v nsenter >/dev/null && command -v ip >/dev/null || skip "needs iproute2 and nsenter"
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf || skip "no bpffs"
}

# in_ns NS CMD...: CMD in network namespace NS.
in_ns() {
	local ns=$1
	shift
	nsenter --net=/var/run/netns/"$ns" "$@"
}

# track PID: a process of this run, killed at exit.
track() { PIDS+=("$1"); }

# bg_ns NS CMD...: CMD in namespace NS in the background (nsenter execs it: $! is its PID).
bg_ns() {
	local ns=$1
	shift
	nsenter --net=/var/run/netns/"$ns" "$@" &
	track $!
}

# net_ns_add NAME: a namespace with lo up.
net_ns_add() {
	ip netns add "$1"
	ip -n "$1" link set lo up
}

# net_unpin PIN: removes an agent's pins (detaching its programs).
net_unpin() {
	[ -d "$1" ] && "$IOFENCED" --cleanup --pin-dir "$1" --log-level error
}

# net_reap_stale STEM: namespaces STEM-<pid>-* and pins /sys/fs/bpf/STEM-<pid>* left by a run
# of this test whose process is gone (killed before its cleanup ran).
net_reap_stale() {
	local stem=$1 ns d pid
	for ns in $(ip netns list | awk '{print $1}' | grep "^$stem-"); do
		pid=${ns#"$stem"-}
		pid=${pid%%-*}
		kill -0 "$pid" 2>/dev/null || ip netns del "$ns"
	done
	for d in /sys/fs/bpf/"$stem"-*; do
		[ -d "$d" ] || continue
		pid=${d#/sys/fs/bpf/"$stem"-}
		pid=${pid%%-*}
		kill -0 "$pid" 2>/dev/null || net_unpin "$d"
	done
}

net_cleanup() {
	local rc=$? p pin ns hook left
	set +e
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.2
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	for hook in "${NET_CLEANUP_HOOKS[@]}"; do "$hook"; done
	for pin in "${PINS[@]}"; do [ -e "$pin" ] && net_unpin "$pin"; done
	if [ -n "${PFX:-}" ]; then
		for ns in $(ip netns list | awk '{print $1}' | grep "^$PFX-"); do ip netns del "$ns"; done
	fi
	[ -z "${TMP:-}" ] || rm -rf "$TMP"
	if [ $rc = 0 ] && [ "${NET_CHECK:-0}" = 1 ]; then
		left=$(ip netns list | grep -c "^$PFX-")
		[ "$left" = 0 ] || { echo "[$NET_TAG] FAIL: namespaces left behind"; rc=1; }
		for pin in "${PINS[@]}"; do
			[ ! -e "$pin" ] || { echo "[$NET_TAG] FAIL: $pin left behind"; rc=1; }
		done
		[ $rc = 0 ] && echo "[$NET_TAG] PASS"
	fi
	exit $rc
}
trap net_cleanup EXIT
trap 'exit 1' INT TERM

# net_spawn_agent NAME NS NODE_NAME [ARGS...]: iofenced in namespace NS with state, socket and
# log under $TMP/NAME and pins under /sys/fs/bpf/$PFX-NAME, not waited for (net_wait_agent):
# agents spawned together load their programs in parallel. Later ARGS win over the defaults
# (--log-level debug). AGENT_PREFIX runs nsenter (e.g. chrt), AGENT_WRAP the agent (valgrind).
net_spawn_agent() {
	local name=$1 ns=$2 node_name=$3
	shift 3
	mkdir -p "$TMP/$name"
	local pin=/sys/fs/bpf/$PFX-$name
	[[ " ${PINS[*]} " == *" $pin "* ]] || PINS+=("$pin")
	${AGENT_PREFIX:-} nsenter --net=/var/run/netns/"$ns" ${AGENT_WRAP:-} "$IOFENCED" --node "$node_name" \
		--state "$TMP/$name/state.db" --listen "unix:$TMP/$name/sock" --pin-dir "$pin" \
		--log-level debug "$@" 2>>"$TMP/$name/log" &
	AGENT_PID[$name]=$!
	AGENT_NS[$name]=$ns
	track $!
}

# net_wait_agent NAME: until the spawned agent answers (fails if it exits first).
net_wait_agent() {
	local name=$1
	for _ in $(seq 600); do
		"$CTL" status --agent "unix:$TMP/$name/sock" >/dev/null 2>&1 && return 0
		kill -0 "${AGENT_PID[$name]}" 2>/dev/null || fail "agent $name exited at start"
		sleep 0.1
	done
	fail "agent $name did not answer"
}

# net_start_agent NAME NS NODE_NAME [ARGS...]: net_spawn_agent, then net_wait_agent.
net_start_agent() {
	net_spawn_agent "$@"
	net_wait_agent "$1"
}

# stop_agent NAME [SIGNAL]: stops it and returns its exit code.
stop_agent() {
	local pid=${AGENT_PID[$1]} rc=0
	kill -"${2:-TERM}" "$pid"
	wait "$pid" || rc=$?
	return $rc
}

# agent NAME: its address; ctl NAME ARGS...: iofencectl against it.
agent() { echo "unix:$TMP/$1/sock"; }
ctl() {
	local a=$1
	shift
	"$CTL" "$@" --agent "$(agent "$a")"
}
