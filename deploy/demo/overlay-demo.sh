#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# iofence overlay demo: three nodes on a VXLAN overlay (tests/lib/overlay.sh), one agent per
# node following a local etcd (cluster mode; direct push to the three agents when etcd is not
# installed), the policy deploy/examples/overlay.yaml with cross-node groups, real traffic
# probes as an allowed/denied matrix, counters, the vxlan-trace module's tunnel statistics,
# and the dashboard's health page saved as HTML and PNG (headless Chromium).
#
#   deploy/demo/overlay-demo.sh BUILD_DIR
#
# Everything it creates is named iofdemo-ov-* (namespaces), /sys/fs/bpf/iofdemo-ov-* (pins)
# and /var/lib/iofence-demo-overlay (state); it is all removed on exit. The page is written
# to ${IOFDEMO_OUT:-/tmp/iofence-demo}; the dashboard listens on ${IOFDEMO_LISTEN:-127.0.0.1:8080}.
set -u
BUILD=${1:?usage: overlay-demo.sh BUILD_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
IOFENCED=$BUILD/agent/iofenced/iofenced
CTL=$BUILD/agent/ctl/iofencectl
PROBE="/usr/bin/python3 $HERE/probe.py"
POLICY=$SRC/deploy/examples/overlay.yaml
STATE=/var/lib/iofence-demo-overlay
OUT=${IOFDEMO_OUT:-/tmp/iofence-demo}
LISTEN=${IOFDEMO_LISTEN:-127.0.0.1:8080}
ETCD_URL=http://192.168.210.254:2379
OV_PFX=iofdemo-ov
PIDS=()

[ "$(id -u)" = 0 ] || { echo "overlay-demo.sh: needs root (network namespaces, BPF)" >&2; exit 2; }
for f in "$IOFENCED" "$CTL"; do
	[ -x "$f" ] || { echo "overlay-demo.sh: $f not built (cmake --build $BUILD)" >&2; exit 2; }
done
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
# shellcheck source=../../tests/lib/overlay.sh
source "$SRC/tests/lib/overlay.sh"

# Started in the background with nsenter itself, so that $! is the process to stop.
bg() { # bg NS CMD...: runs CMD in namespace $OV_PFX-NS
	local ns=$1
	shift
	nsenter --net=/var/run/netns/"$OV_PFX-$ns" "$@" &
	PIDS+=($!)
	echo $! >>"$STATE/pids"
}
agent() { echo "unix:$STATE/n$1.sock"; }
AGENTS=(--agent "$(agent 1)" --agent "$(agent 2)" --agent "$(agent 3)")

teardown() {
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	for i in 1 2 3; do
		[ -d "/sys/fs/bpf/$OV_PFX-n$i" ] &&
			"$IOFENCED" --cleanup --pin-dir "/sys/fs/bpf/$OV_PFX-n$i" --log-level warn
	done
	ov_cleanup
	rm -rf "$STATE"
}
on_exit() {
	local rc=$?
	teardown
	exit $rc
}
# Leftovers of an interrupted run: the processes it recorded.
if [ -f "$STATE/pids" ]; then
	while read -r p; do kill -TERM "$p" 2>/dev/null; done <"$STATE/pids"
	sleep 0.5
fi
teardown
trap on_exit EXIT
trap 'exit 1' INT TERM
mkdir -p "$STATE" "$OUT"

echo "== overlay: fabric bridge, nodes n1..n3 (underlay 192.168.210.1-3, VXLAN VNI $OV_VNI)," \
	"workloads client (n1), web (n2), db (n3) on 10.210.0.0/24 and fd00:210::/64"
ov_build 3 1
ov_wait_ready w11 10.210.0.21 10.210.0.31
ov_wait_ready w21 10.210.0.31

CLUSTER=()
if command -v etcd >/dev/null && command -v etcdctl >/dev/null; then
	echo "== etcd on the fabric ($ETCD_URL): the datastore the agents follow"
	ip -n "$OV_PFX-fabric" addr add 192.168.210.254/24 dev fab0
	bg fabric etcd --name demo --data-dir "$STATE/etcd" --listen-client-urls "$ETCD_URL" \
		--advertise-client-urls "$ETCD_URL" --listen-peer-urls http://192.168.210.254:2380 \
		>"$STATE/etcd.log" 2>&1
	for _ in $(seq 100); do
		ov_in fabric etcdctl --endpoints "$ETCD_URL" endpoint health >/dev/null 2>&1 && break
		sleep 0.1
	done
	CLUSTER=(--etcd-endpoints "$ETCD_URL")
else
	echo "== etcd not installed: the controller pushes to the three agents directly"
fi

echo "== iofenced on n1, n2, n3 (node-1..3), vxlan-trace enabled on each underlay (ul0)"
for i in 1 2 3; do
	bg "n$i" "$IOFENCED" --node "node-$i" --state "$STATE/n$i.db" --listen "$(agent "$i")" \
		--pin-dir "/sys/fs/bpf/$OV_PFX-n$i" --log-level info "${CLUSTER[@]}" \
		2>"$STATE/n$i.log"
done
for i in 1 2 3; do
	for _ in $(seq 100); do "$CTL" status --agent "$(agent "$i")" >/dev/null 2>&1 && break; sleep 0.1; done
	"$CTL" module enable vxlan-trace --interface ul0 --agent "$(agent "$i")" >/dev/null \
		|| { tail "$STATE/n$i.log"; echo "overlay-demo.sh: agent n$i" >&2; exit 2; }
done

echo "== iofencectl apply -f deploy/examples/overlay.yaml"
if [ ${#CLUSTER[@]} -gt 0 ]; then
	ov_in fabric "$CTL" apply -f "$POLICY" "${CLUSTER[@]}" || exit 1
	ov_in fabric "$CTL" rollout status --wait --timeout 30 "${CLUSTER[@]}" || exit 1
else
	"$CTL" apply -f "$POLICY" "${AGENTS[@]}" || exit 1
fi
echo
"$CTL" status "${AGENTS[@]}"
echo

bg w21 $PROBE serve tcp 80 8080 22 >/dev/null
bg w31 $PROBE serve tcp 5432 22 >/dev/null
sleep 0.3
printf "== probes across the overlay\n%-8s %-8s %-14s %-16s %-9s %-9s %s\n" FROM TO DST TRAFFIC \
	EXPECTED RESULT ""
failures=0
probe() { # FROM TO DST KIND PORT EXPECTED
	local from=$1 to=$2 dst=$3 kind=$4 port=$5 want=$6 got mark=ok w
	case $from in client) w=w11 ;; web) w=w21 ;; db) w=w31 ;; esac
	if [ "$kind" = icmp ]; then
		ov_in "$w" ping -c1 -W1 "$dst" >/dev/null 2>&1 && got=allowed || got=denied
	else
		ov_in "$w" $PROBE "$kind" "$dst" "$port" 1 && got=allowed || got=denied
	fi
	[ "$got" = "$want" ] || { mark=UNEXPECTED; failures=$((failures + 1)); }
	printf "%-8s %-8s %-14s %-16s %-9s %-9s %s\n" "$from" "$to" "$dst" \
		"$([ "$kind" = icmp ] && echo "icmp echo" || echo "$kind/$port")" "$want" "$got" "$mark"
}
probe client web 10.210.0.21 tcp 80 allowed
probe client web fd00:210::15 tcp 8080 allowed
probe client web 10.210.0.21 icmp - allowed
probe client web 10.210.0.21 tcp 22 denied
probe client db 10.210.0.31 tcp 5432 denied
probe web db 10.210.0.31 tcp 5432 allowed
probe web db fd00:210::1f tcp 5432 allowed
probe web db 10.210.0.31 tcp 22 denied
probe db web 10.210.0.21 tcp 80 denied

# Steady traffic for the tunnel statistics and the page: two allowed streams, one denied.
bg w11 $PROBE hold 10.210.0.21 80 120 >/dev/null 2>&1
bg w21 $PROBE hold 10.210.0.31 5432 120 >/dev/null 2>&1
bg w11 ping -q -i 0.2 10.210.0.31 >/dev/null 2>&1
# The dashboard finds the agents through the status keys in cluster mode (it then runs on the
# fabric, beside etcd, and so does the browser that renders it).
DASH_NS=()
if [ ${#CLUSTER[@]} -gt 0 ]; then
	DASH_NS=(nsenter --net=/var/run/netns/"$OV_PFX-fabric")
	bg fabric "$CTL" dashboard --listen "$LISTEN" "${CLUSTER[@]}" 2>"$STATE/dashboard.log"
else
	"$CTL" dashboard --listen "$LISTEN" "${AGENTS[@]}" 2>"$STATE/dashboard.log" &
	PIDS+=($!)
fi
sleep 4

for i in 1 2 3; do
	echo
	echo "== iofencectl counters (node-$i)"
	"$CTL" counters --agent "$(agent "$i")"
done
echo
echo "== iofencectl tunnels (the vxlan-trace module on every node's underlay)"
"$CTL" tunnels "${AGENTS[@]}"
echo
echo "== health page (iofencectl dashboard --listen $LISTEN ${CLUSTER[*]:---agent ...}," \
	"rendered by headless Chromium)"
if "${DASH_NS[@]}" python3 "$HERE/snapshot.py" "http://$LISTEN/#select=tunnel-0-1" "$OUT/health.html" \
	"$OUT/health.png"; then
	echo "  $OUT/health.html"
	echo "  $OUT/health.png"
else
	echo "  not written (is chromium installed? see $STATE/dashboard.log)"
fi
echo
if [ $failures = 0 ]; then
	echo "demo: every probe matched the policy"
else
	echo "demo: $failures probe(s) did not match the policy" >&2
	tail -n 20 "$STATE"/n*.log >&2
	exit 1
fi
