#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's test command: installs what is missing, builds both trees and runs every test.
# Unit and fuzz tests run in the sanitizer tree (ASan+UBSan); bpf, e2e and agent tests run in
# the plain tree (they load BPF programs and run the agent under valgrind). Needs root.
# Tests run in parallel, one per CPU: those that share something say so (RESOURCE_LOCK) and
# those that need the machine to themselves run alone (RUN_SERIAL).
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh || exit 2
scripts/build.sh --asan || exit 2

status=0
summary=()
run_ctest() { # tree, label filter args...
  local tree=$1; shift
  local log; log=$(mktemp)
  (cd "$tree" && ctest --output-on-failure --timeout 900 -j"$(nproc)" "$@") 2>&1 | tee "$log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  summary+=("$(grep -E 'tests passed|tests failed' "$log" | tail -1)")
  local total failed skipped
  total=$(grep -oE 'out of [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
  failed=$(grep -oE '[0-9]+ tests failed' "$log" | tail -1 | grep -oE '^[0-9]+')
  skipped=$(grep -cE '\*\*\*Skipped|Not Run' "$log")
  TOTAL=$((TOTAL + ${total:-0})); FAILED=$((FAILED + ${failed:-0})); SKIPPED=$((SKIPPED + skipped))
  rm -f "$log"
}
TOTAL=0 FAILED=0 SKIPPED=0
run_ctest build-asan -L 'unit|fuzz'
run_ctest build -LE 'unit|fuzz'

echo
# Randomised suites print their seeds; IOFENCE_SEED=N reproduces a run.
grep -h 'IOFENCE_SEED=' build-asan/Testing/Temporary/LastTest.log build/Testing/Temporary/LastTest.log 2>/dev/null | sort -u
echo "sanitizer tree (unit, fuzz): ${summary[0]}"
echo "plain tree (bpf, e2e, agent): ${summary[1]}"
echo "tests: $((TOTAL - FAILED - SKIPPED)) passed, ${FAILED} failed, ${SKIPPED} skipped"
exit $status
