#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# iofencectl validate / compile: exit codes and output as CONTRACT.md defines them.
set -u
ctl=$1 src=$2
fail=0
check() { # description, expected exit code, command...
  local what=$1 want=$2; shift 2
  "$@" >"$out" 2>"$err"; local got=$?
  if [ "$got" -ne "$want" ]; then
    echo "FAIL: $what: exit $got, want $want"; cat "$out" "$err"; fail=1
  else
    echo "ok: $what"
  fi
}
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

check "valid policy" 0 "$ctl" validate -f "$src/deploy/examples/policy.yaml"
check "invalid policy" 1 "$ctl" validate -f "$src/tests/cli/bad.yaml"
for want in \
  'bad.yaml:6: securityGroups\[0\].rules\[0\].ports: ports need protocol tcp, udp or sctp' \
  'bad.yaml:7: securityGroups\[0\].rules\[1\].direction: "sideways" is not one of ingress | egress' \
  'bad.yaml:8: securityGroups\[0\].rules\[1\].cidr: "10.0.0.1/8" has host bits set' \
  'bad.yaml:12: securityGroups\[0\].rules\[2\].group: unknown security group "nosuch"' \
  'bad.yaml:10: securityGroups\[0\].rules\[2\].ports\[0\]: port range "90-80" is reversed' \
  'bad.yaml:17: endpoints\[0\].addresses\[0\]: 224.0.0.1: multicast address' \
  'bad.yaml: 6 errors'; do
  grep -q -- "$want" "$err" || { echo "FAIL: missing error: $want"; fail=1; }
done
# -f - reads standard input; misspellings get the closest name; syntax errors a column
if "$ctl" validate -f - <"$src/deploy/examples/policy.yaml" >"$out" 2>"$err"; then echo "ok: validate -f -"
else echo "FAIL: validate -f - (stdin)"; fail=1; fi
printf 'securityGroup:\n  - name: web\n    rules: []\nendpoints:\n  - {name: e, node: n, interface: v, addresses: [10.0.0.1], groups: [wbe]}\n' \
  | "$ctl" validate -f - >"$out" 2>"$err"
[ "$(cat "$err")" = '<stdin>:1: securityGroup: unknown key "securityGroup"; did you mean securityGroups?
-: 1 error' ] || { echo "FAIL: one error with a suggestion: $(cat "$err")"; fail=1; }
printf 'securityGroups:\n  - name: web\n    rules: [\nendpoints: []\n' | "$ctl" validate -f - >"$out" 2>"$err"
grep -q '^<stdin>:5: document: syntax error at column 1: .* (begun at line 3, column 12)$' "$err" \
  || { echo "FAIL: syntax error column: $(cat "$err")"; fail=1; }
check "--version" 0 "$ctl" --version
grep -Eq '^iofencectl [0-9]+\.[0-9]+\.[0-9]+( \(git [0-9a-f]+\))?$' "$out" || { echo "FAIL: --version: $(cat "$out")"; fail=1; }
check "missing file" 1 "$ctl" validate -f /nonexistent/policy.yaml
check "no -f" 1 "$ctl" validate
check "unknown command" 1 "$ctl" frobnicate
check "compile stats" 0 "$ctl" compile -f "$src/deploy/examples/policy.yaml" --node demo-node
grep -q '^iof_policy' "$out" || { echo "FAIL: stats lack iof_policy"; fail=1; }
check "compile json" 0 "$ctl" compile -f "$src/deploy/examples/policy.yaml" --node demo-node -o json
/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["endpoints"]) == 3 and d["policy"]' "$out" \
  || { echo "FAIL: json output"; fail=1; }
check "compile other node" 0 "$ctl" compile -f "$src/deploy/examples/policy.yaml" --node elsewhere -o json
check "compile for an unknown node warns" 0 "$ctl" compile -f "$src/deploy/examples/policy.yaml" --node nosuch
grep -q "warning: node nosuch: no endpoint and no prefilter is on this node" "$err" \
  || { echo "FAIL: compile --node unknown: no warning"; fail=1; }
check "compile bad output" 1 "$ctl" compile -f "$src/deploy/examples/policy.yaml" --node n -o xml
check "compile shows the map fill" 0 "$ctl" compile -f "$src/deploy/examples/policy.yaml" --node demo-node
grep -q '^iof_policy .*%$' "$out" || { echo "FAIL: stats lack the fill"; fail=1; }
# revision commands: usage errors exit 1 before any agent is reached
check "diff without -f" 1 "$ctl" diff --agent unix:/nonexistent
check "rollback without --to" 1 "$ctl" rollback --agent unix:/nonexistent
check "rollback --to not a number" 1 "$ctl" rollback --to x
check "history bad output" 1 "$ctl" history -o xml
check "dry-run of an invalid policy" 1 "$ctl" apply --dry-run -f "$src/tests/cli/bad.yaml"
check "--dry-run only on apply" 1 "$ctl" status --dry-run
check "get policy bad output" 1 "$ctl" get policy -o xml
check "trace without --to" 1 "$ctl" trace --from a
check "trace --port out of range" 1 "$ctl" trace --from a --to b --port 70000
check "--from only on trace" 1 "$ctl" status --from a
check "diff, agent unreachable" 2 "$ctl" diff -f "$src/deploy/examples/policy.yaml" --agent unix:/nonexistent/sock
exit $fail
