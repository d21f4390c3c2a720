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
		# The kept corpus: the named seeds and regressions, and a minimal set of inputs
		# (by edge coverage) of everything found, under their SHA-1 names.
		min=$WORK/$t/min
		rm -rf "$min" && mkdir -p "$min"
		"$bin" -merge=1 -use_counters=0 -max_len="${MAXLEN[$t]}" "$min" "$SRC/$t/corpus" \
			"$WORK/$t/corpus" >"$WORK/$t/merge.log" 2>&1 || { echo "$t: merge failed"; continue; }
		find "$SRC/$t/corpus" -type f -regextype egrep -regex '.*/[0-9a-f]{40}' -delete
		for f in "$SRC/$t/corpus"/*; do
			[ -f "$f" ] && rm -f "$min/$(sha1sum <"$f" | cut -c1-40)"
		done
		cp "$min"/* "$SRC/$t/corpus/" 2>/dev/null
		echo "$t: $(ls "$SRC/$t/corpus" | wc -l) inputs kept," \
			"$(du -sh --apparent-size "$SRC/$t/corpus" | cut -f1)"
		continue
	fi
	echo "$t: $RUNS runs, log $WORK/$t/log"
	nice -n 19 "$bin" -runs="$RUNS" -max_len="${MAXLEN[$t]}" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 $dict -artifact_prefix="$WORK/$t/" \
		"$WORK/$t/corpus" "$SRC/$t/corpus" >"$WORK/$t/log" 2>&1
	echo "$t: exit $? $(grep -E 'stat::number_of_executed_units' "$WORK/$t/log")"
done
