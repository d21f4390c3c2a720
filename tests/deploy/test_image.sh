#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The container image: scripts/build-image.sh builds it from this build tree's .deb with
# Debian's tools (mmdebstrap, buildah) into a private vfs storage; `iofenced --version` and
# `iofencectl --version` run inside it with podman, and the docker-archive that kind and k3s
# import carries the tag the DaemonSet names. The base root filesystem (bookworm + runtime
# libraries, ~5 min to make on this shared machine) is cached in /var/cache/iofence-image
# between runs, keyed by the package's dependencies: a run with the cache builds in about a
# minute (docs/DEPLOY.md has the measured figures).
#   test_image.sh BUILD_DIR SRC_DIR VERSION
source "$(dirname "$0")/lib.sh" image
BUILD=$1 SRC=$2 VERSION=$3
[ "$(id -u)" = 0 ] || skip "needs root (mmdebstrap root mode, buildah, podman)"
for tool in mmdebstrap buildah podman runc cpack; do
	command -v $tool >/dev/null || skip "$tool not installed (scripts/install-deps.sh)"
done
umount_storage() { findmnt -rn -o TARGET | grep "^$TMP/" | sort -r | xargs -r umount -l; }
trap 'umount_storage; dt_cleanup' EXIT

(cd "$BUILD" && cpack -G DEB -B "$TMP/pkg" >"$TMP/cpack.log" 2>&1) || { cat "$TMP/cpack.log"; fail "cpack"; }
DEB=$(ls "$TMP"/pkg/iofence_*.deb)
TAG=localhost/iofence/iofenced:$VERSION
start=$SECONDS
"$SRC/scripts/build-image.sh" --deb "$DEB" --storage "$TMP/storage" --archive "$TMP/image.tar" \
	>"$TMP/build.log" 2>&1 || { cat "$TMP/build.log"; fail "build-image.sh"; }
cat "$TMP/build.log"
log "image built in $((SECONDS - start)) s"

# podman here: runc (crun refuses this host's hybrid cgroup layout) and limits no higher than
# the test's own (no CAP_SYS_RESOURCE in this sandbox to raise them).
podman_run() {
	podman --root "$TMP/storage/root" --runroot "$TMP/storage/run" --storage-driver vfs \
		run --rm --runtime runc --network none \
		--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit nproc=4096:4096 "$@"
}
podman_run "$TAG" --version >"$TMP/version" 2>&1 || { cat "$TMP/version"; fail "podman run $TAG --version"; }
grep -q "^iofenced $VERSION" "$TMP/version" || { cat "$TMP/version"; fail "iofenced --version in the image"; }
podman_run --entrypoint iofencectl "$TAG" --version >"$TMP/ctl" 2>&1 || { cat "$TMP/ctl"; fail "iofencectl --version"; }
grep -q "^iofencectl $VERSION" "$TMP/ctl" || { cat "$TMP/ctl"; fail "iofencectl --version in the image"; }
log "in the image: $(cat "$TMP/version"); $(cat "$TMP/ctl")"

# What `kind load image-archive` and `k3s ctr images import` read: a docker-archive with the tag.
tar -xOf "$TMP/image.tar" manifest.json >"$TMP/manifest.json" || fail "image.tar has no manifest.json"
grep -q "\"$TAG\"" "$TMP/manifest.json" || { cat "$TMP/manifest.json"; fail "archive not tagged $TAG"; }
log "archive $(du -h "$TMP/image.tar" | cut -f1) tagged $TAG"
log "PASS"
