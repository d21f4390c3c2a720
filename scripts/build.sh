#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Configures and builds iofence: build/ (gcc, RelWithDebInfo: agent, CLI, BPF, tests)
# and, with --asan, build-asan/ (clang, ASan+UBSan, libFuzzer targets) for the unit tests.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"

if [ "${1:-}" = "--asan" ]; then
  CC=clang cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug \
    -DIOFENCE_SANITIZE=ON -DIOFENCE_FUZZ=ON >/dev/null
  cmake --build build-asan -j"$jobs"
fi
