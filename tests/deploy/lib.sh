# SPDX-License-Identifier: Apache-2.0
# Helpers of the deployment tests: a temp dir removed at exit, processes and network
# namespaces of the test ended and deleted at exit (even on failure), log/fail/skip.
# Usage: source lib.sh NAME   (skip exits 249, ctest's SKIP_RETURN_CODE)
set -u
DT_NAME=$1
TMP=$(mktemp -d "/tmp/iofdeploy-$DT_NAME.XXXXXX")
PIDS=() NETNS=()
log() { echo "[$DT_NAME] $*"; }
fail() { echo "[$DT_NAME] FAIL: $*" >&2; exit 1; }
skip() { echo "[$DT_NAME] SKIP: $*"; exit 249; }
dt_cleanup() {
	local p ns
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	for ns in "${NETNS[@]}"; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$TMP"
}
trap dt_cleanup EXIT
trap 'exit 1' INT TERM
