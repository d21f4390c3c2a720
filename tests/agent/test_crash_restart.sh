#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# SIGKILL during a stream of Applies, then restart: every acknowledged revision is in the
# store, and enforcement never lapsed (a prober checks allowed and denied traffic throughout,
# also while no agent runs).
source "$(dirname "$0")/lib.sh" crash "$@"

cli_srv 79
serve srv tcp 8080 9000

policy() { # REV: one rule changes with each revision
	cli_srv_policy 79 "$1" "{direction: ingress, protocol: tcp, ports: [8080], group: client}" \
		"{direction: ingress, protocol: tcp, ports: [$((20000 + $1))], cidr: 10.200.0.0/16}"
}

start_agent a n n1 --keep 100000
policy 1 >"$TMP/p.yaml"
ctl a apply -f "$TMP/p.yaml" >/dev/null || fail "first apply"
echo 1 >"$TMP/acked"
tcp_ok cli 10.79.0.3 8080
tcp_blocked cli 10.79.0.3 9000

# Prober: 8080 must always connect, 9000 never.
: >"$TMP/violations"
(
	while [ ! -e "$TMP/stop-probe" ]; do
		in_ns "$PFX-cli" $PROBE tcp 10.79.0.3 8080 1.5 || echo "8080 refused $(date +%T.%N)" >>"$TMP/violations"
		! in_ns "$PFX-cli" $PROBE tcp 10.79.0.3 9000 0.3 || echo "9000 open $(date +%T.%N)" >>"$TMP/violations"
		echo >>"$TMP/probes"
	done
) &
PIDS+=($!)
PROBER=$!

# Applier: revisions 2, 3, ... back to back; acknowledged ones are recorded.
(
	rev=2
	while [ ! -e "$TMP/stop-apply" ]; do
		policy $rev >"$TMP/p$rev.yaml"
		if "$CTL" apply -f "$TMP/p$rev.yaml" --agent "$(agent a)" --timeout 5 >/dev/null 2>&1; then
			echo $rev >>"$TMP/acked"
		fi
		rm -f "$TMP/p$rev.yaml"
		rev=$((rev + 1))
	done
) &
PIDS+=($!)
APPLIER=$!

sleep 2
before=$(wc -l <"$TMP/acked")
stop_agent a KILL && fail "SIGKILL exit code"
log "agent killed after $before acknowledged revisions; agent down for 1.5 s"
sleep 1.5
start_agent a n n1 --keep 100000
sleep 1.5
touch "$TMP/stop-apply"
wait $APPLIER
sleep 1
touch "$TMP/stop-probe"
wait $PROBER

acked=$(wc -l <"$TMP/acked")
[ "$acked" -gt "$before" ] || fail "no apply acknowledged after the restart"
ctl a get policy -o json >"$TMP/gp.json" || fail "get policy"
missing=0
while read -r rev; do
	ctl a get policy --revision "$rev" -o json >/dev/null 2>&1 || { echo "missing revision $rev"; missing=$((missing + 1)); }
done <"$TMP/acked"
[ $missing = 0 ] || fail "$missing acknowledged revisions are not in the store"
cur=$(json "$TMP/gp.json" 'd["revision"]')
last=$(tail -1 "$TMP/acked")
[ "$cur" -ge "$last" ] || fail "enforced revision $cur is older than the last acknowledged $last"
probes=$(wc -l <"$TMP/probes")
[ -s "$TMP/violations" ] && fail "enforcement lapsed: $(head -5 "$TMP/violations")"
log "$acked revisions acknowledged, all stored; $probes probe rounds without a violation"
grep -q "adopted from the pinned datapath\|restored from the store" "$TMP/a/log" \
	|| fail "restart did not adopt or restore"
