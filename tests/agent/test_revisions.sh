#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Revisions as an operator handles them, on two real agents: a re-apply of the enforced
# document is "unchanged" (exit 0, nothing stored), diff against what is enforced (exit 0/1),
# apply --dry-run changes nothing, history lists the stored revisions, rollback --to N
# enforces N again as a new revision (traffic follows), a pruned N is refused, and get policy
# returns the text as written or the normalized form.
source "$(dirname "$0")/lib.sh" revisions "$@"

cli_srv 79
node m
serve srv tcp 8080 9090

# policy PORT [REVISION_LINE]: srv accepts tcp PORT from the client group.
policy() {
	cat <<YAML
# written by hand: srv serves the clients on one port
${2:-}
defaults: {ingress: deny, egress: allow}
securityGroups:
  - name: client
    rules: []
  - name: server
    rules:
      - {name: app, direction: ingress, protocol: tcp, ports: [$1], group: client}
endpoints:
  - {name: cli, node: n1, interface: hcli, addresses: [10.79.0.2, "fd79::2"], groups: [client]}
  - {name: srv, node: n1, interface: hsrv, addresses: [10.79.0.3, "fd79::3"], groups: [server]}
YAML
}
policy 8080 >"$TMP/p1.yaml"
policy 9090 >"$TMP/p2.yaml"
policy 8080 "revision: 1" >"$TMP/p1r.yaml"

start_agent a1 n n1
start_agent a2 m n2
both="--agent $(agent a1) --agent $(agent a2)"

"$CTL" apply -f "$TMP/p1.yaml" $both >"$TMP/out" || fail "apply p1: $(cat "$TMP/out")"
[ "$(grep -c ' applied ' "$TMP/out")" = 2 ] || fail "p1 not applied on both: $(cat "$TMP/out")"
tcp_ok cli 10.79.0.3 8080
tcp_blocked cli 10.79.0.3 9090

# Re-applying the enforced document: unchanged on every agent, also with its revision written.
for f in p1 p1r; do
	"$CTL" apply -f "$TMP/$f.yaml" $both -o json >"$TMP/re.json" || fail "re-apply $f: exit $?"
	[ "$(json "$TMP/re.json" '[r["result"] for r in d["results"]]')" = "['unchanged', 'unchanged']" ] \
		|| fail "re-apply $f: $(cat "$TMP/re.json")"
	[ "$(json "$TMP/re.json" '[r["revision"] for r in d["results"]]')" = "[1, 1]" ] \
		|| fail "re-apply $f moved the revision: $(cat "$TMP/re.json")"
done
"$CTL" apply -f "$TMP/p1.yaml" $both | grep -q ' unchanged ' || fail "table says unchanged"
log "re-apply: unchanged on both agents, revision stays 1"

"$CTL" diff -f "$TMP/p1.yaml" $both >"$TMP/out" || fail "diff of the enforced document: exit $?"
[ "$(grep -c '^no changes' "$TMP/out")" = 2 ] || fail "diff p1: $(cat "$TMP/out")"
rc=0
"$CTL" diff -f "$TMP/p2.yaml" --agent "$(agent a1)" >"$TMP/out" || rc=$?
[ $rc = 1 ] || fail "diff of a changed document: exit $rc"
grep -q '^~ rule      server/app .*tcp/8080 .* -> .*tcp/9090' "$TMP/out" || fail "diff: $(cat "$TMP/out")"
"$CTL" diff -f "$TMP/p2.yaml" --agent "$(agent a1)" -o json >"$TMP/diff.json"
[ "$(json "$TMP/diff.json" 'd["agents"][0]["diff"]["changes"][0]["name"]')" = server/app ] \
	|| fail "diff json: $(cat "$TMP/diff.json")"
log "diff: exit 0 when equal, 1 with the changed rule"

"$CTL" apply --dry-run -f "$TMP/p2.yaml" $both >"$TMP/out" || fail "dry-run: exit $?"
grep -q "node n1, enforced revision 1: would apply" "$TMP/out" || fail "dry-run: $(cat "$TMP/out")"
grep -q "iof_policy .*%" "$TMP/out" || fail "dry-run map fill: $(cat "$TMP/out")"
rc=0
"$CTL" apply --dry-run -f "$TMP/p1r.yaml" --agent "$(agent a1)" | grep -q ": unchanged" \
	|| fail "dry-run of the enforced document"
sed 's/^$/revision: 1/' "$TMP/p2.yaml" >"$TMP/p2old.yaml"
"$CTL" apply --dry-run -f "$TMP/p2old.yaml" --agent "$(agent a1)" >/dev/null 2>"$TMP/err" || rc=$?
[ $rc = 1 ] && grep -q "would be refused: revision 1 is not newer" "$TMP/err" \
	|| fail "dry-run of a stale revision: exit $rc $(cat "$TMP/err")"
tcp_ok cli 10.79.0.3 8080
[ "$("$CTL" history --agent "$(agent a1)" -o json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["agents"][0]["history"]))')" = 1 ] \
	|| fail "dry-run stored something"
log "apply --dry-run: would apply with the map fill, nothing changed"

"$CTL" apply -f "$TMP/p2.yaml" $both >/dev/null || fail "apply p2"
tcp_ok cli 10.79.0.3 9090
tcp_blocked cli 10.79.0.3 8080
"$CTL" history $both >"$TMP/out" || fail "history: exit $?"
grep -q "^\*         2  20[0-9-]*T[0-9:]*Z  *[0-9]*  $TMP/p2\.yaml$" "$TMP/out" || fail "history: $(cat "$TMP/out")"
"$CTL" history --agent "$(agent a2)" -o json >"$TMP/h.json"
[ "$(json "$TMP/h.json" '[(h["revision"], h["enforced"], h["size"] > 0) for h in d["agents"][0]["history"]]')" \
	= "[(2, True, True), (1, False, True)]" ] || fail "history json: $(cat "$TMP/h.json")"
log "history: revisions with time, size and source, the enforced one marked"

"$CTL" get policy --agent "$(agent a1)" >"$TMP/got.yaml"
cmp -s "$TMP/got.yaml" "$TMP/p2.yaml" || fail "get policy is not the text as written: $(diff "$TMP/p2.yaml" "$TMP/got.yaml")"
"$CTL" get policy --agent "$(agent a1)" -o normalized >"$TMP/norm.yaml"
grep -q '^revision: 2$' "$TMP/norm.yaml" && grep -q 'priority: 1000' "$TMP/norm.yaml" \
	|| fail "get policy -o normalized: $(cat "$TMP/norm.yaml")"
log "get policy: the text as written; -o normalized"

"$CTL" rollback --to 1 $both >"$TMP/out" || fail "rollback: exit $? $(cat "$TMP/out")"
[ "$(grep -c 'rolled back: revision 3 (a copy of revision 1)' "$TMP/out")" = 2 ] \
	|| fail "rollback: $(cat "$TMP/out")"
tcp_ok cli 10.79.0.3 8080
tcp_blocked cli 10.79.0.3 9090
"$CTL" diff -f "$TMP/p1.yaml" $both >/dev/null || fail "after rollback p1 is enforced"
"$CTL" history --agent "$(agent a1)" | grep -q '^\*         3 .* rollback to 1$' || fail "rollback in history"
"$CTL" rollback --to 3 --agent "$(agent a1)" | grep -q unchanged || fail "rollback to the enforced"
rc=0
"$CTL" rollback --to 99 --agent "$(agent a1)" 2>"$TMP/err" || rc=$?
[ $rc = 1 ] && grep -q "revision 99 is not stored (never applied, or pruned); kept: 1, 2, 3" "$TMP/err" \
	|| fail "rollback to a missing revision: exit $rc $(cat "$TMP/err")"
log "rollback: revision 1 enforced again as revision 3; a missing revision refused"

# No silent no-ops: warnings on apply, refused with --strict, visible in status and endpoints.
"$CTL" apply -f "$TMP/p2.yaml" --agent "$(agent a2)" >/dev/null 2>"$TMP/err" || fail "apply on a2"
grep -q "warning: node n2: no endpoint and no prefilter of the document is on this node" "$TMP/err" \
	&& grep -q "warning: the document has no revision" "$TMP/err" || fail "a2 warnings: $(cat "$TMP/err")"
"$CTL" status --agent "$(agent a2)" | grep -q "^warning: .*node n2: no endpoint" || fail "status warning"
sed 's/^endpoints:$/endpoints:\n  - {name: ghost, node: n1, interface: nosuch0, addresses: [10.79.0.9], groups: [client]}/' \
	"$TMP/p1.yaml" >"$TMP/ghost.yaml"
rc=0
"$CTL" apply --strict -f "$TMP/ghost.yaml" --agent "$(agent a1)" >/dev/null 2>"$TMP/err" || rc=$?
[ $rc = 1 ] && grep -q "FAILED_PRECONDITION.*strict: 2 warnings: endpoint ghost: interface nosuch0 does not exist" "$TMP/err" \
	|| fail "apply --strict: exit $rc $(cat "$TMP/err")"
"$CTL" diff -f "$TMP/ghost.yaml" --agent "$(agent a1)" >/dev/null && fail "--strict applied something"
"$CTL" apply -f "$TMP/ghost.yaml" --agent "$(agent a1)" >/dev/null 2>"$TMP/err" || fail "apply ghost"
grep -q "warning: endpoint ghost: interface nosuch0 does not exist (enforced when it appears)" "$TMP/err" \
	|| fail "ghost warning: $(cat "$TMP/err")"
"$CTL" get endpoints --agent "$(agent a1)" -o json >"$TMP/eps.json"
[ "$(json "$TMP/eps.json" '[(e["name"], e["enforced"], e["reason"]) for e in d["endpoints"] if e["name"] == "ghost"]')" \
	= "[('ghost', False, 'interface nosuch0 does not exist (enforced when it appears)')]" ] \
	|| fail "get endpoints reason: $(cat "$TMP/eps.json")"
log "warnings: printed by apply, refused by --strict, shown by status and get endpoints"
