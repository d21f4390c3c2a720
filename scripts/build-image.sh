#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the iofenced container image from this repository with Debian-packaged tools only:
# the .deb from the build tree (cpack), a minimal bookworm root filesystem with that .deb and
# its runtime libraries (mmdebstrap, from the Debian mirror), committed by buildah with
# deploy/container/Containerfile. No image registry is used.
#
#   scripts/build-image.sh [--build DIR] [--deb FILE] [--tag NAME] [--archive FILE]
#                          [--cache DIR] [--storage DIR] [--mirror URL]
#
#   --build DIR     build tree to package (default build/; run scripts/build.sh first)
#   --deb FILE      use this .deb instead of running cpack in the build tree
#   --tag NAME      image name (default localhost/iofence/iofenced:VERSION, as the DaemonSet)
#   --archive FILE  also write the image as a docker-archive tarball (kind load image-archive,
#                   k3s ctr images import)
#   --cache DIR     keep the base root filesystem and the downloaded .debs here for the next
#                   build (default /var/cache/iofence-image; "none": build everything anew)
#   --storage DIR   private container storage (vfs driver) instead of the system's, for tests
#   --mirror URL    Debian mirror (default: mmdebstrap's, deb.debian.org with updates/security)
set -euo pipefail
# mmdebstrap runs python3 once per package (mmtarfilter): the system's, not a shim's that
# costs a second per call.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$SRC/build DEB="" TAG="" ARCHIVE="" CACHE=/var/cache/iofence-image STORAGE="" MIRROR=""

die() { echo "build-image: $*" >&2; exit "${2:-1}"; }
while [ $# -gt 0 ]; do
	case $1 in
	--build | --deb | --tag | --archive | --cache | --storage | --mirror)
		[ $# -ge 2 ] || die "$1 needs a value"
		case $1 in
		--build) BUILD=$2 ;; --deb) DEB=$2 ;; --tag) TAG=$2 ;; --archive) ARCHIVE=$2 ;;
		--cache) CACHE=$2 ;; --storage) STORAGE=$2 ;; --mirror) MIRROR=$2 ;;
		esac
		shift 2 ;;
	-h | --help) sed -n '3,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done

[ "$(id -u)" = 0 ] || die "needs root (mmdebstrap root mode, buildah)" 2
for tool in mmdebstrap buildah dpkg-deb; do
	command -v $tool >/dev/null || die "$tool not installed (scripts/install-deps.sh)" 2
done

step_start=$SECONDS
step() { echo "== $* (t=$((SECONDS - step_start))s)"; }

# 1. The .deb: what the image runs is exactly what the package installs.
if [ -z "$DEB" ]; then
	[ -x "$BUILD/agent/iofenced/iofenced" ] || die "$BUILD: not built (scripts/build.sh)" 2
	step "cpack -G DEB in $BUILD"
	(cd "$BUILD" && cpack -G DEB >cpack.log 2>&1) || { cat "$BUILD/cpack.log" >&2; die "cpack failed"; }
	DEB=$(ls -t "$BUILD"/iofence_*.deb | head -1)
fi
[ -f "$DEB" ] || die "$DEB: no such .deb" 2
DEB=$(cd "$(dirname "$DEB")" && pwd)/$(basename "$DEB")
VERSION=$(dpkg-deb -f "$DEB" Version)
TAG=${TAG:-localhost/iofence/iofenced:$VERSION}

WORK=$(mktemp -d /tmp/iofence-image.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# 2. The base root filesystem: bookworm's essential packages, `mount` (the DaemonSet's init
# container mounts bpffs) and the runtime libraries the .deb depends on. It depends only on
# that list, so it is kept in the cache under a name made from it and rebuilt when it changes.
# Docs, man pages and locales are left out (copyright files kept); downloaded .debs are kept
# in the cache too.
deps=$(dpkg-deb -f "$DEB" Depends | tr ',' '\n' | sed -e 's/[(|].*//' -e 's/ //g' | grep . | sort -u)
base_options="bookworm essential mount $(echo $deps) ${MIRROR}"
base_key=$(echo "$base_options" | sha256sum | cut -c1-16)
base=""
[ "$CACHE" != none ] && base=$CACHE/base-$base_key.tar
if [ -n "$base" ] && [ -f "$base" ]; then
	step "base root filesystem from the cache: $base"
else
	step "mmdebstrap bookworm: essential + mount + $(echo $deps)"
	hooks=(--hook-dir=/usr/share/mmdebstrap/hooks/eatmydata
		--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr)
	if [ -n "$base" ]; then
		mkdir -p "$CACHE/debs"
		hooks+=(--skip=essential/unlink
			--setup-hook="mkdir -p \"\$1\"/var/cache/apt/archives"
			--setup-hook="sync-in '$CACHE/debs' /var/cache/apt/archives"
			--customize-hook="sync-out /var/cache/apt/archives '$CACHE/debs'")
	fi
	mirror=()
	[ -n "$MIRROR" ] && mirror=("$MIRROR")
	out=${base:-$WORK/base.tar}
	mmdebstrap --mode=root --variant=essential --format=tar ${MMDEBSTRAP_VERBOSE:---quiet} \
		--dpkgopt='path-exclude=/usr/share/man/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' \
		--dpkgopt='path-exclude=/usr/share/doc/*' \
		--dpkgopt='path-include=/usr/share/doc/*/copyright' \
		--include="mount $(echo $deps)" "${hooks[@]}" \
		bookworm "$out.part" "${mirror[@]}" || die "mmdebstrap failed"
	mv "$out.part" "$out"
	base=$out
fi
ln "$base" "$WORK/base.tar" 2>/dev/null || cp "$base" "$WORK/base.tar"
cp "$DEB" "$WORK/iofence.deb"
echo "   base: $(du -h "$WORK/base.tar" | cut -f1)"

# 3. The image.
storage=()
[ -n "$STORAGE" ] && storage=(--root "$STORAGE/root" --runroot "$STORAGE/run" --storage-driver vfs)
step "buildah build -t $TAG"
cp "$SRC/deploy/container/Containerfile" "$WORK/Containerfile"
# RUN steps use chroot isolation: no OCI runtime or cgroup set-up is needed to build.
buildah "${storage[@]}" build --quiet --layers=false --isolation chroot \
	--build-arg IOFENCE_VERSION="$VERSION" \
	-f "$WORK/Containerfile" -t "$TAG" "$WORK" >/dev/null || die "buildah build failed"
if [ -n "$ARCHIVE" ]; then
	step "buildah push docker-archive:$ARCHIVE"
	rm -f "$ARCHIVE"
	buildah "${storage[@]}" push --quiet "$TAG" "docker-archive:$ARCHIVE:$TAG" \
		|| die "writing $ARCHIVE failed"
fi
step "done: $TAG"
