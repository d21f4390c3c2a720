#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Makes the mutual-TLS material of a Kubernetes deployment: a CA, one agent certificate per
# node (the DaemonSet's pod on node N serves N.crt/N.key), a client certificate for the
# controller (iofencectl --ca --cert --key), and the Secret iofenced-tls holding the CA
# certificate and every node's pair. Uses openssl only; the CA key never enters the cluster.
#
#   make-tls-secret.sh [--dir DIR] [--days N] NODE[=ADDR[,ADDR...]]...
#   kubectl apply -f DIR/iofenced-tls-secret.yaml
#
# NODE is the Kubernetes node name (kubectl get nodes); ADDR, the addresses the controller
# dials (node IPs or DNS names), go into the certificate's subjectAltName beside NODE. Files
# that exist already in DIR (CA, node certificates) are kept: run it again with a new node to
# add it. Every agent pod can read the whole secret; to keep each node's key on its node only,
# copy DIR/NODE.crt, DIR/NODE.key and DIR/ca.crt to /etc/iofence/tls on that node and turn the
# DaemonSet's "tls" volume into a hostPath volume (docs/DEPLOY.md).
set -euo pipefail
DIR=./iofence-tls DAYS=825
die() { echo "make-tls-secret: $*" >&2; exit 1; }
nodes=()
while [ $# -gt 0 ]; do
	case $1 in
	--dir) [ $# -ge 2 ] || die "--dir needs a value"; DIR=$2; shift 2 ;;
	--days) [ $# -ge 2 ] || die "--days needs a value"; DAYS=$2; shift 2 ;;
	-h | --help) sed -n '3,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) die "unknown option $1 (see --help)" ;;
	*) nodes+=("$1"); shift ;;
	esac
done
[ ${#nodes[@]} -gt 0 ] || die "name at least one node (see --help)"
[[ $DAYS =~ ^[0-9]+$ ]] || die "--days $DAYS: not a number of days"
command -v openssl >/dev/null || die "openssl not installed"
mkdir -p "$DIR"
umask 077

# A node name is a DNS subdomain (RFC 1123); it becomes a file name and a secret key.
valid_name() { [[ $1 =~ ^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$ ]]; }

if [ ! -f "$DIR/ca.crt" ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$DAYS" \
		-subj "/CN=iofence CA" -keyout "$DIR/ca.key" -out "$DIR/ca.crt" 2>/dev/null \
		|| die "could not create the CA in $DIR"
	echo "make-tls-secret: new CA $DIR/ca.crt (keep $DIR/ca.key out of the cluster)"
fi

issue() { # NAME SAN EKU
	[ -f "$DIR/$1.crt" ] && return 0
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
		-keyout "$DIR/$1.key" -out "$DIR/$1.csr" 2>/dev/null || die "$1: could not make a key"
	printf "subjectAltName=%s\nextendedKeyUsage=%s\nkeyUsage=digitalSignature\n" "$2" "$3" \
		>"$DIR/$1.ext"
	openssl x509 -req -in "$DIR/$1.csr" -CA "$DIR/ca.crt" -CAkey "$DIR/ca.key" -CAcreateserial \
		-days "$DAYS" -extfile "$DIR/$1.ext" -out "$DIR/$1.crt" 2>/dev/null \
		|| die "$1: could not sign the certificate"
	rm -f "$DIR/$1.csr" "$DIR/$1.ext"
	echo "make-tls-secret: $DIR/$1.crt ($2)"
}

issue admin "DNS:iofence-admin" clientAuth
names=()
for spec in "${nodes[@]}"; do
	name=${spec%%=*}
	valid_name "$name" || die "node \"$name\": not a valid Kubernetes node name"
	[ "$name" != admin ] && [ "$name" != ca ] || die "node \"$name\": name taken by the CA or the controller"
	san="DNS:$name"
	if [ "$spec" != "$name" ]; then
		IFS=, read -r -a addrs <<<"${spec#*=}"
		for a in "${addrs[@]}"; do
			if [[ $a =~ ^[0-9.]+$ || $a == *:* ]]; then san+=",IP:$a"; else san+=",DNS:$a"; fi
		done
	fi
	issue "$name" "$san" serverAuth,clientAuth
	names+=("$name")
done

secret=$DIR/iofenced-tls-secret.yaml
{
	echo "# Made by make-tls-secret.sh: kubectl apply -f $(basename "$secret")"
	echo "apiVersion: v1"
	echo "kind: Secret"
	echo "metadata:"
	echo "  name: iofenced-tls"
	echo "  namespace: iofence-system"
	echo "type: Opaque"
	echo "data:"
	echo "  ca.crt: $(base64 -w0 "$DIR/ca.crt")"
	for n in "${names[@]}"; do
		echo "  $n.crt: $(base64 -w0 "$DIR/$n.crt")"
		echo "  $n.key: $(base64 -w0 "$DIR/$n.key")"
	done
} >"$secret"
echo "make-tls-secret: $secret (${#names[@]} node(s)); the controller uses" \
	"--ca $DIR/ca.crt --cert $DIR/admin.crt --key $DIR/admin.key"
