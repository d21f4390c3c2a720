# SPDX-License-Identifier: Apache-2.0
# Shared helpers of the cluster-mode tests, on top of tests/agent/lib.sh (node namespaces,
# workloads, agents, cleanup): a backbone namespace $PFX-net with bridge bb0 (10.79.0.1/24)
# where the etcd members run and iofencectl talks to them, node namespaces joined to it with
# an uplink (10.79.0.1N) and routed to each other's workload subnets, and etcd members
# started and killed by PID. Usage: source lib.sh TEST PORT_BASE IOFENCED IOFENCECTL SRC_DIR
# Ports: PORT_BASE+i (client) and PORT_BASE+5+i (peer) of member i, inside $PFX-net only.
# shellcheck disable=SC2034
CL_TEST=$1
CL_PORT=$2
shift 2
source "$(dirname "${BASH_SOURCE[0]}")/../agent/lib.sh" "$CL_TEST" "$@"
command -v etcd >/dev/null && command -v etcdctl >/dev/null || skip "needs etcd (etcd-server, etcd-client)"

NET=$PFX-net
EIP=10.79.0.1
declare -A ETCD_PID NODE_IDX
ETCD_N=0

backbone() {
	ip netns add "$NET"
	ip -n "$NET" link set lo up
	ip -n "$NET" link add bb0 type bridge
	ip -n "$NET" addr add "$EIP/24" dev bb0
	ip -n "$NET" link set bb0 up
}

# cnode NAME IDX: node namespace (tests/agent/lib.sh) with uplink 10.79.0.1IDX on the backbone,
# workloads in 10.8IDX.0.0/24 (gateway br0 10.8IDX.0.1), routes to the other nodes' subnets.
cnode() {
	local ns=$PFX-$1 idx=$2
	node "$1"
	NODE_IDX[$1]=$idx
	ip -n "$NET" link add "up$idx" type veth peer name up0 netns "$ns"
	ip -n "$NET" link set "up$idx" master bb0 up
	ip -n "$ns" addr add "10.79.0.1$idx/24" dev up0
	ip -n "$ns" link set up0 up
	ip -n "$ns" addr add "10.8$idx.0.1/24" dev br0
	ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
	for other in "${!NODE_IDX[@]}"; do
		local o=${NODE_IDX[$other]}
		[ "$o" = "$idx" ] && continue
		ip -n "$ns" route add "10.8$o.0.0/24" via "10.79.0.1$o"
		ip -n "$PFX-$other" route add "10.8$idx.0.0/24" via "10.79.0.1$idx"
	done
}

# cworkload NODE NAME HOSTIF HOST: workload 10.8IDX.0.HOST routed through its node.
cworkload() {
	local idx=${NODE_IDX[$1]}
	workload "$1" "$2" "$3" "10.8$idx.0.$4" "fd8$idx::$4"
	ip -n "$PFX-$2" route add default via "10.8$idx.0.1"
}

# etcd_start I [INITIAL_CLUSTER]: member I (1..3) in $NET; data in $TMP/etcdI (kept on restart).
etcd_start() {
	local i=$1 cluster=${2:-m1=http://$EIP:$((CL_PORT + 6))} state=new
	[ -d "$TMP/etcd$i" ] && state=existing
	# nsenter execs etcd: $! is etcd's own PID (killed by PID at the end)
	nsenter --net=/var/run/netns/"$NET" etcd --name "m$i" --data-dir "$TMP/etcd$i" \
		--listen-client-urls "http://$EIP:$((CL_PORT + i))" \
		--advertise-client-urls "http://$EIP:$((CL_PORT + i))" \
		--listen-peer-urls "http://$EIP:$((CL_PORT + 5 + i))" \
		--initial-advertise-peer-urls "http://$EIP:$((CL_PORT + 5 + i))" \
		--initial-cluster "$cluster" --initial-cluster-state "$state" \
		--heartbeat-interval 50 --election-timeout 500 >>"$TMP/etcd$i.log" 2>&1 &
	ETCD_PID[$i]=$!
	PIDS+=($!)
	[ "$i" -gt "$ETCD_N" ] && ETCD_N=$i
}

# etcd_wait: until every started member answers.
etcd_wait() {
	for _ in $(seq 150); do
		in_ns "$NET" etcdctl --endpoints "$(endpoints)" endpoint health >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	tail -20 "$TMP"/etcd*.log >&2
	fail "etcd did not start"
}

etcd_stop() { # etcd_stop I [SIGNAL]
	kill -"${2:-TERM}" "${ETCD_PID[$1]}" 2>/dev/null
	wait "${ETCD_PID[$1]}" 2>/dev/null
	return 0
}

# The client URLs of members 1..ETCD_N, comma separated.
endpoints() {
	local s="" i
	for i in $(seq "$ETCD_N"); do s="$s${s:+,}http://$EIP:$((CL_PORT + i))"; done
	echo "$s"
}

# start_cagent NAME NODE NODE_NAME [ARGS...]: an agent following the datastore.
start_cagent() {
	start_agent "$@" --etcd-endpoints "$(endpoints)"
}

# cctl ARGS...: iofencectl on the backbone, with the datastore's endpoints.
cctl() {
	IOFENCE_ETCD_ENDPOINTS=$(endpoints) in_ns "$NET" "$CTL" "$@"
}

etcdctl_ns() { in_ns "$NET" etcdctl --endpoints "$(endpoints)" "$@"; }

rollout_wait() { # rollout_wait [TIMEOUT]
	cctl rollout status --wait --timeout "${1:-30}" >"$TMP/rollout.out" 2>&1 \
		|| { cat "$TMP/rollout.out" >&2; fail "rollout did not converge"; }
}
