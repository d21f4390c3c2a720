#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/cluster_starts: STARTS workload starts in cluster mode the orchestrator's way (veth
# down, `endpoint put --enforced`, link up; stop: link and endpoint deleted) against a real
# etcd and agent, with a denied UDP flow at 2,000 pps aimed at the workload all along and a
# responder in it answering everything (tests/cluster/test_endpoint_enforced.sh, whose CI run
# does 20). Prints starts, datagrams sent and delivered (must be 0), and the wait as the CLI
# measured it (p50/p99/max). Root, etcd. Run it holding the bench lock:
#   flock /tmp/iofence-bench.lock bench/cluster_starts/run.sh BUILD_DIR [STARTS (1000)]
set -u
BUILD=$(realpath "$1")
SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
exec bash "$SRCDIR/tests/cluster/test_endpoint_enforced.sh" "$BUILD/agent/iofenced/iofenced" \
	"$BUILD/agent/ctl/iofencectl" "$SRCDIR" "${2:-1000}"
