#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Grafana dashboard in deploy/grafana queries only metrics a live agent exposes: an agent in
# cluster mode (a real etcd, so the datastore series exist) enforcing a policy with an endpoint
# and a rule, scraped, then every metric name in the dashboard's queries looked up.
source "$(dirname "$0")/lib.sh" dash "$@"
command -v etcd >/dev/null && command -v etcdctl >/dev/null || skip "needs etcd (etcd-server, etcd-client)"

METRICS=127.0.0.1:22402
ETCD=http://127.0.0.1:22430

cli_srv 81
# nsenter execs etcd: $! is etcd's own PID, killed by the cleanup
bg_ns "$PFX-n" etcd --name m1 --data-dir "$TMP/etcd" --listen-client-urls "$ETCD" \
	--advertise-client-urls "$ETCD" --listen-peer-urls http://127.0.0.1:22431 \
	--initial-advertise-peer-urls http://127.0.0.1:22431 \
	--initial-cluster m1=http://127.0.0.1:22431 >"$TMP/etcd.log" 2>&1
for _ in $(seq 100); do
	in_ns "$PFX-n" etcdctl --endpoints "$ETCD" endpoint health >/dev/null 2>&1 && break
	sleep 0.1
done
in_ns "$PFX-n" etcdctl --endpoints "$ETCD" endpoint health >/dev/null 2>&1 || fail "etcd did not start"

cat >"$TMP/p.yaml" <<YAML
defaults: {ingress: deny, egress: allow}
securityGroups:
  - name: client
    rules: []
  - name: server
    rules:
      - {name: web, direction: ingress, protocol: tcp, ports: [22432], group: client}
endpoints:
  - {name: cli, node: n1, interface: hcli, addresses: [10.81.0.2, "fd81::2"], groups: [client]}
  - {name: srv, node: n1, interface: hsrv, addresses: [10.81.0.3, "fd81::3"], groups: [server]}
YAML
start_agent a1 n n1 --metrics "$METRICS" --etcd-endpoints "$ETCD"
in_ns "$PFX-n" "$CTL" apply -f "$TMP/p.yaml" --etcd-endpoints "$ETCD" >/dev/null || fail "apply through etcd"
in_ns "$PFX-n" "$CTL" rollout status --wait --timeout 30 --etcd-endpoints "$ETCD" >/dev/null \
	|| fail "rollout did not converge"
in_ns "$PFX-n" curl -sf "http://$METRICS/metrics" >"$TMP/metrics.txt" || fail "scrape"
grep -q '^iofence_datastore_connected 1' "$TMP/metrics.txt" || fail "agent not in cluster mode"
/usr/bin/python3 "$SRC/tests/agent/check_dashboard.py" "$SRC/deploy/grafana/iofence-dashboard.json" \
	"$TMP/metrics.txt" || fail "dashboard queries metrics the agent does not expose"
