#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Three nodes on a VXLAN overlay (tests/lib/overlay.sh: kernel VXLAN, unicast head-end
# replication, one L2 overlay; OV_OUTER=4 or 6 picks the outer family), one agent per node,
# one policy with cross-node groups, and the vxlan-trace module on every node's underlay:
# - cross-node enforcement over the tunnel, IPv4 and IPv6 inner traffic;
# - tunnel statistics match the traffic sent: exact inner-pair packet counts for UDP bursts on
#   the sender's egress and the receiver's ingress, and every tunnel's total equals the sum of
#   its inner pairs;
# - enabling and disabling the module does not disturb enforcement: a TCP connection held
#   across enable/disable lives on, policy counters keep counting, denies stay denied;
# - the module is enabled from the config file on one node, adopted across an agent restart,
#   listed by GetStatus and module list, exported as Prometheus series, and removed by disable.
# Usage: test_overlay.sh IOFENCED IOFENCECTL SRC_DIR BUILD_DIR METRICS_PORT (env OV_OUTER)
source "$(dirname "$0")/../agent/lib.sh" "overlay${OV_OUTER:-4}" "$@"
METRICS_PORT=${5:-21710}
OV_PFX=$PFX
source "$SRC/tests/lib/overlay.sh"
command -v python3 >/dev/null || skip "needs python3"

ov_build 3
log "overlay: 3 nodes, outer IPv$OV_OUTER, VNI $OV_VNI"
for w in w21 w31; do
	serve "$w" tcp 8080
done

cat >"$TMP/p.yaml" <<'YAML'
revision: 1
defaults: {ingress: deny, egress: allow}
securityGroups:
  - name: client
    rules: []
  - name: server
    rules:
      - {direction: ingress, protocol: tcp, ports: [8080], group: client}
      - {direction: ingress, protocol: icmp, group: client}
      - {direction: ingress, protocol: icmpv6, group: client}
endpoints:
  - {name: w11, node: n1, interface: vw11, addresses: [10.210.0.11, "fd00:210::b"], groups: [client]}
  - {name: w21, node: n2, interface: vw21, addresses: [10.210.0.21, "fd00:210::15"], groups: [server]}
  - {name: w31, node: n3, interface: vw31, addresses: [10.210.0.31, "fd00:210::1f"], groups: [server]}
YAML
# Node 3 enables the module from its config file; nodes 1 and 2 at run time.
cat >"$TMP/n3.conf" <<CONF
vxlan-trace-interface = ul0
vxlan-trace-port = $OV_PORT
CONF
spawn_agent A1 n1 n1 --metrics "127.0.0.1:$METRICS_PORT"
spawn_agent A2 n2 n2
spawn_agent A3 n3 n3 --config "$TMP/n3.conf"
for a in A1 A2 A3; do wait_agent $a; done
AGENTS=(--agent "$(agent A1)" --agent "$(agent A2)" --agent "$(agent A3)")
"$CTL" apply -f "$TMP/p.yaml" "${AGENTS[@]}" >/dev/null || fail "apply to three agents"
ov_wait_ready w11 10.210.0.21 10.210.0.31

# Cross-node enforcement through the tunnel, both inner families.
tcp_ok w11 10.210.0.21 8080
tcp_ok w11 fd00:210::1f 8080
tcp_blocked w21 10.210.0.31 8080
tcp_blocked w31 fd00:210::15 8080
log "cross-node policy enforced over the overlay (IPv4 and IPv6 inner)"

# Enable on n1 and n2 with a long-lived connection and counters watched across it.
ctl A2 counters -o json >"$TMP/c0.json" || fail "counters"
in_ns "$PFX-w11" $PROBE hold 10.210.0.21 8080 6 &
HOLD=$!
PIDS+=($HOLD)
sleep 1
ctl A1 module enable vxlan-trace --interface ul0 --port "$OV_PORT" >/dev/null \
	|| fail "module enable on n1"
ctl A2 module enable vxlan-trace --interface ul0 >/dev/null || fail "module enable on n2"
sleep 1
ctl A2 module disable vxlan-trace >/dev/null || fail "module disable on n2"
sleep 0.5
ctl A2 module enable vxlan-trace --interface ul0 >/dev/null || fail "module re-enable on n2"
tcp_blocked w21 10.210.0.31 8080
wait $HOLD || fail "the connection held across enable/disable was cut (rc $?)"
ctl A2 counters -o json >"$TMP/c1.json" || fail "counters"
before=$(json "$TMP/c0.json" '[e["ingress_allowed"]["packets"] for e in d["endpoints"] if e["name"]=="w21"][0]')
after=$(json "$TMP/c1.json" '[e["ingress_allowed"]["packets"] for e in d["endpoints"] if e["name"]=="w21"][0]')
[ "$after" -gt $((before + 50)) ] || fail "policy counters stalled across enable/disable: $before -> $after"
log "enable/disable left enforcement alone (held connection lived, counters $before -> $after)"

ctl A1 module list -o json >"$TMP/ml.json" || fail "module list"
[ "$(json "$TMP/ml.json" '[(m["state"], m["interfaces"], len(m["programs"])) for m in d["modules"]]')" = "[('enabled', ['ul0'], 2)]" ] \
	|| fail "module list: $(cat "$TMP/ml.json")"
ctl A3 module list -o json >"$TMP/ml3.json" || fail "module list n3"
[ "$(json "$TMP/ml3.json" 'd["modules"][0]["state"]')" = enabled ] || fail "config did not enable: $(cat "$TMP/ml3.json")"
ctl A1 status -o json >"$TMP/st.json" || fail "status"
[ "$(json "$TMP/st.json" 'sorted(m["name"] for m in d["agents"][0]["modules"] if m["name"].startswith("vxlan-trace"))')" = "['vxlan-trace/ul0/egress', 'vxlan-trace/ul0/ingress']" ] \
	|| fail "GetStatus modules: $(cat "$TMP/st.json")"

# Exact counts: UDP bursts (one flow each) from w11 to w21 (dropped there by policy: the
# tunnel still carries them) over IPv4 and IPv6 inner.
snap() { "$CTL" tunnels "${AGENTS[@]}" --interval 0 --top 1000 -o json >"$1" || fail "tunnels"; }
snap "$TMP/t0.json"
in_ns "$PFX-w11" $PROBE burst 10.210.0.21 9999 200
in_ns "$PFX-w11" $PROBE burst fd00:210::15 9999 150
in_ns "$PFX-w31" $PROBE burst 10.210.0.11 9999 120
sleep 0.5
snap "$TMP/t1.json"
O1=$(ov_outer_addr 1) O2=$(ov_outer_addr 2) O3=$(ov_outer_addr 3)
cat >"$TMP/check.py" <<'PY'
import json, sys
t0, t1 = (json.load(open(f)) for f in sys.argv[1:3])
o1, o2, o3, vni = sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
def pairs(d): # keyed by the node that saw the pair too: each is listed once per node
    out = {}
    for p in d["top_inner"]:
        out[(p["outer_src"], p["outer_dst"], p["direction"], p["inner_src"], p["inner_dst"],
             p["inner_protocol"], p["observed_by"])] = p["packets"]
    return out
p0, p1 = pairs(t0), pairs(t1)
def delta(k):
    return p1.get(k, 0) - p0.get(k, 0)
want = { # the sender's node sees its egress, the receiver's its ingress
    (o1, o2, "egress", "10.210.0.11", "10.210.0.21", "udp", "n1"): 200,
    (o1, o2, "ingress", "10.210.0.11", "10.210.0.21", "udp", "n2"): 200,
    (o1, o2, "egress", "fd00:210::b", "fd00:210::15", "udp", "n1"): 150,
    (o1, o2, "ingress", "fd00:210::b", "fd00:210::15", "udp", "n2"): 150,
    (o3, o1, "egress", "10.210.0.31", "10.210.0.11", "udp", "n3"): 120,
    (o3, o1, "ingress", "10.210.0.31", "10.210.0.11", "udp", "n1"): 120,
}
bad = [(k, delta(k), v) for k, v in want.items() if delta(k) != v]
if bad:
    sys.exit("inner pair counts (key, got, want): %r" % bad)
# Every tunnel equals the sum of its inner pairs (tables complete, totals per node).
for n in t1["nodes"]:
    if not n["enabled"] or not n["inner_complete"]:
        sys.exit("node %s: enabled %s complete %s" % (n["node"], n["enabled"], n["inner_complete"]))
    if n["malformed"] or n["non_vxlan"]:
        sys.exit("node %s: malformed %d non-vxlan %d" % (n["node"], n["malformed"], n["non_vxlan"]))
    for t in n["tunnels"]:
        if t["vni"] != vni:
            sys.exit("unexpected VNI %r" % t)
links = {(l["src"], l["dst"]): l for l in t1["tunnels"]}
for a, b in ((o1, o2), (o2, o1), (o3, o1), (o1, o3)):
    if (a, b) not in links or links[(a, b)]["packets"] <= 0:
        sys.exit("missing host-to-host tunnel %s -> %s: %r" % (a, b, sorted(links)))
print("ok")
PY
/usr/bin/python3 "$TMP/check.py" "$TMP/t0.json" "$TMP/t1.json" "$O1" "$O2" "$O3" "$OV_VNI" \
	|| fail "tunnel statistics do not match the traffic sent"
# Per-node sums: each tunnel's packets = the sum of its inner pairs (from GetTunnels itself).
cat >"$TMP/sum.py" <<'PY'
import json, subprocess, sys
ctl, agent = sys.argv[1:3]
d = json.loads(subprocess.check_output([ctl, "tunnels", "--agent", agent, "--interval", "0",
                                        "--top", "10000", "-o", "json"]))
tun = {(t["outer_src"], t["outer_dst"], t["direction"]): t["packets"] for n in d["nodes"] for t in n["tunnels"]}
inner = {}
for p in d["top_inner"]:
    k = (p["outer_src"], p["outer_dst"], p["direction"])
    inner[k] = inner.get(k, 0) + p["packets"]
# Packets may arrive between the two tables' walks: allow what a second of traffic adds.
bad = {k: (v, inner.get(k, 0)) for k, v in tun.items() if abs(v - inner.get(k, 0)) > 30}
sys.exit("tunnel != sum of inner pairs: %r" % bad if bad else 0)
PY
for a in A1 A2 A3; do
	/usr/bin/python3 "$TMP/sum.py" "$CTL" "$(agent $a)" || fail "sums on $a"
done
"$CTL" tunnels "${AGENTS[@]}" --interval 0.5 --top 1000 >"$TMP/table.txt" || fail "tunnels table"
# Each inner pair's row names the node that saw it and in which direction.
grep -q "TOP INNER PAIRS" "$TMP/table.txt" && grep -q "$O1" "$TMP/table.txt" &&
	sed -n '/TOP INNER PAIRS/,/^$/p' "$TMP/table.txt" | grep -q "SEEN BY" &&
	sed -n '/TOP INNER PAIRS/,/^$/p' "$TMP/table.txt" | grep -q "10.210.0.31 .* n3 egress$" &&
	sed -n '/TOP INNER PAIRS/,/^$/p' "$TMP/table.txt" | grep -q "10.210.0.31 .* n1 ingress$" \
	|| fail "tunnels table: $(cat "$TMP/table.txt")"
log "tunnel statistics match the traffic sent (exact inner-pair counts both ways)"

# Prometheus series per {outer pair, VNI, direction}.
in_ns "$PFX-n1" /usr/bin/python3 - "$METRICS_PORT" "$O1" "$O2" "$OV_VNI" <<'PY' || fail "metrics" # the agent listens in n1
import sys, urllib.request
port, o1, o2, vni = sys.argv[1:5]
text = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % port, timeout=5).read().decode()
want = 'iofence_vxlan_tunnel_packets_total{outer_src="%s",outer_dst="%s",vni="%s",direction="egress"}' % (o1, o2, vni)
if want not in text or 'iofence_module_enabled{module="vxlan-trace"} 1' not in text:
    sys.exit("missing series %s in:\n%s" % (want, text[-2000:]))
PY

# Adoption: the agent restarts without the module in its flags; the pinned module goes on.
pk() { "$CTL" tunnels --agent "$(agent A1)" --interval 0 -o json | /usr/bin/python3 -c \
	"import json,sys; d=json.load(sys.stdin); print(sum(t['packets'] for n in d['nodes'] for t in n['tunnels']))"; }
before=$(pk)
stop_agent A1 || fail "agent n1 stop"
in_ns "$PFX-w11" $PROBE burst 10.210.0.21 9999 50 # counted while no agent runs
start_agent A1 n1 n1
after=$(pk)
[ "$after" -ge $((before + 50)) ] || fail "not adopted or counts lost: $before -> $after"
ctl A1 module list -o json >"$TMP/ml.json"
[ "$(json "$TMP/ml.json" 'd["modules"][0]["state"]')" = enabled ] || fail "adopted state"
tcp_ok w11 10.210.0.21 8080
log "module adopted across an agent restart ($before -> $after packets)"

# Disable removes every pin and link of the module; enforcement stays.
ctl A3 module disable vxlan-trace >/dev/null || fail "disable n3"
[ ! -e "/sys/fs/bpf/$PFX-A3/modules" ] || fail "pins left after disable"
ctl A3 tunnels --interval 0 -o json >"$TMP/t3.json"
[ "$(json "$TMP/t3.json" 'd["nodes"][0]["enabled"]')" = False ] || fail "n3 still enabled"
[ "$(in_ns "$PFX-n3" bpftool net show dev ul0 2>/dev/null | grep -c vxt_)" = 0 ] \
	|| fail "programs left on ul0: $(in_ns "$PFX-n3" bpftool net show dev ul0)"
tcp_ok w11 10.210.0.31 8080
tcp_blocked w21 10.210.0.31 8080
log "disable removed the module and left enforcement"
