#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Counters a Prometheus user can rate(): real traffic between namespaces, then applies that
# reorder, insert and re-prioritise rules, and an agent restart. A named rule's counter (and
# the endpoint's) never goes down and equals the packets sent, with bytes beside packets; audit
# would-drops are counted apart from real drops (iofence_drops_total stays put for them).
source "$(dirname "$0")/lib.sh" counters "$@"

METRICS=127.0.0.1:22401
N=40		 # datagrams per burst
FRAME=$((14 + 20 + 8 + 1)) # one-byte UDP payload over IPv4, as the TC hook sees it

cli_srv 79
workload n aud haud 10.79.0.4 fd79::4

# policy REV ORDER: srv denies udp 22410 from the client group by a named rule; ORDER says
# where it stands among the others (they move and multiply; the label must not).
policy() {
	local deny="{name: block-22410, direction: ingress, action: deny, priority: $3, protocol: udp, ports: [22410], group: client}"
	local web="{direction: ingress, protocol: tcp, ports: [22411], group: client}"
	local other="{direction: ingress, protocol: udp, ports: [22412], cidr: 10.79.9.0/24}"
	cat <<YAML
revision: $1
defaults: {ingress: deny, egress: allow}
securityGroups:
  - name: client
    rules: []
  - name: server
    rules:
YAML
	case $2 in
	first) printf '      - %s\n' "$deny" "$web" ;;
	last) printf '      - %s\n' "$web" "$other" "$deny" ;;
	middle) printf '      - %s\n' "$other" "$deny" "$web" "$other" ;;
	esac
	cat <<YAML
endpoints:
  - {name: cli, node: n1, interface: hcli, addresses: [10.79.0.2, "fd79::2"], groups: [client]}
  - {name: srv, node: n1, interface: hsrv, addresses: [10.79.0.3, "fd79::3"], groups: [server]}
  - {name: aud, node: n1, interface: haud, addresses: [10.79.0.4, "fd79::4"], groups: [], mode: audit}
YAML
}

scrape() { in_ns "$PFX-n" curl -sf "http://$METRICS/metrics" >"$TMP/m.txt" || fail "scrape /metrics"; }
# metric NAME_AND_LABELS: its value in the last scrape (fails if absent).
metric() {
	local v
	v=$(awk -v s="$1 " 'index($0, s) == 1 {print $NF}' "$TMP/m.txt")
	[ -n "$v" ] || fail "no series $1 in /metrics"
	echo "$v"
}
rule_series='iofence_rule_packets_total{rule="server/block-22410",group="server",action="deny"}'
rule_bytes='iofence_rule_bytes_total{rule="server/block-22410",group="server",action="deny"}'
ep_denied='iofence_endpoint_packets_total{endpoint="srv",direction="ingress",verdict="deny"}'

sent=0
last_ep=0
# check STEP: the rule's counter equals what was sent, in the CLI and the metrics; bytes
# beside packets; the endpoint's denials never went down.
check() {
	local c pk by ep
	ctl a1 counters -o json >"$TMP/c.json" || fail "$1: counters"
	c=$(json "$TMP/c.json" '[r["packets"] for r in d["rules"] if r["rule"]=="server/block-22410"][0]')
	[ "$c" = "$sent" ] || fail "$1: iofencectl counters: rule counted $c of $sent datagrams"
	scrape
	pk=$(metric "$rule_series")
	by=$(metric "$rule_bytes")
	ep=$(metric "$ep_denied")
	[ "$pk" = "$sent" ] || fail "$1: /metrics: rule counted $pk of $sent datagrams"
	[ "$by" = $((sent * FRAME)) ] || fail "$1: /metrics: rule bytes $by, want $((sent * FRAME))"
	[ "$ep" -ge "$sent" ] && [ "$ep" -ge "$last_ep" ] \
		|| fail "$1: endpoint srv ingress denials $ep (before: $last_ep, sent: $sent)"
	last_ep=$ep
	log "$1: rule $pk packets / $by bytes, endpoint srv denied $ep"
}
burst() {
	in_ns "$PFX-cli" $PROBE burst 10.79.0.3 22410 $N || fail "burst"
	sent=$((sent + N))
	sleep 0.3
}

start_agent a1 n n1 --metrics "$METRICS"
rev=0
for order in first last middle first; do
	rev=$((rev + 1))
	policy $rev $order $((rev * 10)) >"$TMP/p.yaml"
	ctl a1 apply -f "$TMP/p.yaml" >/dev/null || fail "apply revision $rev"
	check "revision $rev ($order), before traffic"
	burst
	check "revision $rev ($order)"
done

# Restart: pinned maps survive, and so do the totals.
stop_agent a1 || fail "agent exit code on SIGTERM"
start_agent a1 n n1 --metrics "$METRICS"
check "after restart"
burst
check "after restart and traffic"
rev=$((rev + 1))
policy $rev last 5 >"$TMP/p.yaml"
ctl a1 apply -f "$TMP/p.yaml" >/dev/null || fail "apply revision $rev after restart"
burst
check "revision $rev after restart"

# Audit mode: aud's default denies ingress, but it is in audit mode: the datagrams pass and
# are counted as would-drops, not as drops.
scrape
drops_before=$(metric 'iofence_drops_total{reason="default"}')
audit_before=$(metric 'iofence_audit_would_drops_total')
in_ns "$PFX-cli" $PROBE burst 10.79.0.4 22413 $N || fail "burst to aud"
sleep 0.3
scrape
grep -q 'iofence_drops_total{reason="audit' "$TMP/m.txt" && fail "audit would-drops among iofence_drops_total"
audit=$(( $(metric 'iofence_audit_would_drops_total') - audit_before ))
drops=$(( $(metric 'iofence_drops_total{reason="default"}') - drops_before ))
aud_ep=$(metric 'iofence_endpoint_audit_would_drop_packets_total{endpoint="aud"}')
[ "$audit" = "$N" ] || fail "audit would-drops +$audit for $N datagrams"
[ "$aud_ep" -ge "$N" ] || fail "aud endpoint would-drops $aud_ep for $N datagrams"
[ "$drops" = 0 ] || fail "real drops (default) +$drops while only audit traffic was sent"
# Every HELP text is there, once per metric.
helps=$(grep -c '^# HELP iofence_' "$TMP/m.txt")
types=$(grep -c '^# TYPE iofence_' "$TMP/m.txt")
[ "$helps" = "$types" ] || fail "$helps HELP lines for $types TYPE lines"
log "audit: +$audit would-drops, +$drops real drops; $helps metrics with HELP"
