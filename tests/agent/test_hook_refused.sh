#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A hook the kernel refuses after the slot flip (dp_apply attaches hooks once the new image is
# active): here the XDP prefilter on an uplink whose XDP hook another agent holds. The apply is
# refused as a precondition (FAILED_PRECONDITION, exit 1) naming the prefilter and its
# interface, and nothing of it stays: the agent's revision, stored history and active slot are
# those from before. Once the hook is free, the same document applies.
source "$(dirname "$0")/lib.sh" hookref "$@"

node n
workload n srv hsrv 10.84.0.3 fd84::3
ip -n "$PFX-n" link add up0 type veth peer name up0p
ip -n "$PFX-n" link set up0p up
ip -n "$PFX-n" link set up0 up

doc() { # doc REVISION NODE [prefilter]
	echo "revision: $1"
	echo "defaults: {ingress: deny, egress: allow}"
	echo "securityGroups: [{name: server, rules: []}]"
	if [ "$2" = n2 ]; then
		echo "endpoints:"
		echo "  - {name: srv, node: n2, interface: hsrv, addresses: [10.84.0.3], groups: [server]}"
	fi
	[ -z "${3:-}" ] || echo "prefilter: [{node: $2, interfaces: [up0], deny: [198.51.100.0/24]}]"
}

start_agent H n n1 # holds up0's XDP hook
start_agent B n n2
doc 1 n1 prefilter >"$TMP/h.yaml"
ctl H apply -f "$TMP/h.yaml" >/dev/null || fail "apply to the agent holding up0"
doc 1 n2 >"$TMP/b1.yaml"
ctl B apply -f "$TMP/b1.yaml" >/dev/null || fail "apply revision 1"
slot() { ctl B status -o json | json /dev/stdin "d['agents'][0]['active_slot']"; }
revision() { ctl B status -o json | json /dev/stdin "d['agents'][0]['revision']"; }
slot1=$(slot)

doc 2 n2 prefilter >"$TMP/b2.yaml"
rc=0
ctl B apply -f "$TMP/b2.yaml" >/dev/null 2>"$TMP/b2.err" || rc=$?
[ "$rc" = 1 ] || fail "apply with a refused hook: exit $rc, want 1 ($(cat "$TMP/b2.err"))"
grep -q "FAILED_PRECONDITION.*prefilter up0" "$TMP/b2.err" ||
	fail "the refusal does not name the prefilter's interface: $(cat "$TMP/b2.err")"
grep -q "revision 1 stays enforced" "$TMP/b2.err" ||
	fail "the refusal does not say what stays: $(cat "$TMP/b2.err")"
[ "$(revision)" = 1 ] || fail "a refused revision is reported applied: $(revision)"
[ "$(slot)" = "$slot1" ] || fail "a refused revision left the active slot flipped"
ctl B history -o json >"$TMP/hist.json" || fail "history"
json "$TMP/hist.json" "[r['revision'] for r in d[0]['history']]" | grep -q 2 &&
	fail "a refused revision was stored: $(cat "$TMP/hist.json")"
log "refused after the flip: $(sed 's/.*FAILED_PRECONDITION: //' "$TMP/b2.err")"

stop_agent H TERM || fail "stop the agent holding up0"
"$IOFENCED" --cleanup --pin-dir "/sys/fs/bpf/$PFX-H" --log-level error || fail "cleanup of H"
ctl B apply -f "$TMP/b2.yaml" >/dev/null || fail "apply once up0's hook is free"
[ "$(revision)" = 2 ] || fail "revision 2 not applied once the hook is free"
log "applied once the hook was free"
stop_agent B TERM || fail "agent exit"
