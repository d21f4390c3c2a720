#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Capacity: an image with one iof_remote4 entry too many is refused whole with E2BIG naming
# the map; the active slot keeps revision 1 and keeps enforcing it.
. "$(dirname "$0")/lib.sh" capacity "$@"

topology
for port in 8080 8081; do bg_ns "$SRV" "$NET" tcp-server :: $port; done
policy 1 "8080" >"$TMP/p1.yaml"
policy 2 "8080, 8081" >"$TMP/p2.yaml"
dpctl apply --node n1 -f "$TMP/p1.yaml" >/dev/null || fail "apply"
rc=0
dpctl apply --node n1 -f "$TMP/p2.yaml" --oversize remote4 >"$TMP/out" 2>&1 || rc=$?
cat "$TMP/out"
[ $rc = 1 ] || fail "oversized image: exit $rc, want 1 (refused)"
grep -q "iof_remote4: 262145 entries exceed the capacity of 262144" "$TMP/out" ||
	fail "refusal does not name the map"
grep -q "Argument list too long" "$TMP/out" || fail "not E2BIG"
[ "$(counter revision)" = 1 ] || fail "active revision changed"
tcp_ok "$CLI" 10.77.2.2 8080
tcp_blocked "$CLI" 10.77.2.2 8081
exit 0
