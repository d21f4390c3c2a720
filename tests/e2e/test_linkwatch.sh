#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# An endpoint whose interface does not exist yet is enforced as soon as it appears
# (dp_link_changed from a netlink watcher): its iof_endpoints entry and hooks arrive with it;
# when it goes, its pins go too.
. "$(dirname "$0")/lib.sh" linkwatch "$@"

CLI2=$PFX-cli2
topology
for port in 8080 8082; do bg_ns "$SRV" "$NET" tcp-server :: $port; done
policy 1 "8080, 8082" "  - name: cli2
    node: n1
    interface: hc2
    addresses: [10.77.3.2, \"fd77:3::2\"]
    groups: [client]" >"$TMP/p.yaml"
dpctl_bg "$TMP/hold" --node n1 -f "$TMP/p.yaml" --watch
workload "$CLI2" hc2 3
for _ in $(seq 50); do dpctl links | grep -q "tc/hc2/egress" && break; sleep 0.1; done
dpctl links | grep -q "tc/hc2/ingress" || fail "no hooks on the new interface: $(cat "$TMP/hold")"
tcp_ok "$CLI2" 10.77.2.2 8080      # a member of client for the server
tcp_blocked "$CLI2" 10.77.2.2 8082 # its own egress deny rule: its hook judges
tcp_blocked "$SRV" 10.77.3.2 8080  # its ingress default
log "new interface enforced on arrival"
ip netns del "$CLI2" # the veth pair goes with it
for _ in $(seq 50); do dpctl links | grep -q "tc/hc2" || break; sleep 0.1; done
dpctl links | grep -q "tc/hc2" && fail "pins of a vanished interface left"
grep "link hc2" "$TMP/hold"
kill $HOLDER
wait $HOLDER || fail "dpctl did not exit 0 on SIGTERM"
exit 0
