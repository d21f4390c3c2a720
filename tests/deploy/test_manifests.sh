#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Kubernetes manifests as shipped pass a schema check against the Kubernetes API (the
# kubernetes-models packages, installed by scripts/install-deps.sh; no network at run time):
# the DaemonSet, its ConfigMap and Service, the ServiceMonitor, and the Secret that
# make-tls-secret.sh writes. The checker itself refuses known-bad manifests (a bidirectional
# mount in an unprivileged container, a misspelled field) with file:line, and the DaemonSet
# names the image scripts/build-image.sh tags.
#   test_manifests.sh SRC_DIR VERSION VALIDATOR_DIR
source "$(dirname "$0")/lib.sh" manifests
SRC=$1 VERSION=$2 VALIDATOR=$3
K8S=$SRC/deploy/kubernetes
command -v node >/dev/null || skip "node not installed (scripts/install-deps.sh)"
[ -d "$VALIDATOR/node_modules/kubernetes-models" ] \
	|| skip "$VALIDATOR: schema packages not installed (scripts/install-deps.sh)"

# The checker runs from a folder of its own that sees the installed packages.
mkdir "$TMP/check"
cp "$SRC/tests/deploy/k8s-validate/validate.mjs" "$SRC/tests/deploy/k8s-validate/package.json" "$TMP/check/"
ln -s "$VALIDATOR/node_modules" "$TMP/check/node_modules"
check() { (cd "$TMP/check" && node validate.mjs "$@"); }

"$K8S/make-tls-secret.sh" --dir "$TMP/tls" node-a=10.0.0.1 node-b >"$TMP/tls.log" \
	|| { cat "$TMP/tls.log"; fail "make-tls-secret.sh"; }
check "$K8S"/*.yaml "$TMP/tls/iofenced-tls-secret.yaml" >"$TMP/out" 2>&1 \
	|| { cat "$TMP/out"; fail "the shipped manifests do not pass the schema check"; }
cat "$TMP/out"
for kind in Namespace ConfigMap DaemonSet Service ServiceMonitor Secret; do
	grep -q "$kind/" "$TMP/out" || fail "$kind was not checked"
done

# Known-bad variants must be refused, each naming the file and line.
sed 's/mountPropagation: HostToContainer}/mountPropagation: Bidirectional}/' \
	"$K8S/iofenced-daemonset.yaml" >"$TMP/bidir.yaml"
if check "$TMP/bidir.yaml" >"$TMP/out" 2>&1; then fail "bidirectional mount in an unprivileged container passed"; fi
grep -q "bidir.yaml:[0-9]*: DaemonSet/iofenced: .*mountPropagation: Bidirectional mount propagation is available only to privileged containers" \
	"$TMP/out" || { cat "$TMP/out"; fail "bidirectional: wrong message"; }
sed 's/readOnly: true,$/readOnyl: true,/' "$K8S/iofenced-daemonset.yaml" >"$TMP/typo.yaml"
if check "$TMP/typo.yaml" >"$TMP/out" 2>&1; then fail "a misspelled field passed"; fi
grep -q "typo.yaml:[0-9]*: DaemonSet/iofenced: .*readOnyl" "$TMP/out" || { cat "$TMP/out"; fail "typo: wrong message"; }
sed 's/type: DirectoryOrCreate}/type: DirOrCreate}/' "$K8S/iofenced-daemonset.yaml" >"$TMP/enum.yaml"
if check "$TMP/enum.yaml" >"$TMP/out" 2>&1; then fail "a bad enum value passed"; fi
grep -q "enum.yaml:[0-9]*: DaemonSet/iofenced: /spec/template/spec/volumes/0/hostPath/type: must be equal to one of the allowed values" \
	"$TMP/out" || { cat "$TMP/out"; fail "enum: wrong message"; }
log "bad manifests refused with file:line (bidirectional propagation, misspelled field, enum)"

# Every container runs the image build-image.sh makes.
want=localhost/iofence/iofenced:$VERSION
images=$(grep -E '^\s+image:' "$K8S/iofenced-daemonset.yaml" | awk '{print $2}' | sort -u)
[ "$images" = "$want" ] || fail "DaemonSet images '$images', build-image.sh tags $want"
log "PASS"
