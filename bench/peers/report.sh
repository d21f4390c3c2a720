#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# bench/peers/report.sh RAW OUT CONTENDERS COUNTS: the markdown table, the targets and the plot
# of run.sh's measurements. RAW has one line per measurement: figure, rules, contender, run,
# value. Ratios are taken per run (contender / unfiltered of the same repetition), then the
# median and the range of those ratios are shown. Writes OUT/results.md (also printed) and
# OUT/peers.png (if gnuplot is installed).
set -euo pipefail
RAW=$1
OUT=$2
CONTENDERS=$3
COUNTS=$4

awk -F'\t' -v contenders="$CONTENDERS" -v counts="$COUNTS" -v out="$OUT" '
function sort(a, n,    i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t } }
function median(a, n) { sort(a, n); return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
function human(v) { return v >= 1e6 ? sprintf("%.2fM", v / 1e6) : v >= 1e4 ? sprintf("%.1fk", v / 1e3) : v >= 100 ? sprintf("%.0f", v) : sprintf("%.2f", v) }
# stats over the runs of (fig, n, c): sets MED, MIN, MAX; ratio to ref contender if ref != ""
function stats(fig, n, c, ref,    r, k, a, v) {
	k = 0
	for (r = 1; r <= runs[fig, n]; r++) {
		if (!((fig, n, c, r) in val)) continue
		v = val[fig, n, c, r]
		if (ref != "") { if (!((fig, n, ref, r) in val) || val[fig, n, ref, r] == 0) continue; v = v / val[fig, n, ref, r] }
		a[++k] = v
	}
	if (!k) return 0
	MED = median(a, k); MIN = a[1]; MAX = a[k]
	return k
}
function med(fig, n, c) { return stats(fig, n, c, "") ? MED : 0 }
function cell(fig, n, c, ref) {
	if (!stats(fig, n, c, ref)) return "-"
	if (ref == "") return sprintf("%s (%s-%s)", human(MED), human(MIN), human(MAX))
	return sprintf("%.2fx (%.2f-%.2f)", MED, MIN, MAX)
}
function verdict(ok) { return ok ? "met" : "**missed**" }
{ val[$1, $2, $3, $4] = $5; if ($4 > runs[$1, $2]) runs[$1, $2] = $4 }
END {
	nc = split(contenders, C, ","); nn = split(counts, N, ",")
	name["none"] = "unfiltered"; name["iptables"] = "iptables"; name["nft"] = "nftables (sets)"
	name["iofence"] = "iofence"
	fig[1] = "cps"; fig[2] = "udp"; fig[3] = "tcp"
	label["cps"] = "(a) new TCP conn/s"; label["udp"] = "(b) UDP pps, new 5-tuples"
	label["tcp"] = "(c) TCP stream Gbit/s"
	hdr = "| figure | rules |"; sep = "|---|---:|"
	for (i = 1; i <= nc; i++) { hdr = hdr " " name[C[i]] " |"; sep = sep "---:|" }
	print hdr; print sep
	for (f = 1; f <= 3; f++) for (j = 1; j <= nn; j++) {
		line = "| " label[fig[f]] " | " N[j] " |"
		for (i = 1; i <= nc; i++)
			line = line " " cell(fig[f], N[j], C[i], C[i] == "none" ? "" : "none") " |"
		print line
	}
	print ""
	print "Unfiltered: absolute median (min-max) of the runs; others: ratio to unfiltered in the same repetition, median (min-max)."
	if (runs["xdp", 10000]) {
		print ""
		print "| (d) XDP prefilter, 10k deny entries | packets/s dropped | ratio to xdp-filter |"
		print "|---|---:|---:|"
		xn["xdpfilter"] = "xdp-filter (10k host addresses)"
		xn["iofence_hosts"] = "iofence (the same 10k hosts as /32)"
		xn["iofence_prefixes"] = "iofence (10k /16../32 prefixes)"
		split("xdpfilter iofence_hosts iofence_prefixes", X, " ")
		for (i = 1; i <= 3; i++)
			printf "| %s | %s | %s |\n", xn[X[i]], cell("xdp", 10000, X[i], ""), X[i] == "xdpfilter" ? "1" : cell("xdp", 10000, X[i], "xdpfilter")
	}
	if (runs["tcns", N[1]]) {
		print ""
		print "Per-packet cost of the programs (kernel BPF stats, ns per run, median (min-max); less exposed to the noise of the machine than the rates):"
		print ""
		hdr = "| program, load |"; sep = "|---|"
		for (j = 1; j <= nn; j++) { hdr = hdr " " N[j] " rules |"; sep = sep "---:|" }
		print hdr; print sep
		line = "| iofence TC (to endpoint), UDP of (b) |"
		for (j = 1; j <= nn; j++) line = line " " cell("tcns", N[j], "iofence", "") " |"
		print line
	}
	if (runs["xdpns", 10000]) {
		print ""
		print "| XDP program, flood of (d) | ns per packet |"
		print "|---|---:|"
		printf "| xdp-filter (10k hosts) | %s |\n", cell("xdpns", 10000, "xdpfilter", "")
		printf "| iofence (10k hosts) | %s |\n", cell("xdpns", 10000, "iofence_hosts", "")
		printf "| iofence (10k prefixes) | %s |\n", cell("xdpns", 10000, "iofence_prefixes", "")
	}
	# targets (only those whose inputs were measured)
	print ""
	print "Targets (x unfiltered and x xdp-filter: median of the per-run ratios; between contenders: ratio of their medians):"
	for (f = 1; f <= 3; f++) {
		g = fig[f]
		if (stats(g, 10000, "iofence", "none"))
			printf "- %s: iofence at 10k = %.2fx unfiltered (target >= 0.9): %s\n", label[g], MED, verdict(MED >= 0.9)
		if (g != "tcp" && med(g, 10000, "iptables") > 0 && med(g, 10000, "iofence") > 0) {
			r = med(g, 10000, "iofence") / med(g, 10000, "iptables")
			printf "- %s: iofence / iptables at 10k = %.1fx (target >= 10): %s\n", label[g], r, verdict(r >= 10)
		}
		worst = ""; wr = 1e9
		for (j = 1; j <= nn; j++)
			if (med(g, N[j], "nft") > 0 && med(g, N[j], "iofence") > 0) {
				r = med(g, N[j], "iofence") / med(g, N[j], "nft")
				if (r < wr) { wr = r; worst = N[j] }
			}
		if (worst != "")
			printf "- %s: iofence / nftables, lowest over the counts = %.2fx at %s rules (target >= 1): %s\n", label[g], wr, worst, verdict(wr >= 1)
		if (med(g, 100000, "iofence") > 0 && med(g, 100, "iofence") > 0) {
			r = med(g, 100000, "iofence") / med(g, 100, "iofence")
			printf "- %s: iofence at 100k / at 100 = %.2fx (target >= 0.9): %s\n", label[g], r, verdict(r >= 0.9)
		}
	}
	# (d): xdp-filter is the reference of each repetition, as unfiltered is for (a)-(c)
	if (med("xdp", 10000, "xdpfilter") > 0) {
		r = med("xdp", 10000, "iofence_hosts") / med("xdp", 10000, "xdpfilter")
		stats("xdp", 10000, "iofence_hosts", "xdpfilter")
		printf "- (d) XDP drop rate iofence / xdp-filter = %.2fx, median of the per-run ratios (target >= 1): %s; ratio of the medians %.2fx\n", MED, verdict(MED >= 1), r
	}
	if (med("xdpns", 10000, "iofence_hosts") > 0 && med("xdpns", 10000, "xdpfilter") > 0)
		printf "- (d) XDP cost per packet iofence / xdp-filter = %.2fx (lower is better)\n", med("xdpns", 10000, "iofence_hosts") / med("xdpns", 10000, "xdpfilter")
	if (med("tcns", 100000, "iofence") > 0 && med("tcns", 100, "iofence") > 0)
		printf "- iofence TC cost per packet at 100k / at 100 = %.2fx (flat verdict cost: ~1)\n", med("tcns", 100000, "iofence") / med("tcns", 100, "iofence")
	# plot data: rules, then the median of each contender
	for (f = 1; f <= 3; f++) {
		file = out "/plot-" fig[f] ".dat"
		printf "# rules" > file
		for (i = 1; i <= nc; i++) printf " %s", C[i] > file
		printf "\n" > file
		for (j = 1; j <= nn; j++) {
			printf "%s", N[j] > file
			for (i = 1; i <= nc; i++) { v = med(fig[f], N[j], C[i]); printf " %s", (v > 0 ? v : "NaN") > file }
			printf "\n" > file
		}
		close(file)
	}
}' "$RAW" >"$OUT/results.md"
if [ -s "$OUT/rulesets.txt" ]; then
	{
		echo
		echo "Rule sets (rules = background + the 2 probed rules; iptables kernel rules after"
		echo "\`-s a,b,c\` expansion; nft verdict map elements):"
		sed 's/^/- /' "$OUT/rulesets.txt"
	} >>"$OUT/results.md"
fi
cat "$OUT/results.md"

command -v gnuplot >/dev/null || { echo "(no gnuplot: no plot)" >&2; exit 0; }
[ -n "$CONTENDERS" ] || exit 0
IFS=, read -r -a C <<<"$CONTENDERS"
plots() {
	local f=$1 sep="" i=2
	for c in "${C[@]}"; do
		printf '%s"%s/plot-%s.dat" using 0:%d:xtic(1) with linespoints title "%s"' "$sep" "$OUT" "$f" $i "$c"
		sep=", "
		i=$((i + 1))
	done
}
gnuplot <<EOF || echo "(gnuplot failed: no plot)" >&2
set terminal pngcairo size 1500,450 noenhanced
set output "$OUT/peers.png"
set multiplot layout 1,3 title "iofence vs iptables / nftables, by rule count (median of runs)"
set logscale y
set grid
set key bottom left
set xlabel "rules"
set title "(a) new TCP connections/s"
plot $(plots cps)
set title "(b) UDP packets/s, new 5-tuples"
plot $(plots udp)
set title "(c) one TCP stream, Gbit/s"
plot $(plots tcp)
unset multiplot
EOF
echo "plot: $OUT/peers.png" >&2
