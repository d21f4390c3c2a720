# SPDX-License-Identifier: Apache-2.0
# Helpers of the agent tests, on top of tests/lib/net.sh (namespaces, agents, cleanup): a node
# namespace with a bridge and workload namespaces (veth host sides on the bridge, where the
# agent's programs attach), agents run inside the node namespace. Names: iofag-<test>-<pid>-*;
# pins under /sys/fs/bpf/iofag-<test>-<pid>-*. Usage: source lib.sh TEST IOFENCED IOFENCECTL SRC_DIR
# shellcheck disable=SC2034
set -u

AT_TEST=$1
IOFENCED=$2
CTL=$3
SRC=$4
NET_TAG=$AT_TEST
NET_CHECK=1
PFX=iofag-$AT_TEST-$$
TMP=$(mktemp -d /tmp/iofag-$AT_TEST.XXXXXX)
# shellcheck source=../lib/net.sh
source "$SRC/tests/lib/net.sh"
PROBE="/usr/bin/python3 $SRC/deploy/demo/probe.py"
CGROUPS=() # removed at the end (their processes must have exited)

net_on_fail() {
	for f in "$TMP"/*/log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -30 "$f" >&2; }; done
}
remove_cgroups() { for cg in "${CGROUPS[@]}"; do [ -d "$cg" ] && rmdir "$cg"; done; }
NET_CLEANUP_HOOKS+=(remove_cgroups)

net_require
net_reap_stale "iofag-$AT_TEST"

# node NAME: a node namespace $PFX-NAME with bridge br0.
node() {
	local ns=$PFX-$1
	net_ns_add "$ns"
	ip -n "$ns" link add br0 type bridge
	ip -n "$ns" link set br0 up
}

# workload NODE NAME HOSTIF ADDR4 ADDR6: namespace $PFX-NAME, eth0 bridged into NODE as HOSTIF.
workload() {
	local nodens=$PFX-$1 ns=$PFX-$2
	net_ns_add "$ns"
	ip -n "$nodens" link add "$3" type veth peer name eth0 netns "$ns"
	ip -n "$nodens" link set "$3" master br0 up
	ip -n "$ns" addr add "$4/24" dev eth0
	ip -n "$ns" addr add "$5/64" dev eth0 nodad
	ip -n "$ns" link set eth0 up
}

# cli_srv NET: node n with the pair of workloads most tests use: cli (host side hcli,
# 10.NET.0.2, fdNET::2) and srv (hsrv, 10.NET.0.3, fdNET::3).
cli_srv() {
	node n
	workload n cli hcli "10.$1.0.2" "fd$1::2"
	workload n srv hsrv "10.$1.0.3" "fd$1::3"
}

# cli_srv_policy NET REVISION [RULE...]: the document for them (node n1): cli in group client,
# srv in group server with the RULEs (YAML flow mappings), ingress denied and egress allowed
# by default. An empty REVISION leaves the revision out (the agent numbers it).
cli_srv_policy() {
	local net=$1 rev=$2 rule
	shift 2
	[ -z "$rev" ] || echo "revision: $rev"
	echo "defaults: {ingress: deny, egress: allow}"
	echo "securityGroups:"
	echo "  - {name: client, rules: []}"
	if [ $# = 0 ]; then
		echo "  - {name: server, rules: []}"
	else
		echo "  - name: server"
		echo "    rules:"
		for rule in "$@"; do echo "      - $rule"; done
	fi
	echo "endpoints:"
	echo "  - {name: cli, node: n1, interface: hcli, addresses: [10.$net.0.2], groups: [client]}"
	echo "  - {name: srv, node: n1, interface: hsrv, addresses: [10.$net.0.3], groups: [server]}"
}

# serve WORKLOAD tcp|udp PORT...: echo servers (killed at the end).
serve() {
	nsenter --net=/var/run/netns/"$PFX-$1" $PROBE serve "$2" "${@:3}" >/dev/null &
	track $!
}

# start_agent NAME NODE NODE_NAME [ARGS...]: iofenced in node namespace NODE (net.sh).
start_agent() {
	local name=$1 node=$2
	shift 2
	net_start_agent "$name" "$PFX-$node" "$@"
}
# spawn_agent NAME NODE NODE_NAME [ARGS...] and wait_agent NAME: the same in two steps, so
# that several agents start in parallel.
spawn_agent() {
	local name=$1 node=$2
	shift 2
	net_spawn_agent "$name" "$PFX-$node" "$@"
}
wait_agent() { net_wait_agent "$1"; }

tcp_ok() { in_ns "$PFX-$1" $PROBE tcp "$2" "$3" 1.5 || fail "tcp $2:$3 from $1 should connect"; }
tcp_blocked() { ! in_ns "$PFX-$1" $PROBE tcp "$2" "$3" 0.7 || fail "tcp $2:$3 from $1 should be blocked"; }
udp_ok() { in_ns "$PFX-$1" $PROBE udp "$2" "$3" 1 || fail "udp $2:$3 from $1 should pass"; }
udp_blocked() { ! in_ns "$PFX-$1" $PROBE udp "$2" "$3" 0.7 || fail "udp $2:$3 from $1 should be blocked"; }

# json FILE EXPR: evaluates a Python expression over the JSON document d of FILE.
json() { /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

# valgrind_wrap LOG: an AGENT_WRAP that runs the agent (and what it execs) under memcheck,
# writing to LOG; valgrind_verdict LOG then fails the test if any process lost memory
# (definitely or indirectly) or valgrind reported an error.
valgrind_wrap() {
	echo "valgrind --trace-children=yes --suppressions=$SRC/tests/agent/valgrind.supp" \
		"--tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect" \
		"--errors-for-leak-kinds=definite,indirect --track-fds=no --log-file=$1"
}
valgrind_verdict() {
	local vg=$1 def ind errs
	# the largest figure of every process valgrind followed
	def=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$vg" | tr -d , | sort -n | tail -1)
	ind=$(sed -n 's/.*indirectly lost: \([0-9,]*\) bytes.*/\1/p' "$vg" | tr -d , | sort -n | tail -1)
	errs=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$vg" | sort -n | tail -1)
	grep -q "ERROR SUMMARY" "$vg" || { cat "$vg" >&2; fail "no valgrind summary"; }
	[ "${def:-0}" = 0 ] && [ "${ind:-0}" = 0 ] ||
		{ cat "$vg" >&2; fail "memory lost: definitely ${def:-0}, indirectly ${ind:-0}"; }
	log "valgrind: definitely lost ${def:-0}, indirectly lost ${ind:-0}, errors ${errs:-?}"
	[ "${errs:-1}" = 0 ] || {
		grep -B2 -A14 "^==[0-9]*== [A-Z][a-z]" "$vg" | grep -v "^==[0-9]*== *$" | head -80 >&2
		fail "$errs valgrind errors"
	}
}
