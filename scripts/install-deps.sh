#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian 12 packages that iofence needs to build, test and benchmark.
# Idempotent: installs only what is missing; safe to run on every build.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake pkg-config clang llvm libclang-rt-14-dev
  libbpf-dev bpftool libelf-dev zlib1g-dev
  libnl-3-dev libnl-route-3-dev
  protobuf-c-compiler libprotobuf-c-dev
  libgrpc-dev protobuf-compiler protobuf-compiler-grpc
  libsqlite3-dev sqlite3 libyaml-dev
  libmicrohttpd-dev libsystemd-dev libcmocka-dev
  libgraphviz-dev graphviz   # dashboard: graph layout and SVG (libgvc and its plugins)
  # tests
  iproute2 iputils-ping netcat-openbsd valgrind python3 python3-grpcio python3-protobuf
  openssl systemd procps util-linux
  man-db groff-base zsh   # cli_docs test: man pages render without warnings; zsh completion
  etcd-server etcd-client   # cluster-mode tests (a real etcd per test)
  chromium   # dashboard test and demo: renders the page headless (DOM and screenshot)
  # deployment: the container image (scripts/build-image.sh), the .deb's lint, manifest tests
  mmdebstrap eatmydata buildah podman runc lintian python3-yaml
  # benchmarks
  iptables nftables xdp-tools iperf3 gnuplot-nox
)

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: must run as root (apt-get install)" >&2
  exit 2
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The manifest schema check (tests/deploy): npm packages pinned by their lock file, installed
# outside the tree so that the tests need no network. Node itself may come from elsewhere.
K8S_VALIDATE=/usr/local/lib/iofence/k8s-validate
lock=$(dirname "$0")/../tests/deploy/k8s-validate/package-lock.json
if ! cmp -s "$lock" "$K8S_VALIDATE/package-lock.json"; then
  command -v npm >/dev/null || apt-get install -y -q --no-install-recommends npm
  mkdir -p "$K8S_VALIDATE"
  cp "$lock" "$(dirname "$lock")/package.json" "$K8S_VALIDATE/"
  echo "install-deps: npm ci in $K8S_VALIDATE"
  (cd "$K8S_VALIDATE" && npm ci --no-audit --no-fund --loglevel=error) \
    || { rm -f "$K8S_VALIDATE/package-lock.json"; echo "install-deps: npm ci failed" >&2; exit 1; }
fi

# bpffs is where pinned maps and links live; a fresh machine may not have it mounted.
if ! stat -f -c %T /sys/fs/bpf 2>/dev/null | grep -q bpf; then
  mount -t bpf bpf /sys/fs/bpf
fi
