#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's main command: installs what is missing, builds, and runs the demo: three
# workloads in network namespaces, iofenced on its default embedded sqlite store, a policy
# applied with iofencectl, and the allowed/denied matrix with counters. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec deploy/demo/demo.sh build
