#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Cgroup endpoint: a process in a test cgroup gets EPERM from connect() to a destination its
# endpoint may not reach (IPv4 and IPv6) and connects to an allowed one; a process outside the
# cgroup is not judged by the socket hooks. The endpoint has an interface as well (two entries).
. "$(dirname "$0")/lib.sh" cgroup "$@"

cg2=$(cgroup2_mount)
[ -n "$cg2" ] || skip "no cgroup2 mount"
CGROUP=$cg2/iofe2e-cgroup-$$
mkdir "$CGROUP" || skip "cannot create a cgroup under $cg2"
topology
ip -n "$NODE" link add ha type veth peer name ha-peer # the app endpoint has an interface too
ip -n "$NODE" link set ha up
bg_ns "$SRV" "$NET" tcp-server :: 8080
bg_ns "$SRV" "$NET" tcp-server :: 8081
policy 1 "8080, 8082" "  - name: app
    node: n1
    cgroup: $CGROUP
    interface: ha
    addresses: [10.77.2.1, \"fd77:2::1\"]
    groups: [client, app]
    egress: deny" >"$TMP/p.yaml"
dpctl apply --node n1 -f "$TMP/p.yaml" || fail "apply"
dpctl links | grep -c "/cg/" | grep -q 6 || fail "expected 6 cgroup links: $(dpctl links)"
dpctl links | grep -q "tc/ha/ingress" || fail "no tc links on the app interface: $(dpctl links)"
dpctl counters | grep -q "fill endpoints=4 " || fail "want 4 endpoint entries (app has two)"

in_cg() { # runs a command inside the test cgroup, in the node namespace
	sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CGROUP" \
		nsenter --net=/var/run/netns/"$NODE" "$@"
}
rc=0
in_cg "$NET" tcp-connect 10.77.2.2 8080 1500 || rc=$?
[ $rc = 0 ] || fail "allowed connect from the cgroup failed (exit $rc)"
rc=0
in_cg "$NET" tcp-connect fd77:2::2 8080 1500 || rc=$?
[ $rc = 0 ] || fail "allowed IPv6 connect from the cgroup failed (exit $rc)"
for dst in 10.77.2.2 fd77:2::2; do
	rc=0
	in_cg "$NET" tcp-connect $dst 8081 1500 || rc=$?
	[ $rc = 4 ] || fail "connect to $dst:8081 from the cgroup: exit $rc, want EPERM (4)"
done
log "EPERM at connect() for denied destinations"
dpctl links | sort >"$TMP/links1"
log "adopt: a second process applies revision 2; the cgroup keeps its links and its id"
sed 's/^revision: 1/revision: 2/' "$TMP/p.yaml" >"$TMP/p2.yaml"
dpctl apply --node n1 -f "$TMP/p2.yaml" | grep -q "adopted=1 revision=1" || fail "no adopt"
dpctl links | sort | diff "$TMP/links1" - || fail "cgroup links changed on adopt"
rc=0
in_cg "$NET" tcp-connect 10.77.2.2 8080 1500 || rc=$?
[ $rc = 0 ] || fail "after adopt: allowed connect failed (exit $rc): id mismatch?"
rc=0
in_cg "$NET" tcp-connect 10.77.2.2 8081 1500 || rc=$?
[ $rc = 4 ] || fail "after adopt: denied connect exit $rc, want EPERM (4)"
rc=0
in_ns "$NODE" "$NET" tcp-connect 10.77.2.2 8081 700 || rc=$?
[ $rc = 3 ] || fail "outside the cgroup: exit $rc, want a timeout at the server's ingress (3)"
exit 0
