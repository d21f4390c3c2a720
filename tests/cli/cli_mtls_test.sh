#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# mTLS failures name their cause on the client, with real certificates (openssl) and a real
# agent in a network namespace: key not matching the certificate, certificate without
# clientAuth, unreadable CA (checked before connecting); no client certificate, client
# certificate of another CA, agent certificate of another CA, plaintext to the TLS port, TLS
# to a plaintext port (found by the client's own handshake). No gRPC core log line leaks.
# Usage: cli_mtls_test.sh IOFENCED IOFENCECTL SRC_DIR
set -u
IOFENCED=$1 CTL=$2 SRC=$3
NET_TAG=cli-mtls
NET_CHECK=1
PFX=iofcli-mtls-$$
TMP=$(mktemp -d /tmp/iofcli-mtls.XXXXXX)
# shellcheck source=../lib/net.sh
source "$SRC/tests/lib/net.sh"
net_require
net_reap_stale iofcli-mtls
command -v openssl >/dev/null || skip "needs openssl"
net_ns_add "$PFX-ns"

C=$TMP/certs
mkdir -p "$C"
ca() { openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$1" -keyout "$C/$1.key" \
	-out "$C/$1.pem" 2>/dev/null || fail "openssl ca $1"; }
cert() { # NAME CA SAN EKU
	openssl req -newkey rsa:2048 -nodes -subj "/CN=$1" -keyout "$C/$1.key" -out "$C/$1.csr" \
		2>/dev/null || fail "openssl csr $1"
	printf "subjectAltName=%s\nextendedKeyUsage=%s\n" "$3" "$4" >"$C/$1.ext"
	openssl x509 -req -in "$C/$1.csr" -CA "$C/$2.pem" -CAkey "$C/$2.key" -CAcreateserial \
		-days 2 -extfile "$C/$1.ext" -out "$C/$1.pem" 2>/dev/null || fail "openssl sign $1"
}
ca ca
ca otherca
cert agent ca "IP:127.0.0.1" serverAuth
cert admin ca "DNS:admin" clientAuth
cert serveronly ca "DNS:serveronly" serverAuth
cert intruder otherca "DNS:intruder" clientAuth
cert rogue otherca "IP:127.0.0.1" serverAuth
printf 'not a certificate\n' >"$C/garbage.pem"

TLS=127.0.0.1:22510 PLAIN=127.0.0.1:22511 ROGUE=127.0.0.1:22512
start() { # NAME ARGS...
	mkdir -p "$TMP/$1"
	bg_ns "$PFX-ns" "$IOFENCED" --datapath none --node n --state "$TMP/$1/state.db" \
		--listen "unix:$TMP/$1/sock" "${@:2}" 2>"$TMP/$1/log"
	for _ in $(seq 100); do "$CTL" status --agent "unix:$TMP/$1/sock" >/dev/null 2>&1 && return; sleep 0.1; done
	fail "agent $1 did not start: $(cat "$TMP/$1/log")"
}
start tls --listen "$TLS" --tls-ca "$C/ca.pem" --tls-cert "$C/agent.pem" --tls-key "$C/agent.key"
start plain --listen "$PLAIN" --insecure-tcp
start rogue --listen "$ROGUE" --tls-ca "$C/ca.pem" --tls-cert "$C/rogue.pem" --tls-key "$C/rogue.key"

# expect WANT_EXIT "MESSAGE" CTL-ARGS...: one line on stderr with MESSAGE, nothing from gRPC.
expect() {
	local want=$1 msg=$2 rc=0
	shift 2
	in_ns "$PFX-ns" "$CTL" status --timeout 3 "$@" >/dev/null 2>"$TMP/err" || rc=$?
	[ "$rc" = "$want" ] || fail "$msg: exit $rc, want $want: $(cat "$TMP/err")"
	grep -qF -- "$msg" "$TMP/err" || fail "want \"$msg\", got: $(cat "$TMP/err")"
	! grep -Eq '^[EWID][0-9]{4} |ssl_transport_security|Socket closed|handshaker' "$TMP/err" \
		|| fail "gRPC core's own lines leak: $(cat "$TMP/err")"
	log "ok: $(head -1 "$TMP/err")"
}
good=(--ca "$C/ca.pem" --cert "$C/admin.pem" --key "$C/admin.key")
in_ns "$PFX-ns" "$CTL" status --agent "$TLS" "${good[@]}" >/dev/null || fail "a good client was refused"

expect 1 "key $C/intruder.key does not match certificate $C/admin.pem" \
	--agent "$TLS" --ca "$C/ca.pem" --cert "$C/admin.pem" --key "$C/intruder.key"
expect 1 "certificate $C/serveronly.pem does not allow client authentication: its extended key usage lacks clientAuth" \
	--agent "$TLS" --ca "$C/ca.pem" --cert "$C/serveronly.pem" --key "$C/serveronly.key"
expect 1 "CA $C/garbage.pem: no PEM certificate in it" \
	--agent "$TLS" --ca "$C/garbage.pem" --cert "$C/admin.pem" --key "$C/admin.key"
expect 2 "$TLS: TLS: the agent requires a client certificate: give --cert and --key" \
	--agent "$TLS" --ca "$C/ca.pem"
expect 2 "$TLS: TLS: the agent refused the client certificate: it is not signed by a CA the agent trusts" \
	--agent "$TLS" --ca "$C/ca.pem" --cert "$C/intruder.pem" --key "$C/intruder.key"
expect 2 "$ROGUE: TLS: the agent's certificate does not verify against the CA $C/ca.pem" \
	--agent "$ROGUE" "${good[@]}"
expect 2 "$TLS: TLS: $TLS is a TLS port and the call was plaintext: give --ca, --cert and --key" \
	--agent "$TLS"
expect 2 "$PLAIN: TLS: $PLAIN does not speak TLS" --agent "$PLAIN" "${good[@]}"
exit 0
