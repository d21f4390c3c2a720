#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Two promises of the CLI against a real agent: `apply --dry-run` prints the warning lines the
# apply itself prints (from the agent, which alone sees its node), and changes nothing; and
# `get policy` returns the text the user wrote (comments, order) for each stored revision,
# also after the agent restarted.
# Usage: cli_source_dryrun_test.sh IOFENCED IOFENCECTL SRC_DIR
set -u
IOFENCED=$1 CTL=$2 SRC=$3
NET_TAG=cli-source
NET_CHECK=1
PFX=iofcli-src-$$
TMP=$(mktemp -d /tmp/iofcli-src.XXXXXX)
# shellcheck source=../lib/net.sh
source "$SRC/tests/lib/net.sh"
net_require
net_reap_stale iofcli-src
net_ns_add "$PFX-ns"
A=unix:$TMP/a/sock

start() {
	mkdir -p "$TMP/a"
	bg_ns "$PFX-ns" "$IOFENCED" --datapath none --node node-a --state "$TMP/a/state.db" \
		--listen "$A" 2>>"$TMP/a/log"
	AGENT=$!
	for _ in $(seq 100); do "$CTL" status --agent "$A" >/dev/null 2>&1 && return; sleep 0.1; done
	fail "agent did not start: $(cat "$TMP/a/log")"
}
start

# A document for another node and without revision: two warnings on node-a.
cat >"$TMP/elsewhere.yaml" <<'YAML'
securityGroups:
  - name: web
    rules: []
endpoints:
  - {name: w1, node: node-b, interface: veth-w1, addresses: [10.0.0.1], groups: [web]}
YAML
"$CTL" apply --dry-run -f "$TMP/elsewhere.yaml" --agent "$A" >"$TMP/dry.out" 2>"$TMP/dry.err" \
	|| fail "dry-run: exit $?: $(cat "$TMP/dry.err")"
grep -q "warning: node node-a: no endpoint and no prefilter" "$TMP/dry.err" \
	|| fail "dry-run lacks the node warning: $(cat "$TMP/dry.err")"
grep -q "warning: the document has no revision" "$TMP/dry.err" || fail "dry-run lacks the revision warning"
"$CTL" history --agent "$A" | grep -q '(no revision stored)' \
	|| fail "dry-run stored something: $("$CTL" history --agent "$A")"
"$CTL" apply --dry-run --strict -f "$TMP/elsewhere.yaml" --agent "$A" >/dev/null 2>"$TMP/strict.err"
[ $? = 1 ] && grep -q "would be refused: strict: 2 warnings" "$TMP/strict.err" \
	|| fail "dry-run --strict: $(cat "$TMP/strict.err")"
"$CTL" apply --dry-run -o json -f "$TMP/elsewhere.yaml" --agent "$A" 2>/dev/null \
	| python3 -c 'import json,sys; a=json.load(sys.stdin)["agents"][0]; assert len(a["warnings"]) == 2, a' \
	|| fail "dry-run -o json: warnings"
"$CTL" apply -f "$TMP/elsewhere.yaml" --agent "$A" >/dev/null 2>"$TMP/apply.err" || fail "apply"
diff <(grep warning: "$TMP/dry.err") <(grep warning: "$TMP/apply.err") >/dev/null \
	|| fail "dry-run and apply warn differently: $(cat "$TMP/dry.err" "$TMP/apply.err")"
log "apply --dry-run prints the warnings apply prints, and stores nothing"

# Revision 2 and 3 from files with comments; the text comes back verbatim, per revision.
cat >"$TMP/r2.yaml" <<'YAML'
# revision two: the web tier
revision: 2
endpoints: []          # none yet
securityGroups:
  - name: web          # order kept: endpoints came first
    rules: []
YAML
sed 's/revision two/revision three/; s/^revision: 2/revision: 3/' "$TMP/r2.yaml" >"$TMP/r3.yaml"
"$CTL" apply -f "$TMP/r2.yaml" --agent "$A" >/dev/null 2>&1 || fail "apply r2"
"$CTL" apply -f "$TMP/r3.yaml" --agent "$A" >/dev/null 2>&1 || fail "apply r3"
check_sources() {
	"$CTL" get policy --agent "$A" >"$TMP/got3" || fail "get policy ($1)"
	diff -u "$TMP/r3.yaml" "$TMP/got3" || fail "get policy is not the applied text ($1)"
	"$CTL" get policy --revision 2 --agent "$A" >"$TMP/got2" || fail "get policy --revision 2 ($1)"
	diff -u "$TMP/r2.yaml" "$TMP/got2" || fail "revision 2 is not its own text ($1)"
}
check_sources "before restart"
kill -TERM "$AGENT"
wait "$AGENT" 2>/dev/null
start
check_sources "after restart"
"$CTL" get policy -o normalized --agent "$A" | grep -q "# revision" && fail "-o normalized kept comments"
log "get policy returns each revision's text, also after a restart"
exit 0
