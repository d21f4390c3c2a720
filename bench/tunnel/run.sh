#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# bench/tunnel/run.sh: the cost of the vxlan-trace module. Two nodes on a kernel VXLAN overlay
# (tests/lib/overlay.sh, IPv4 outer), one workload each, one agent each enforcing a policy on
# the workloads' veths; the module on both underlays is switched off and on between figures,
# alternating the order in each repetition, so both sides see the same machine. Needs root.
#
#   bench/tunnel/run.sh [--quick] [--build DIR] [--out DIR] [--runs N] [--duration S]
#
#   --quick      one repetition, 1 s per figure (the ctest smoke test)
#   --runs N     repetitions (default 5); --duration S seconds per figure (default 4)
#   --build DIR  build tree with iofenced, iofencectl and bench/peers (default <repo>/build)
#   --out DIR    results.md (the table) and raw.tsv (every measurement); default bench/tunnel/out
#
# Figures, each the median of --runs runs (min-max beside it):
#   (a) one TCP stream through the tunnel (iperf3, w1 -> w2), Gbit/s
#   (b) 64-byte UDP frames through the tunnel (bench/peers' raw sender, one inner pair),
#       packets/s received
#   (c) ns per packet of each program from the kernel's BPF statistics
#       (kernel.bpf_stats_enabled=1 for the run, restored after): the module's pair on the
#       underlays beside the policy programs on the workloads' veths, over the same packets.
# Target: throughput with the module >= 0.97x without it.
set -euo pipefail

SKIP=249
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD=$REPO/build
OUT=$HERE/out
RUNS=5
DUR=4
TCP_PORT=21720
UDP_PORT=21721

while [ $# -gt 0 ]; do
	case $1 in
	--quick) RUNS=1; DUR=1 ;;
	--build) BUILD=$2; shift ;;
	--out) OUT=$2; shift ;;
	--runs) RUNS=$2; shift ;;
	--duration) DUR=$2; shift ;;
	*) echo "usage: $0 [--quick] [--build DIR] [--out DIR] [--runs N] [--duration S]" >&2; exit 1 ;;
	esac
	shift
done

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit $SKIP; }
for t in iperf3 nsenter bpftool python3; do
	command -v $t >/dev/null || { echo "SKIP: needs $t"; exit $SKIP; }
done
IOFENCED=$BUILD/agent/iofenced/iofenced
CTL=$BUILD/agent/ctl/iofencectl
UDP=$BUILD/bench/peers/peers_udp
for b in "$IOFENCED" "$CTL" "$UDP"; do
	[ -x "$b" ] || { echo "missing $b (build first)" >&2; exit 1; }
done
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

OV_PFX=ioftun-$$
source "$REPO/tests/lib/overlay.sh"
TMP=$(mktemp -d /tmp/ioftun.XXXXXX)
PIDS=()
STATS_OLD=$(sysctl -n kernel.bpf_stats_enabled)
cleanup() {
	local rc=$?
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	for a in A1 A2; do
		[ -d "/sys/fs/bpf/$OV_PFX-$a" ] &&
			"$IOFENCED" --cleanup --pin-dir "/sys/fs/bpf/$OV_PFX-$a" --log-level error
	done
	ov_cleanup
	sysctl -qw kernel.bpf_stats_enabled="$STATS_OLD"
	rm -rf "$TMP"
	exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ov_fabric
ov_node n1 1
ov_node n2 2
ov_mesh
ov_workload n1 w1 vw1 11
ov_workload n2 w2 vw2 21

agent() { echo "unix:$TMP/$1.sock"; }
spawn_agent() { # NAME NODE
	nsenter --net=/var/run/netns/"$OV_PFX-$2" "$IOFENCED" --node "$2" --state "$TMP/$1.db" \
		--listen "$(agent "$1")" --pin-dir "/sys/fs/bpf/$OV_PFX-$1" --log-level warn \
		2>>"$TMP/$1.log" &
	PIDS+=($!)
}
wait_agent() { # NAME
	for _ in $(seq 600); do
		"$CTL" status --agent "$(agent "$1")" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "agent $1 did not start: $(cat "$TMP/$1.log")" >&2
	exit 1
}
# Both agents load their programs at once (the verifier's time is most of a start).
spawn_agent A1 n1
spawn_agent A2 n2
wait_agent A1
wait_agent A2
cat >"$TMP/p.yaml" <<YAML
revision: 1
defaults: {ingress: deny, egress: allow}
securityGroups:
  - name: client
    rules: []
  - name: server
    rules:
      - {direction: ingress, protocol: tcp, ports: [$TCP_PORT], group: client}
      - {direction: ingress, protocol: udp, ports: [$UDP_PORT], group: client}
endpoints:
  - {name: w1, node: n1, interface: vw1, addresses: [10.210.0.11], groups: [client]}
  - {name: w2, node: n2, interface: vw2, addresses: [10.210.0.21], groups: [server]}
YAML
"$CTL" apply -f "$TMP/p.yaml" --agent "$(agent A1)" --agent "$(agent A2)" >/dev/null
ov_wait_ready w1 10.210.0.21
ov_in w2 iperf3 -s -p $TCP_PORT >/dev/null 2>&1 &
PIDS+=($!)
sleep 0.5

module() { # on|off
	for a in A1 A2; do
		if [ "$1" = on ]; then
			"$CTL" module enable vxlan-trace --interface ul0 --agent "$(agent $a)" >/dev/null
		else
			"$CTL" module disable vxlan-trace --agent "$(agent $a)" >/dev/null
		fi
	done
}

# Program ids ("kind id" lines) from both agents' status: the policy programs (tc/...) and,
# when on, the module's (vxlan-trace/...). One Python for both answers: process starts are
# most of a quick run's time.
prog_ids() {
	for a in A1 A2; do "$CTL" status --agent "$(agent $a)" -o json; done | /usr/bin/python3 -c '
import json, sys
text, dec, i = sys.stdin.read(), json.JSONDecoder(), 0
while i < len(text):
    if text[i].isspace():
        i += 1
        continue
    d, i = dec.raw_decode(text, i)
    for m in d["agents"][0]["modules"]:
        kind = "policy" if m["name"].startswith("tc/") else \
               "module" if m["name"].startswith("vxlan-trace/") else None
        if kind and m["prog_id"] and m["attached"]:
            print(kind, m["prog_id"])'
}

tcp_run() {
	ov_in w1 iperf3 -c 10.210.0.21 -p $TCP_PORT -t "$DUR" -J | /usr/bin/python3 -c '
import json, sys
print("%.3f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))'
}
udp_run() {
	ov_in w2 "$UDP" recv --port $UDP_PORT --idle 0.5 --max $((DUR + 5)) >"$TMP/recv" &
	local r=$!
	sleep 0.3
	ov_in w1 "$UDP" send --dst 10.210.0.21 --port $UDP_PORT --src 10.210.0.11 --src-count 1 \
		--duration "$DUR" --size 64 --tuple-every 1000000000 >/dev/null
	wait $r
	sed -n 's/.*pps=\([0-9.]*\).*/\1/p' "$TMP/recv"
}

sysctl -qw kernel.bpf_stats_enabled=1
mkdir -p "$OUT"
printf "rep\tmodule\tfigure\tvalue\tmodule_ns\tmodule_cnt\tpolicy_ns\tpolicy_cnt\n" >"$OUT/raw.tsv"
for rep in $(seq "$RUNS"); do
	order="off on"
	[ $((rep % 2)) = 0 ] && order="on off"
	for mode in $order; do
		module "$mode"
		prog_ids >"$TMP/ids"
		for fig in tcp udp; do
			bpftool prog show -j >"$TMP/s0"
			v=$(${fig}_run)
			bpftool prog show -j >"$TMP/s1"
			/usr/bin/python3 - "$TMP/ids" "$TMP/s0" "$TMP/s1" "$rep" "$mode" "$fig" "$v" >>"$OUT/raw.tsv" <<'PY'
import json, sys
kinds = {}
for line in open(sys.argv[1]):
    k, pid = line.split()
    kinds[int(pid)] = k
def load(p):
    t = {}
    for prog in json.load(open(p)):
        k = kinds.get(prog["id"])
        if k:
            a = t.setdefault(k, [0, 0])
            a[0] += prog.get("run_time_ns", 0); a[1] += prog.get("run_cnt", 0)
    return t
s0, s1 = load(sys.argv[2]), load(sys.argv[3])
d = {k: (s1[k][0] - s0.get(k, [0, 0])[0], s1[k][1] - s0.get(k, [0, 0])[1]) for k in s1}
m, p = d.get("module", (0, 0)), d.get("policy", (0, 0))
print("\t".join(sys.argv[4:8] + [str(m[0]), str(m[1]), str(p[0]), str(p[1])]))
PY
			echo "rep $rep module $mode $fig: $v" >&2
		done
	done
done

/usr/bin/python3 - "$OUT/raw.tsv" "$RUNS" "$DUR" >"$OUT/results.md" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])][1:]
runs, dur = sys.argv[2], sys.argv[3]
def vals(mode, fig):
    return [float(r[3]) for r in rows if r[1] == mode and r[2] == fig]
def ns(kind, mode, fig):
    i = 4 if kind == "module" else 6
    t = sum(int(r[i]) for r in rows if r[1] == mode and r[2] == fig)
    c = sum(int(r[i + 1]) for r in rows if r[1] == mode and r[2] == fig)
    return (t / c if c else 0.0), c
def fmt(v):
    return "%.3g (%.3g-%.3g)" % (statistics.median(v), min(v), max(v)) if v else "-"
print("| figure | module off | module on | on/off | module ns/pkt | policy ns/pkt (on) | policy ns/pkt (off) |")
print("|---|---:|---:|---:|---:|---:|---:|")
names = {"tcp": "TCP stream, Gbit/s", "udp": "64-byte UDP, packets/s"}
ratios = {}
for fig in ("tcp", "udp"):
    off, on = vals("off", fig), vals("on", fig)
    ratio = statistics.median(on) / statistics.median(off) if off and on else 0
    ratios[fig] = ratio
    mns, mc = ns("module", "on", fig)
    pon, _ = ns("policy", "on", fig)
    poff, _ = ns("policy", "off", fig)
    print("| %s | %s | %s | **%.3fx** | %.1f (%d runs of a hook) | %.1f | %.1f |" %
          (names[fig], fmt(off), fmt(on), ratio, mns, mc, pon, poff))
print()
print("Runs: %s repetitions x %s s per figure, module off/on alternated. Target on/off >= 0.97: "
      "%s." % (runs, dur, ", ".join("%s %s" % (f, "met" if r >= 0.97 else "MISSED")
                                   for f, r in ratios.items())))
PY
cat "$OUT/results.md"
