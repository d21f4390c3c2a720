#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/apply: starts an agent (real datapath) in a network namespace of its own with one
# endpoint interface, runs bench_apply against it and prints the tables.
#   bench/apply/run.sh BUILD_DIR [bench_apply options, e.g. --rules 100,10000 --count 100]
set -u
BUILD=${1:?usage: run.sh BUILD_DIR [options]}
shift
NS=iofbench-apply-$$
PIN=/sys/fs/bpf/$NS
TMP=$(mktemp -d /tmp/iofbench.XXXXXX)
AGENT=""
cleanup() {
	[ -n "$AGENT" ] && kill "$AGENT" 2>/dev/null && wait "$AGENT" 2>/dev/null
	[ -d "$PIN" ] && "$BUILD/agent/iofenced/iofenced" --cleanup --pin-dir "$PIN" --log-level error
	ip netns del "$NS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] || { echo "run.sh: needs root"; exit 2; }
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" link add bench0 type veth peer name bench0p
ip -n "$NS" link set bench0 up
ip -n "$NS" link set bench0p up
nsenter --net=/var/run/netns/"$NS" "$BUILD/agent/iofenced/iofenced" --node bench \
	--state "$TMP/state.db" --listen "unix:$TMP/sock" --pin-dir "$PIN" --keep 3 \
	--log-level "${IOFBENCH_LOG:-warn}" 2>"$TMP/log" &
AGENT=$!
for _ in $(seq 100); do "$BUILD/agent/ctl/iofencectl" status --agent "unix:$TMP/sock" >/dev/null 2>&1 && break; sleep 0.1; done
sleep 1
echo "iofenced $(uname -r), $(nproc) CPUs, $(date -u +%FT%TZ)"
"$BUILD/bench/apply/bench_apply" --agent "unix:$TMP/sock" --pid "$AGENT" \
	--netns /var/run/netns/"$NS" --pin-dir "$PIN" "$@"
rc=$?
[ $rc = 0 ] && [ "${IOFBENCH_LOG:-warn}" != debug ] || grep -v libbpf "$TMP/log" | grep -E "${IOFBENCH_GREP:-parse+validate}" | tail -${IOFBENCH_TAIL:-6}
exit $rc
