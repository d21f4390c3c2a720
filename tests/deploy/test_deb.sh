#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The .deb as shipped: lintian finds no error or warning; it holds what the unit's Documentation= names,
# the changelog, the copyright and what `cmake --install` puts under share/man; installed with
# dpkg -i, the packaged single-node demo runs from the installed paths
# (/usr/share/iofence/demo/demo.sh, /usr/sbin/iofenced, /usr/bin/iofencectl); dpkg --purge
# leaves none of its files, configuration or state behind. The install happens in a private
# mount namespace (overlays on /usr, /etc and /var, a private /run and bpffs), so the host
# is untouched whatever happens.
#   test_deb.sh BUILD_DIR SRC_DIR
source "$(dirname "$0")/lib.sh" deb
BUILD=$1 SRC=$2

if [ "${DT_INNER:-}" = 1 ]; then
	for d in usr etc var; do
		mkdir -p "$ROOT/$d.up" "$ROOT/$d.work"
		mount -t overlay overlay -o "lowerdir=/$d,upperdir=$ROOT/$d.up,workdir=$ROOT/$d.work" "/$d"
	done
	mount -t tmpfs tmpfs /run
	mount -t bpf bpf /sys/fs/bpf
	dpkg -i "$DEB" >"$ROOT/install.log" 2>&1 || { cat "$ROOT/install.log"; fail "dpkg -i"; }
	iofenced --version || fail "iofenced not on PATH after install"
	[ -f /etc/iofence/iofenced.conf ] || fail "no /etc/iofence/iofenced.conf"
	# The demo, as a user of the package runs it.
	# The packaged demo runs from the installed paths and every probe matches the policy.
	rc=0
	/usr/share/iofence/demo/demo.sh >"$ROOT/demo.log" 2>&1 || rc=$?
	grep -q "iofencectl apply -f /usr/share/iofence/examples/policy.yaml" "$ROOT/demo.log" \
		|| { cat "$ROOT/demo.log"; fail "demo did not apply the installed policy"; }
	sed -n '/== probes/,/^$/p' "$ROOT/demo.log"
	[ "$(sed -n '/== probes/,/^$/p' "$ROOT/demo.log" | grep -cE ' ok$')" = 13 ] \
		|| { cat "$ROOT/demo.log"; fail "the demo's 13 probes did not all match the policy"; }
	grep -q "^== iofencectl counters" "$ROOT/demo.log" || fail "demo printed no counters"
	[ $rc = 0 ] || { cat "$ROOT/demo.log"; fail "the packaged demo failed (exit $rc)"; }
	dpkg-query -L iofence >"$ROOT/files"
	dpkg --purge iofence >"$ROOT/purge.log" 2>&1 || { cat "$ROOT/purge.log"; fail "dpkg --purge"; }
	left=$(while read -r f; do [ -e "$f" ] && [ ! -d "$f" ] && echo "$f"; done <"$ROOT/files")
	[ -z "$left" ] || fail "left after purge: $left"
	for d in /etc/iofence /var/lib/iofence /var/lib/iofence-demo /usr/share/iofence /sys/fs/bpf/iofdemo; do
		[ ! -e "$d" ] || fail "$d left after purge"
	done
	[ -z "$(ip netns list | grep iofdemo-)" ] || fail "demo namespaces left"
	exit 0
fi

[ "$(id -u)" = 0 ] || skip "needs root (dpkg, namespaces, mounts)"
command -v cpack >/dev/null && command -v unshare >/dev/null || skip "needs cpack and unshare"
(cd "$BUILD" && cpack -G DEB -B "$TMP/pkg" >"$TMP/cpack.log" 2>&1) || { cat "$TMP/cpack.log"; fail "cpack"; }
DEB=$(ls "$TMP"/pkg/iofence_*.deb)
log "$(basename "$DEB"): $(du -h "$DEB" | cut -f1)"

# Contents: the unit's documentation, Debian's changelog and copyright, the man pages.
dpkg-deb -c "$DEB" | awk '{print substr($6, 2)}' >"$TMP/contents"
has() { grep -qx "$1" "$TMP/contents" || fail "the .deb lacks $1"; }
for doc in $(sed -n 's/^Documentation=//p' "$SRC/deploy/systemd/iofenced.service"); do
	case $doc in
	file://*) has "${doc#file://}" ;;
	man:*) page=${doc#man:} name=${page%(*} section=${page#*(}; section=${section%)}
		has "/usr/share/man/man$section/$name.$section.gz" ;;
	esac
done
has /usr/share/doc/iofence/copyright
has /usr/share/doc/iofence/changelog.gz
has /usr/share/iofence/grafana/iofence-dashboard.json
dpkg-deb --fsys-tarfile "$DEB" | tar -xO ./usr/share/iofence/grafana/iofence-dashboard.json |
	cmp -s - "$SRC/deploy/grafana/iofence-dashboard.json" || fail "the .deb's Grafana dashboard differs from deploy/grafana"
mkdir -p "$TMP/staged"
DESTDIR="$TMP/staged" cmake --install "$BUILD" --prefix /usr >/dev/null || fail "cmake --install"
if [ -d "$TMP/staged/usr/share/man" ]; then
	(cd "$TMP/staged" && find usr/share/man -type f) | while read -r page; do
		grep -qxE "/$page(.gz)?" "$TMP/contents" || fail "the .deb lacks /$page, which cmake --install installs"
	done || exit 1
fi
log "contents: Documentation= targets, changelog, copyright, man pages, Grafana dashboard"

# Lint: the package is lintian-clean (its one override, the BPF object's architecture, is
# shipped in /usr/share/lintian/overrides); an error or a warning fails the test.
if command -v lintian >/dev/null; then
	lintian "$DEB" >"$TMP/lintian" 2>&1 || true
	cat "$TMP/lintian"
	! grep -qE '^(E|W):' "$TMP/lintian" || fail "lintian errors or warnings"
	log "lintian: $(grep -c '^E:' "$TMP/lintian") errors, $(grep -c '^W:' "$TMP/lintian") warnings"
else
	log "lintian not installed: lint skipped"
fi

DT_INNER=1 ROOT=$TMP DEB=$DEB unshare --mount --propagation private bash "$0" "$@" \
	|| fail "install, demo, purge"
log "dpkg -i, the packaged demo from the installed paths, dpkg --purge: clean"
log "PASS"
