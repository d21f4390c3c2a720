#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A cgroup endpoint whose cgroup does not exist yet: enforced the moment the cgroup is
# created (the agent's inotify watch), connect() refused with EPERM; forgotten when removed.
# A path that exists but is not a cgroup v2 folder: the revision refused, naming the place.
source "$(dirname "$0")/lib.sh" cgwatch "$@"

cg2=$(awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo)
[ -n "$cg2" ] || skip "no cgroup2 mount"
CG=$cg2/$PFX-app
CGROUPS+=("$CG")
node n
cat >"$TMP/p.yaml" <<YAML
revision: 1
defaults: {ingress: allow, egress: allow}
securityGroups:
  - name: app
    rules:
      - {direction: egress, action: deny, protocol: tcp, ports: [9000], cidr: 10.86.0.0/16}
endpoints:
  - {name: app, node: n1, cgroup: $CG, addresses: [10.86.1.1], groups: [app]}
YAML
start_agent a n n1
ctl a apply -f "$TMP/p.yaml" >/dev/null || fail "apply"
mkdir "$CG" || skip "cannot create a cgroup under $cg2"

# connect_errno DEST PORT: runs connect() in the cgroup (node namespace), prints the errno.
connect_errno() {
	sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG" \
		nsenter --net=/var/run/netns/"$PFX-n" /usr/bin/python3 -c '
import errno, socket, sys
s = socket.socket(); s.settimeout(1)
try:
    s.connect((sys.argv[1], int(sys.argv[2]))); print(0)
except OSError as e:
    print(e.errno if e.errno is not None else -1)' "$1" "$2"
}
want=$(python3 -c 'import errno; print(errno.EPERM)')
got=""
for _ in $(seq 50); do
	got=$(connect_errno 10.86.2.2 9000)
	[ "$got" = "$want" ] && break
	sleep 0.1
done
[ "$got" = "$want" ] || fail "denied connect from the new cgroup: errno $got, want EPERM"
grep -q "cgroup $CG appeared" "$TMP/a/log" || fail "no cgroup event logged"
got=$(connect_errno 10.86.2.2 9001)
[ "$got" != "$want" ] || fail "allowed destination refused with EPERM"
log "cgroup created after the apply: enforced on arrival"
rmdir "$CG" || fail "rmdir $CG"
for _ in $(seq 50); do grep -q "cgroup $CG went away" "$TMP/a/log" && break; sleep 0.1; done
grep -q "cgroup $CG went away" "$TMP/a/log" || fail "removal not seen"
log "cgroup removed: forgotten"

# A cgroup path that exists but is no cgroup v2 folder: the kernel would refuse the hooks.
# Refused whole before anything is written, naming the endpoint and the path, as a refusal
# (FAILED_PRECONDITION, exit 1) rather than an agent fault (INTERNAL, exit 2).
mkdir "$TMP/plain"
sed -e "s/^revision: 1/revision: 2/" -e "s|cgroup: $CG|cgroup: $TMP/plain|" "$TMP/p.yaml" >"$TMP/bad.yaml"
slot() { ctl a status -o json | json /dev/stdin "d['agents'][0]['active_slot']"; }
slot0=$(slot)
rc=0
ctl a apply -f "$TMP/bad.yaml" >/dev/null 2>"$TMP/bad.err" || rc=$?
[ "$rc" = 1 ] || fail "apply with a plain folder as cgroup: exit $rc, want 1 ($(cat "$TMP/bad.err"))"
grep -q "FAILED_PRECONDITION.*endpoint app: cgroup: $TMP/plain: not a cgroup v2 folder" \
	"$TMP/bad.err" || fail "refusal does not name the endpoint and path: $(cat "$TMP/bad.err")"
[ "$(ctl a status -o json | json /dev/stdin "d['agents'][0]['revision']")" = 1 ] ||
	fail "a refused revision was applied"
[ "$(slot)" = "$slot0" ] || fail "a refused revision flipped the active slot"
log "a plain folder as cgroup: refused ($(sed 's/.*FAILED_PRECONDITION: //' "$TMP/bad.err"))"
stop_agent a TERM || fail "agent exit"
