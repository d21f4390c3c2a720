#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A cgroup endpoint whose cgroup does not exist at apply time is enforced as soon as it
# appears (dp_cgroup_changed from a watcher), and forgotten when it is removed.
. "$(dirname "$0")/lib.sh" cglate "$@"

cg2=$(cgroup2_mount)
[ -n "$cg2" ] || skip "no cgroup2 mount"
topology
bg_ns "$SRV" "$NET" tcp-server :: 8080
bg_ns "$SRV" "$NET" tcp-server :: 8081
LATE=$cg2/iofe2e-cglate-$$
policy 1 "8080, 8082" "  - name: app
    node: n1
    cgroup: $LATE
    addresses: [10.77.2.1]
    groups: [client, app]
    egress: deny" >"$TMP/p.yaml"
dpctl_bg "$TMP/hold" --node n1 -f "$TMP/p.yaml" --watch-cgroup "$LATE"
dpctl links | grep -q "/cg/" && fail "cgroup links before the cgroup exists"
mkdir "$LATE" || skip "cannot create a cgroup under $cg2"
CGROUP=$LATE
for _ in $(seq 50); do dpctl links | grep -q "/cg/.*connect4" && break; sleep 0.1; done
dpctl links | grep -q "/cg/.*connect4" || fail "no hooks on the new cgroup: $(cat "$TMP/hold")"
in_cg() {
	sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$LATE" \
		nsenter --net=/var/run/netns/"$NODE" "$@"
}
rc=0
in_cg "$NET" tcp-connect 10.77.2.2 8080 1500 || rc=$?
[ $rc = 0 ] || fail "allowed connect from the new cgroup: exit $rc"
rc=0
in_cg "$NET" tcp-connect 10.77.2.2 8081 1500 || rc=$?
[ $rc = 4 ] || fail "denied connect from the new cgroup: exit $rc, want EPERM (4)"
log "new cgroup enforced on arrival"
rmdir "$LATE"
for _ in $(seq 50); do dpctl links | grep -q "/cg/" || break; sleep 0.1; done
dpctl links | grep -q "/cg/" && fail "links of a removed cgroup left"
grep "cgroup " "$TMP/hold"
kill $HOLDER
wait $HOLDER || fail "dpctl did not exit 0 on SIGTERM"
exit 0
