#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's main command: installs what is missing, builds, and runs the demo. Needs root.
#   scripts/run.sh            three nodes on a VXLAN overlay, one agent each following a local
#                             etcd, cross-node policy, probes, counters, tunnel statistics and
#                             the dashboard's health page as HTML and PNG
#   scripts/run.sh --single   one node: three workloads, one agent on its sqlite store
# Both clean up after themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
"") demo=deploy/demo/overlay-demo.sh ;;
--single) demo=deploy/demo/demo.sh ;;
*) echo "usage: scripts/run.sh [--single]" >&2; exit 1 ;;
esac
scripts/install-deps.sh
scripts/build.sh
exec "$demo" build
