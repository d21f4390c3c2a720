#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/soak: APPLIES applies alternating between two policies while UDP flows run both ways
# between two workload namespaces (soak.py); every packet judged by exactly one revision, no
# allowed packet lost, no denied one delivered, the agent's RSS flat. Root.
#   bench/soak/run.sh BUILD_DIR [--applies 10000] [--rate 400]
# RATE: packets per second per direction (spread over the four ports). Prints a table
# (docs/BENCHMARKS.md, "Soak"); exit 1 when a promise is broken.
set -u
BUILD=$(realpath "$1")
shift
APPLIES=10000 RATE=400
while [ $# -gt 0 ]; do
	case $1 in
	--applies) APPLIES=$2 ;;
	--rate) RATE=$2 ;;
	*) echo "usage: $0 BUILD_DIR [--applies N] [--rate PPS]" >&2; exit 2 ;;
	esac
	shift 2
done
SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
source "$SRCDIR/tests/agent/lib.sh" soak "$BUILD/agent/iofenced/iofenced" \
	"$BUILD/agent/ctl/iofencectl" "$SRCDIR"
[ -f "$BUILD/tests/agent/py/iofence/v1/agent_pb2_grpc.py" ] || skip "no Python stubs"

node n
workload n wa hwa 10.75.0.2 fd75::2
workload n wb hwb 10.75.0.3 fd75::3
# IPv4 only: IPv6 router solicitations, MLD reports and neighbour discovery of the bridge and
# the workloads would be dropped by the ingress default during the run and counted as drops
# of packets the senders never sent (how many depends on how soon after the links came up the
# run starts).
for dev in br0 hwa hwb; do ip netns exec "$PFX-n" sysctl -qw "net.ipv6.conf.$dev.disable_ipv6=1"; done
for w in wa wb; do ip netns exec "$PFX-$w" sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1; done
policy() { # NAME ONLY_PORT: 7001 and ONLY_PORT allowed into both workloads
	cat >"$TMP/$1.yaml" <<YAML
defaults: {ingress: deny, egress: allow}
securityGroups:
  - name: peers
    rules:
      - {direction: ingress, protocol: udp, ports: [7001, $2], group: peers}
endpoints:
  - {name: wa, node: n1, interface: hwa, addresses: [10.75.0.2], groups: [peers]}
  - {name: wb, node: n1, interface: hwb, addresses: [10.75.0.3], groups: [peers]}
YAML
}
policy p1 7002
policy p2 7003
start_agent a n n1 --log-level warn
ctl a apply -f "$TMP/p1.yaml" >/dev/null || fail "first apply"
/usr/bin/python3 "$SRCDIR/bench/soak/soak.py" run "$BUILD/tests/agent/py" "$TMP/a/sock" \
	"${AGENT_PID[a]}" "$PFX-wa" 10.75.0.2 "$PFX-wb" 10.75.0.3 "$APPLIES" "$RATE" \
	"$TMP/p1.yaml" "$TMP/p2.yaml" || fail "soak"
