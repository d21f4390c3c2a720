#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/apply: starts an agent (real datapath) in a network namespace of its own with one
# endpoint interface, runs bench_apply against it and prints the tables.
#   bench/apply/run.sh BUILD_DIR [bench_apply options, e.g. --rules 100,10000 --count 100]
set -u
BUILD=${1:?usage: run.sh BUILD_DIR [options]}
shift
NET_TAG=bench-apply
PFX=iofbench-apply-$$
NS=$PFX-node
TMP=$(mktemp -d /tmp/iofbench.XXXXXX)
IOFENCED=$BUILD/agent/iofenced/iofenced
CTL=$BUILD/agent/ctl/iofencectl
# shellcheck source=../../tests/lib/net.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../tests/lib/net.sh"
[ "$(id -u)" = 0 ] || { echo "run.sh: needs root"; exit 2; }
net_require
net_reap_stale iofbench-apply

net_ns_add "$NS"
ip -n "$NS" link add bench0 type veth peer name bench0p
ip -n "$NS" link set bench0 up
ip -n "$NS" link set bench0p up
net_start_agent a "$NS" bench --keep 3 --log-level "${IOFBENCH_LOG:-warn}"
sleep 1
echo "iofenced $(uname -r), $(nproc) CPUs, $(date -u +%FT%TZ)"
"$BUILD/bench/apply/bench_apply" --agent "$(agent a)" --pid "${AGENT_PID[a]}" \
	--netns /var/run/netns/"$NS" --pin-dir "/sys/fs/bpf/$PFX-a" "$@"
rc=$?
[ $rc = 0 ] && [ "${IOFBENCH_LOG:-warn}" != debug ] ||
	grep -v libbpf "$TMP/a/log" | grep -E "${IOFBENCH_GREP:-validate [0-9.]+ ms}" | tail -${IOFBENCH_TAIL:-6}
exit $rc
