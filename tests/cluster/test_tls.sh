#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# https:// endpoints: etcd requires client certificates (--client-cert-auth); the agent and
# iofencectl connect with --etcd-ca --etcd-cert --etcd-key (the agent from its config file,
# keys etcd-*), and a client without a certificate is refused (exit 2).
source "$(dirname "$0")/lib.sh" tls 21440 "$@"
command -v openssl >/dev/null || skip "needs openssl"

C=$TMP/certs
mkdir -p "$C"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=etcd-ca" -keyout "$C/ca.key" \
	-out "$C/ca.pem" 2>/dev/null || fail "openssl ca"
for n in server client; do
	openssl req -newkey rsa:2048 -nodes -subj "/CN=$n" -keyout "$C/$n.key" -out "$C/$n.csr" 2>/dev/null
	printf "subjectAltName=IP:%s\nextendedKeyUsage=serverAuth,clientAuth\n" "$EIP" >"$C/$n.ext"
	openssl x509 -req -in "$C/$n.csr" -CA "$C/ca.pem" -CAkey "$C/ca.key" -CAcreateserial -days 2 \
		-extfile "$C/$n.ext" -out "$C/$n.pem" 2>/dev/null || fail "openssl sign $n"
done
backbone
EP=https://$EIP:$((CL_PORT + 1))
nsenter --net=/var/run/netns/"$NET" etcd --name m1 --data-dir "$TMP/etcd1" \
	--listen-client-urls "$EP" --advertise-client-urls "$EP" \
	--listen-peer-urls "http://$EIP:$((CL_PORT + 6))" \
	--initial-advertise-peer-urls "http://$EIP:$((CL_PORT + 6))" \
	--initial-cluster "m1=http://$EIP:$((CL_PORT + 6))" \
	--cert-file "$C/server.pem" --key-file "$C/server.key" --trusted-ca-file "$C/ca.pem" \
	--client-cert-auth >"$TMP/etcd1.log" 2>&1 &
PIDS+=($!)
TLS=(--etcd-ca "$C/ca.pem" --etcd-cert "$C/client.pem" --etcd-key "$C/client.key")
tctl() { in_ns "$NET" "$CTL" "$@" --etcd-endpoints "$EP" "${TLS[@]}"; }
for _ in $(seq 100); do tctl rollout status >/dev/null 2>&1 && break; sleep 0.1; done
cnode a 1
cat >"$TMP/agent.conf" <<CONF
etcd-endpoints = $EP
etcd-ca = $C/ca.pem
etcd-cert = $C/client.pem
etcd-key = $C/client.key
CONF
start_agent A a node-0 --datapath none --config "$TMP/agent.conf"
/usr/bin/python3 "$(dirname "$0")/gen_doc.py" 3 2 1000 1 >"$TMP/p.yaml"
tctl apply -f "$TMP/p.yaml" >/dev/null || fail "apply over https"
tctl rollout status --wait --timeout 20 >"$TMP/ro" || fail "rollout over https: $(cat "$TMP/ro")"
grep -q "1 converged" "$TMP/ro" || fail "rollout: $(cat "$TMP/ro")"
rc=0
in_ns "$NET" "$CTL" rollout status --etcd-endpoints "$EP" --etcd-ca "$C/ca.pem" >/dev/null 2>&1 || rc=$?
[ $rc = 2 ] || fail "a client without a certificate: rc $rc"
rc=0
in_ns "$NET" "$CTL" rollout status --etcd-endpoints "$EP" >/dev/null 2>&1 || rc=$?
[ $rc = 1 ] || fail "https without --etcd-ca: rc $rc"
log "mTLS to etcd: agent (config file) and iofencectl converge; no certificate: refused"
