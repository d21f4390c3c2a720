#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fail-closed workload start, with denied UDP flowing to the workload all along (one flow,
# which the workload answers):
#  - with `iofencectl endpoint wait NAME --enforced` between creating the interface and
#    bringing it up (the orchestrator's way): STARTS starts (default 50), 0 denied datagrams
#    delivered;
#  - without it (the interface appears up): RACE starts (default 10); prints how long after
#    the link came up denied datagrams were still delivered (p50/p99/max: the enforcement
#    latency as traffic sees it), and fails if any was delivered more than 1 s after it (a
#    lasting hole: the workload's replies must not open the denied flow);
#  - agent stopped, the interface created and up, agent started: prints how long after the
#    agent's start denied datagrams were still delivered; none more than 1 s after it.
# While the workloads start, applies run back to back in the background (APPLY_RULES rules a
# revision, default 300; 0: none), so link events meet applies in progress (the link watcher
# attaches beside the apply worker; an apply activating its slot follows the link). The
# agent's own timing of each attach (from its log) is printed: from the event to the hooks,
# the watcher's wait for a CPU, for the datapath lock, and the links' creation.
# Usage: test_start_enforced.sh IOFENCED IOFENCECTL SRC BIN [STARTS] [RACE] [RESTARTS]
# (RESTARTS: agent starts with the interface up, default 1; DEBUG=1: the delivery times of
# each start without the wait, and the guard's check durations; AGENT_ARGS: more agent flags;
# RESTART_VARIANTS: how the restarts start the agent, taken in turn so that each meets the
# same load: `default` (AGENT_ARGS), `fifo` (--attach-rt-priority 1), `normal` (0),
# `fifo-exec` (nsenter and the agent exec'd at SCHED_FIFO 1 by chrt, as systemd's
# CPUSchedulingPolicy=fifo does))
source "$(dirname "$0")/lib.sh" start "$@"
STARTS=${5:-50}
RACE=${6:-10}
RESTARTS=${7:-1}
TRAFFIC="/usr/bin/python3 $(dirname "$0")/start_traffic.py"
N=$PFX-n

node n
workload n atk hatk 10.91.0.2 fd91::2
ip netns add "$PFX-w"
ip -n "$PFX-w" link set lo up
cat >"$TMP/p.yaml" <<'YAML'
revision: 1
defaults: {ingress: deny, egress: allow}
securityGroups: []
endpoints:
  - {name: atk, node: node-n, interface: hatk, addresses: [10.91.0.2]}
  - {name: w, node: node-n, interface: hw, addresses: [10.91.0.3]}
YAML
start_agent A n node-n ${AGENT_ARGS:-}
ctl A apply -f "$TMP/p.yaml" >/dev/null || fail "apply"

# The background applies: two documents that differ in every rule's port, each with the
# endpoints above (w stays in every revision) and APPLY_RULES rules on atk.
APPLY_RULES=${APPLY_RULES:-300}
for v in 0 1; do
	python3 - "$APPLY_RULES" "$v" >"$TMP/load$v.yaml" <<'PY'
import sys
n, v = int(sys.argv[1]), int(sys.argv[2])
print("defaults: {ingress: deny, egress: allow}\nsecurityGroups:\n  - name: bulk\n    rules:")
for i in range(n):
    print("      - {direction: ingress, protocol: tcp, ports: [%d], cidr: 10.%d.%d.0/24}"
          % (1000 + 2 * i + v, 100 + i // 256, i % 256))
print("endpoints:\n  - {name: atk, node: node-n, interface: hatk, addresses: [10.91.0.2], groups: [bulk]}")
print("  - {name: w, node: node-n, interface: hw, addresses: [10.91.0.3]}")
PY
done
APPLIES=$TMP/applies
apply_loop() {
	local v=0
	while :; do
		ctl A apply -f "$TMP/load$v.yaml" >/dev/null 2>&1 && echo ok >>"$APPLIES"
		v=$((1 - v))
	done
}
load_start() {
	[ "$APPLY_RULES" -gt 0 ] || return 0
	apply_loop &
	LOAD=$!
	PIDS+=($LOAD)
}
load_stop() {
	[ "$APPLY_RULES" -gt 0 ] || return 0
	kill "$LOAD" 2>/dev/null
	wait "$LOAD" 2>/dev/null
}
in_ns "$PFX-atk" ip neigh replace 10.91.0.3 lladdr 02:00:0a:5b:00:03 dev eth0

# start WAIT: the workload's interface comes. WAIT 1: created with its peer in the workload's
# namespace, enslaved while down, `endpoint wait`, then up. WAIT 0: created in the workload's
# namespace, moved to the node's, then renamed, enslaved and set up by one netlink message
# (the agent first hears of hw when it is already up). Prints the time just before it came up.
start() {
	ip -n "$N" link del hw 2>/dev/null
	if [ "$1" = 1 ]; then
		ip -n "$N" link add hw type veth peer name eth0 netns "$PFX-w" || fail "veth"
	else
		ip -n "$PFX-w" link add tmpw type veth peer name eth0 || fail "veth"
	fi
	ip -n "$PFX-w" link set eth0 address 02:00:0a:5b:00:03
	ip -n "$PFX-w" addr add 10.91.0.3/24 dev eth0
	ip -n "$PFX-w" link set eth0 up
	if [ "$1" = 1 ]; then
		ip -n "$N" link set hw master br0 || fail "enslave"
		ctl A endpoint wait w --enforced --timeout 10 >/dev/null ||
			fail "endpoint wait w --enforced did not succeed"
		date +%s.%N
		ip -n "$N" link set hw up
	else
		ip -n "$PFX-w" link set tmpw netns "$N"
		nsenter --net=/var/run/netns/"$N" $TRAFFIC linkup tmpw hw br0 ||
			fail "rename, enslave, up"
	fi
}

# phase WAIT COUNT OUT: COUNT starts under denied traffic; the delivered datagrams' times
# in OUT.rx, the link-up times in OUT.up.
phase() {
	local wait=$1 count=$2 out=$3 rx tx i
	nsenter --net=/var/run/netns/"$PFX-w" $TRAFFIC recv 21230 "$out.rx" &
	rx=$!
	PIDS+=($rx)
	nsenter --net=/var/run/netns/"$PFX-atk" $TRAFFIC send 10.91.0.3 21230 2000 3600 &
	tx=$!
	PIDS+=($tx)
	: >"$out.up"
	for i in $(seq "$count"); do
		start "$wait" >>"$out.up"
		sleep 0.1 # denied traffic against the enforced workload
	done
	sleep 1.2
	kill "$tx" "$rx"
	wait "$rx" 2>/dev/null
	wait "$tx" 2>/dev/null
}

load_start
phase 1 "$STARTS" "$TMP/wait"
delivered=$(grep -c . "$TMP/wait.rx")
log "with endpoint wait: $STARTS starts, $delivered denied datagrams delivered"
[ "$delivered" = 0 ] || fail "$delivered denied datagrams delivered with endpoint wait"

phase 0 "$RACE" "$TMP/race"
load_stop
[ "$APPLY_RULES" -gt 0 ] && log "background applies of $APPLY_RULES rules: $(grep -c . "$APPLIES" 2>/dev/null || echo 0) done during the starts"
[ -n "${DEBUG:-}" ] && grep "guard: checked" "$TMP/A/log" | tail -5
grep "link hw .* appeared: entry and hooks" "$TMP/A/log" | python3 -c '
import re, sys
cols = {"event to hooks": [], "wait for a CPU": [], "datapath lock": [], "links created": []}
for l in sys.stdin:
    m = re.search(r"([0-9.]+) ms after the watcher woke \(it waited ([0-9.]+) ms for a CPU; ([0-9.]+) ms for the datapath lock; links created and pinned in ([0-9.]+) ms", l)
    if m:
        for k, v in zip(cols, m.groups()):
            cols[k].append(float(v))
def q(v):
    v = sorted(v)
    return "p50 %.2f, p99 %.2f, max %.2f ms" % (v[len(v) // 2], v[min(len(v) - 1, int(0.99 * len(v)))], v[-1]) if v else "none"
print("[start] agent, %d attaches of hw: " % len(cols["event to hooks"]) + "; ".join("%s %s" % (k, q(v)) for k, v in cols.items()))'
python3 - "$TMP/race.up" "$TMP/race.rx" ${DEBUG:+debug} <<'PY' || fail "denied datagrams delivered more than 1 s after the link came up"
import sys
ups = [float(l) for l in open(sys.argv[1]) if l.strip()]
rxs = [float(l) for l in open(sys.argv[2]) if l.strip()]
wins, late = [], 0
for i, up in enumerate(ups):
    nxt = ups[i + 1] if i + 1 < len(ups) else float("inf")
    mine = [t - up for t in rxs if up <= t < nxt]
    wins.append(max(mine) * 1000 if mine else 0.0)
    late += sum(1 for d in mine if d > 1.0)
    if len(sys.argv) > 3: print(i, ["%.1f" % (d * 1000) for d in mine][-6:])
w = sorted(wins)
pct = lambda p: w[min(len(w) - 1, int(p * len(w)))]
print("[start] without endpoint wait: %d starts, %d denied datagrams delivered; last one "
      "after the link came up: p50 %.1f ms, p99 %.1f ms, max %.1f ms; %d more than 1 s after"
      % (len(ups), len(rxs), pct(0.5), pct(0.99), w[-1], late))
sys.exit(1 if late else 0)
PY

# Agent down while the interface appears (denied datagrams delivered, answered), then up:
# RESTARTS times, each measured from just before the agent's exec.
restart_agent() { # restart_agent VARIANT
	case $1 in
	default) start_agent A n node-n ${AGENT_ARGS:-} ;;
	fifo) start_agent A n node-n ${AGENT_ARGS:-} --attach-rt-priority 1 ;;
	normal) start_agent A n node-n ${AGENT_ARGS:-} --attach-rt-priority 0 ;;
	fifo-exec) AGENT_PREFIX="chrt -f 1" start_agent A n node-n ${AGENT_ARGS:-} ;;
	*) fail "RESTART_VARIANTS: unknown variant '$1' (default, fifo, normal, fifo-exec)" ;;
	esac
}
read -ra VARIANTS <<<"${RESTART_VARIANTS:-default}"
[ "$RESTARTS" -gt 0 ] || exit 0
nsenter --net=/var/run/netns/"$PFX-w" $TRAFFIC recv 21230 "$TMP/restart.rx" &
rx=$!
PIDS+=($rx)
nsenter --net=/var/run/netns/"$PFX-atk" $TRAFFIC send 10.91.0.3 21230 2000 3600 &
tx=$!
PIDS+=($tx)
: >"$TMP/restart.starts"
: >"$TMP/restart.stops"
: >"$TMP/restart.early"
for i in $(seq "$RESTARTS"); do
	variant=${VARIANTS[$(((i - 1) % ${#VARIANTS[@]}))]}
	date +%s.%N >>"$TMP/restart.stops"
	stop_agent A || fail "agent stop"
	start 0 >/dev/null
	sleep 0.5
	seen=$(grep -c "early enforcement" "$TMP/A/log")
	echo "$(date +%s.%N) $variant" >>"$TMP/restart.starts"
	restart_agent "$variant"
	grep "early enforcement" "$TMP/A/log" | tail -n +$((seen + 1)) | sed "s/^/$variant /" \
		>>"$TMP/restart.early"
	sleep 1.5
done
kill "$tx" "$rx"
wait "$rx" 2>/dev/null
wait "$tx" 2>/dev/null
python3 - "$TMP/restart.starts" "$TMP/restart.stops" "$TMP/restart.rx" "$TMP/restart.early" <<'PY' || fail "denied datagrams delivered more than 1 s after the agent started"
import re, sys
starts = [l.split() for l in open(sys.argv[1]) if l.strip()]
stops = [float(l) for l in open(sys.argv[2]) if l.strip()]
rxs = [float(l) for l in open(sys.argv[3]) if l.strip()]
last, early, late = {}, {}, 0
for i, (t0, variant) in enumerate(starts):
    t0 = float(t0)
    nxt = stops[i + 1] if i + 1 < len(stops) else float("inf")
    after = [t - t0 for t in rxs if t0 <= t < nxt]
    last.setdefault(variant, []).append(max(after) * 1000 if after else 0.0)
    late += sum(1 for d in after if d > 1.0)
for l in open(sys.argv[4]):  # each start's attach, from the start program's log line
    m = re.search(r"^(\S+) .*in ([0-9.]+) ms \(([0-9]+) ms after process start\)", l)
    if m:
        early.setdefault(m.group(1), []).append((float(m.group(2)), float(m.group(3))))
def q(v):
    v = sorted(v)
    pct = lambda p: v[min(len(v) - 1, int(p * len(v)))]
    return "p50 %.1f ms, p99 %.1f ms, max %.1f ms" % (pct(0.5), pct(0.99), v[-1])
for variant, w in last.items():
    e = early.get(variant, [])
    print("[start] agent started with the interface up (%s), %d starts: last denied datagram "
          "after the start %s; early enforcement: attach %s, done after process start %s"
          % (variant, len(w), q(w), q([a for a, _ in e]) if e else "none",
             q([b for _, b in e]) if e else "none"))
print("[start] %d denied datagrams more than 1 s after a start" % late)
sys.exit(1 if late else 0)
PY
exit 0
