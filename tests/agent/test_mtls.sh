#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# TCP is mutual TLS: a client with a certificate of the agent's CA is served; no client
# certificate, a certificate of another CA, or plaintext are refused. TCP without TLS is
# refused at start unless --insecure-tcp. The agent runs in its own network namespace.
source "$(dirname "$0")/lib.sh" mtls "$@"
command -v openssl >/dev/null || skip "needs openssl"

ip netns add "$PFX-ns"
ip -n "$PFX-ns" link set lo up
C=$TMP/certs
mkdir -p "$C"
ca() { # NAME
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$1" \
		-keyout "$C/$1.key" -out "$C/$1.pem" 2>/dev/null || fail "openssl ca $1"
}
cert() { # NAME CA SAN
	openssl req -newkey rsa:2048 -nodes -subj "/CN=$1" -keyout "$C/$1.key" -out "$C/$1.csr" \
		2>/dev/null || fail "openssl csr $1"
	printf "subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n" "$3" >"$C/$1.ext"
	openssl x509 -req -in "$C/$1.csr" -CA "$C/$2.pem" -CAkey "$C/$2.key" -CAcreateserial \
		-days 2 -extfile "$C/$1.ext" -out "$C/$1.pem" 2>/dev/null || fail "openssl sign $1"
}
ca ca
ca otherca
cert agent ca "IP:127.0.0.1,DNS:localhost"
cert admin ca "DNS:admin"
cert intruder otherca "DNS:intruder"

ADDR=127.0.0.1:19443
# Refused: TCP without TLS material and without --insecure-tcp.
mkdir -p "$TMP/plain"
rc=0
in_ns "$PFX-ns" "$IOFENCED" --datapath none --node n --state "$TMP/plain/state.db" \
	--listen "$ADDR" 2>"$TMP/plain/err" || rc=$?
[ $rc != 0 ] && grep -q "mTLS" "$TMP/plain/err" || fail "plain TCP without --insecure-tcp started (rc $rc)"

mkdir -p "$TMP/a"
nsenter --net=/var/run/netns/"$PFX-ns" "$IOFENCED" --datapath none --node n \
	--state "$TMP/a/state.db" --listen "unix:$TMP/a/sock" --listen "$ADDR" \
	--tls-ca "$C/ca.pem" --tls-cert "$C/agent.pem" --tls-key "$C/agent.key" 2>"$TMP/a/log" &
PIDS+=($!)
for _ in $(seq 50); do "$CTL" status --agent "unix:$TMP/a/sock" >/dev/null 2>&1 && break; sleep 0.1; done

tcpctl() { in_ns "$PFX-ns" "$CTL" "$@" --agent "$ADDR" --timeout 3; }
tcpctl status --ca "$C/ca.pem" --cert "$C/admin.pem" --key "$C/admin.key" >/dev/null \
	|| fail "a client certificate of the CA was refused"
tcpctl apply -f "$SRC/deploy/examples/policy.yaml" --ca "$C/ca.pem" --cert "$C/admin.pem" \
	--key "$C/admin.key" >/dev/null || fail "apply over mTLS"
log "valid client served"
rc=0; tcpctl status --ca "$C/ca.pem" >/dev/null 2>&1 || rc=$?
[ $rc = 2 ] || fail "no client certificate: exit $rc, want 2"
rc=0; tcpctl status --ca "$C/ca.pem" --cert "$C/intruder.pem" --key "$C/intruder.key" >/dev/null 2>&1 || rc=$?
[ $rc = 2 ] || fail "certificate of another CA: exit $rc, want 2"
rc=0; tcpctl status >/dev/null 2>&1 || rc=$?
[ $rc = 2 ] || fail "plaintext: exit $rc, want 2"
rc=0; tcpctl status --ca "$C/otherca.pem" --cert "$C/admin.pem" --key "$C/admin.key" >/dev/null 2>&1 || rc=$?
[ $rc = 2 ] || fail "client that does not trust the agent's CA: exit $rc, want 2"
log "no cert, wrong CA and plaintext refused"
/usr/bin/python3 - "$C" "$ADDR" "$PFX-ns" <<'PY' || fail "python grpcio mTLS"
import subprocess, sys
# grpcio with the same certificates, run inside the namespace.
c, addr, ns = sys.argv[1:]
code = f"""
import grpc
r = lambda p: open(p, 'rb').read()
creds = grpc.ssl_channel_credentials(r('{c}/ca.pem'), r('{c}/admin.key'), r('{c}/admin.pem'))
ch = grpc.secure_channel('{addr}', creds)
grpc.channel_ready_future(ch).result(timeout=5)
"""
sys.exit(subprocess.run(["nsenter", "--net=/var/run/netns/" + ns, "/usr/bin/python3", "-c", code]).returncode)
PY
log "python grpcio mTLS client connected"
