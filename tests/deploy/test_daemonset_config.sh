#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The DaemonSet's agent configuration holds as written: iofenced runs with the ConfigMap's
# iofenced.conf (cluster mode lines switched on) and the container's arguments, with NODE_NAME
# and NODE_IP substituted as the kubelet does, the files laid out as the pod's volumes lay them
# (the Secret from make-tls-secret.sh decoded into /etc/iofence/tls, the etcd client secret
# into /etc/iofence/etcd). It runs in its own network namespace and a private mount namespace
# (overlays on /etc, /var/lib, /run; a fresh bpffs), so the host is not touched. Checks: the node
# name, mTLS with the node's own certificate and the controller's, metrics on the node address,
# and the etcd settings read (the endpoint is closed: the agent runs fail-static, disconnected).
# The package's own iofenced.conf (systemd) gets the same etcd check.
# Ports: 22643 (API) and 22605 (metrics) replace 9443 and 9105, the tests' range.
#   test_daemonset_config.sh IOFENCED IOFENCECTL SRC_DIR
source "$(dirname "$0")/lib.sh" dsconfig
IOFENCED=$1 CTL=$2 SRC=$3

if [ "${DT_INNER:-}" = 1 ]; then
	# Inside the test's network and mount namespaces: the pod's file system view.
	mount -t overlay overlay -o "lowerdir=/etc,upperdir=$ROOT/etc.up,workdir=$ROOT/etc.work" /etc
	mount -t overlay overlay -o "lowerdir=/var/lib,upperdir=$ROOT/var.up,workdir=$ROOT/var.work" /var/lib
	mount -t tmpfs tmpfs /run
	mount -t bpf bpf /sys/fs/bpf
	mkdir -p /etc/iofence /var/lib/iofence /run/iofence
	cp -r "$ROOT/pod/etc/." /etc/iofence/
	ip link set lo up
	# shellcheck disable=SC2046 # the container's arguments, one a line
	mapfile -t args <"$ROOT/args"
	"$IOFENCED" "${args[@]}" 2>"$ROOT/agent.log" &
	agent=$!
	ok=0
	for _ in $(seq 100); do
		"$CTL" status --agent unix:/run/iofence/iofenced.sock >/dev/null 2>&1 && { ok=1; break; }
		sleep 0.1
	done
	[ $ok = 1 ] || { kill $agent; cat "$ROOT/agent.log" >&2; fail "agent did not start"; }
	"$CTL" status -o json >"$ROOT/status.json" || fail "status over the default socket"
	grep -q '"node": "node-a"' "$ROOT/status.json" || { cat "$ROOT/status.json"; fail "node name is not NODE_NAME"; }
	T=$ROOT/pod/controller
	"$CTL" status --agent 127.0.0.1:22643 --ca "$T/ca.crt" --cert "$T/admin.crt" --key "$T/admin.key" \
		>"$ROOT/tls.out" 2>&1 || { cat "$ROOT/tls.out"; fail "mTLS with the node's certificate"; }
	/usr/bin/python3 -c 'import urllib.request,sys; sys.stdout.write(urllib.request.urlopen("http://127.0.0.1:22605/metrics", timeout=5).read().decode())' \
		>"$ROOT/metrics" || fail "metrics on NODE_IP:22605"
	grep -q '^iofence_datastore_connected 0' "$ROOT/metrics" \
		|| { grep datastore "$ROOT/metrics"; fail "etcd settings not in effect"; }
	kill -TERM $agent
	wait $agent || fail "agent exit code after SIGTERM"

	# The same for the package's /etc/iofence/iofenced.conf (systemd): its etcd lines switched
	# on, the client certificate where the file says.
	sed -e 's/^# etcd-/etcd-/' -e 's|^etcd-endpoints = .*|etcd-endpoints = https://127.0.0.1:22601|' \
		"$SRC/deploy/iofenced.conf" >/etc/iofence/iofenced.conf
	grep -q '^etcd-cert = /etc/iofence/etcd/agent.pem' /etc/iofence/iofenced.conf || fail "shipped etcd-cert path"
	cp /etc/iofence/etcd/ca.crt /etc/iofence/etcd/ca.pem
	cp /etc/iofence/etcd/tls.crt /etc/iofence/etcd/agent.pem
	cp /etc/iofence/etcd/tls.key /etc/iofence/etcd/agent-key.pem
	"$IOFENCED" --config /etc/iofence/iofenced.conf --metrics 127.0.0.1:22606 2>"$ROOT/agent2.log" &
	agent=$!
	for _ in $(seq 100); do "$CTL" status >/dev/null 2>&1 && break; sleep 0.1; done
	/usr/bin/python3 -c 'import urllib.request,sys; sys.stdout.write(urllib.request.urlopen("http://127.0.0.1:22606/metrics", timeout=5).read().decode())' \
		>"$ROOT/metrics2" || { kill $agent; cat "$ROOT/agent2.log" >&2; fail "agent with the package's configuration"; }
	grep -q '^iofence_datastore_connected 0' "$ROOT/metrics2" || fail "package config: etcd settings not in effect"
	kill -TERM $agent
	wait $agent || fail "agent exit code after SIGTERM (package config)"
	exit 0
fi

[ "$(id -u)" = 0 ] || skip "needs root (namespaces, mounts)"
command -v unshare >/dev/null && command -v openssl >/dev/null || skip "needs unshare and openssl"
/usr/bin/python3 -c 'import yaml' 2>/dev/null || skip "needs python3-yaml"

# The pod's files: the ConfigMap's iofenced.conf, the Secret's keys, the container's args.
ROOT=$TMP
mkdir -p "$ROOT"/{etc.up,etc.work,var.up,var.work} "$ROOT/pod/etc/tls" "$ROOT/pod/etc/etcd"
"$SRC/deploy/kubernetes/make-tls-secret.sh" --dir "$ROOT/pod/controller" node-a=127.0.0.1 node-b \
	>/dev/null || fail "make-tls-secret.sh"
/usr/bin/python3 - "$SRC/deploy/kubernetes/iofenced-daemonset.yaml" \
	"$ROOT/pod/controller/iofenced-tls-secret.yaml" "$ROOT" <<'PY' || fail "reading the manifests"
import base64, sys, yaml
manifest, secret, root = sys.argv[1:]
docs = {d["kind"]: d for d in yaml.safe_load_all(open(manifest))}
conf = docs["ConfigMap"]["data"]["iofenced.conf"]
# Cluster mode on, towards a closed port (fail-static); the test's ports.
conf = conf.replace("# etcd-", "etcd-").replace("0.0.0.0:9443", "0.0.0.0:22643")
conf = "\n".join("etcd-endpoints = https://127.0.0.1:22601" if l.startswith("etcd-endpoints")
                 else l for l in conf.splitlines()) + "\n"
open(f"{root}/pod/etc/iofenced.conf", "w").write(conf)
for key, value in yaml.safe_load(open(secret))["data"].items():
    open(f"{root}/pod/etc/tls/{key}", "wb").write(base64.b64decode(value))
container = docs["DaemonSet"]["spec"]["template"]["spec"]["containers"][0]
env = {"NODE_NAME": "node-a", "NODE_IP": "127.0.0.1"}
with open(f"{root}/args", "w") as out:
    for a in container["args"]:
        for k, v in env.items():
            a = a.replace(f"$({k})", v)
        out.write(a.replace(":9105", ":22605") + "\n")
PY
# The etcd client secret (keys ca.crt, tls.crt, tls.key): any pair of the CA will do here.
cp "$ROOT/pod/controller/ca.crt" "$ROOT/pod/etc/etcd/ca.crt"
cp "$ROOT/pod/controller/admin.crt" "$ROOT/pod/etc/etcd/tls.crt"
cp "$ROOT/pod/controller/admin.key" "$ROOT/pod/etc/etcd/tls.key"
log "container args: $(tr '\n' ' ' <"$ROOT/args")"

NS=iofdeploy-ds-$$
ip netns add "$NS" || fail "ip netns add"
NETNS+=("$NS")
DT_INNER=1 ROOT=$ROOT nsenter --net=/var/run/netns/"$NS" unshare --mount --propagation private \
	bash "$0" "$@" || { [ -f "$ROOT/agent.log" ] && tail -20 "$ROOT/agent.log"; fail "agent with the DaemonSet's configuration"; }
log "node name, mTLS (node certificate, controller certificate), metrics, etcd settings: as configured"
log "the package's iofenced.conf with its etcd lines on: agent runs, follows (disconnected) etcd"
log "PASS"
