#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A long fuzz campaign (docs/FUZZING.md): each target for RUNS executions at nice 19, from
# its corpus in the source tree, new inputs kept in WORK; crashes land in WORK/<target>/.
#   tests/fuzz/campaign.sh BUILD_DIR [RUNS] [TARGETS...]
# BUILD_DIR: a clang tree with -DIOFENCE_FUZZ=ON (-DIOFENCE_FUZZ_SANITIZE=OFF runs ~5x faster;
# the ctest smoke runs keep ASan and UBSan). Afterwards, to fold the finds into the kept
# corpus (minimized): FUZZ_MERGE=1 tests/fuzz/campaign.sh BUILD_DIR 0 TARGET.
set -u
BUILD=$(realpath "$1")
RUNS=${2:-10000000}
shift $(($# < 2 ? $# : 2))
TARGETS=${*:-parse parse_json requests compile}
SRC=$(cd "$(dirname "$0")" && pwd)
WORK=${FUZZ_WORK:-/tmp/iofence-fuzz}
declare -A MAXLEN=([parse]=8192 [parse_json]=8192 [requests]=8192 [compile]=4096)
declare -A DICT=([parse]=$SRC/parse/policy.dict [parse_json]=$SRC/parse_json/json.dict)

for t in $TARGETS; do
	bin=$BUILD/tests/fuzz/$t/fuzz_$t
	mkdir -p "$WORK/$t/corpus" "$SRC/$t/corpus"
	dict=${DICT[$t]:+-dict=${DICT[$t]}}
	if [ "${FUZZ_MERGE:-0}" = 1 ]; then
		# Only inputs that add coverage over what is kept go into the source tree.
		"$bin" -merge=1 -max_len="${MAXLEN[$t]}" "$SRC/$t/corpus" "$WORK/$t/corpus" \
			>"$WORK/$t/merge.log" 2>&1
		echo "$t: merged ($(ls "$SRC/$t/corpus" | wc -l) inputs kept)"
		continue
	fi
	echo "$t: $RUNS runs, log $WORK/$t/log"
	nice -n 19 "$bin" -runs="$RUNS" -max_len="${MAXLEN[$t]}" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 $dict -artifact_prefix="$WORK/$t/" \
		"$WORK/$t/corpus" "$SRC/$t/corpus" >"$WORK/$t/log" 2>&1
	echo "$t: exit $? $(grep -E 'stat::number_of_executed_units' "$WORK/$t/log")"
done
