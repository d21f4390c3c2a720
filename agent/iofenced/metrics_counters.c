// SPDX-License-Identifier: Apache-2.0
/*
 * The datapath's counters in Prometheus text: per endpoint and per rule (packets and bytes,
 * monotonic per identity across applies and restarts: counter_ledger.h), real drops by reason,
 * audit would-drops apart, and map fill levels. Every HELP text says what exactly is counted.
 */
#include <stdio.h>
#include <string.h>

#include "agent/datapath/datapath.h"
#include "metrics.h"
#include "snapshot.h"

void metrics_escape_label(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void header(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static const struct {
	enum iof_ep_counter_kind kind;
	const char *dir, *verdict;
} ep_kinds[] = {
    {IOF_EPC_INGRESS_ALLOW, "ingress", "allow"},
    {IOF_EPC_INGRESS_DENY, "ingress", "deny"},
    {IOF_EPC_EGRESS_ALLOW, "egress", "allow"},
    {IOF_EPC_EGRESS_DENY, "egress", "deny"},
};

/* One endpoint series: what selects the value (bytes or packets) is the caller's. */
static void ep_series(FILE *f, const char *metric, const char *endpoint, const char *extra,
		      unsigned long long v)
{
	fprintf(f, "%s{endpoint=\"", metric);
	metrics_escape_label(f, endpoint);
	fprintf(f, "\"%s} %llu\n", extra, v);
}

static void write_endpoints(struct datapath *dp, FILE *f, const struct policy_image *img)
{
	static const char *const help[2] = {
	    "Packets at the endpoint's hooks by direction (ingress: entering the workload) and "
	    "verdict: allow = passed (new and established flows, and audit-mode would-drops), "
	    "deny = dropped by a deny rule, the endpoint default or a revoked flow. Monotonic for "
	    "the life of the endpoint name, across applies and agent restarts.",
	    "Bytes (skb length at the hook: with the Ethernet header at TC hooks, from the IP "
	    "header at cgroup hooks) of the packets counted in "
	    "iofence_endpoint_packets_total, with the same labels."};
	static const char *const names[2] = {"iofence_endpoint_packets_total",
					     "iofence_endpoint_bytes_total"};
	size_t n = img && dp ? img->n_endpoints : 0;

	for (int bytes = 0; bytes < 2; bytes++) {
		header(f, names[bytes], "counter", help[bytes]);
		for (size_t i = 0; i < n; i++)
			for (size_t k = 0; k < sizeof(ep_kinds) / sizeof(ep_kinds[0]); k++) {
				struct iof_counter c = {0};
				char extra[64];

				dp_read_endpoint_total(dp, img->endpoints[i].identity,
						       ep_kinds[k].kind, &c);
				snprintf(extra, sizeof(extra), ",direction=\"%s\",verdict=\"%s\"",
					 ep_kinds[k].dir, ep_kinds[k].verdict);
				ep_series(f, names[bytes], img->endpoints[i].name, extra,
					  (unsigned long long)(bytes ? c.bytes : c.packets));
			}
	}
	header(f, "iofence_endpoint_audit_would_drop_packets_total", "counter",
	       "Packets of an endpoint in audit mode that a deny rule or default would have "
	       "dropped; they passed and are also in "
	       "iofence_endpoint_packets_total{verdict=\"allow\"}.");
	for (size_t i = 0; i < n; i++) {
		struct iof_counter c = {0};

		dp_read_endpoint_total(dp, img->endpoints[i].identity, IOF_EPC_AUDIT_WOULD_DROP,
				       &c);
		ep_series(f, "iofence_endpoint_audit_would_drop_packets_total",
			  img->endpoints[i].name, "", (unsigned long long)c.packets);
	}
	header(f, "iofence_endpoint_audit_would_drop_bytes_total", "counter",
	       "Bytes of the packets in iofence_endpoint_audit_would_drop_packets_total.");
	for (size_t i = 0; i < n; i++) {
		struct iof_counter c = {0};

		dp_read_endpoint_total(dp, img->endpoints[i].identity, IOF_EPC_AUDIT_WOULD_DROP,
				       &c);
		ep_series(f, "iofence_endpoint_audit_would_drop_bytes_total",
			  img->endpoints[i].name, "", (unsigned long long)c.bytes);
	}
}

static void write_rules(struct datapath *dp, FILE *f, const struct policy_image *img,
			const struct policy_document *doc)
{
	static const char *const help[2] = {
	    "Packets of the flows a rule decided: the packet that opened the flow (or re-checked "
	    "it after an apply) and every later packet of it, both ways, while the rule decides "
	    "it; for a deny rule the dropped packets (audit mode: the would-drops). rule is "
	    "group/name for a named rule (stable when rules are reordered), else group[index]. "
	    "Monotonic for the life of that label, across applies and agent restarts.",
	    "Bytes of the packets counted in iofence_rule_packets_total, with the same labels."};
	static const char *const names[2] = {"iofence_rule_packets_total",
					     "iofence_rule_bytes_total"};
	size_t n = img && dp ? img->n_rules : 0;

	for (int bytes = 0; bytes < 2; bytes++) {
		header(f, names[bytes], "counter", help[bytes]);
		for (size_t i = 0; i < n; i++) {
			const struct image_rule *ir = &img->rules[i];
			const struct policy_group *g = &doc->groups[ir->group_index];
			const struct policy_rule *r = &g->rules[ir->rule_index];
			struct iof_counter c = {0};
			char label[POLICY_RULE_LABEL_MAX];

			dp_read_rule_total(dp, ir->identity, &c);
			policy_rule_label(doc, ir->group_index, ir->rule_index, label,
					  sizeof(label));
			fprintf(f, "%s{rule=\"", names[bytes]);
			metrics_escape_label(f, label);
			fprintf(f, "\",group=\"");
			metrics_escape_label(f, g->name);
			fprintf(f, "\",action=\"%s\"} %llu\n",
				r->action == POLICY_DENY ? "deny" : "allow",
				(unsigned long long)(bytes ? c.bytes : c.packets));
		}
	}
}

static void write_drops(struct datapath *dp, FILE *f)
{
	struct iof_counter audit = {0};

	for (int bytes = 0; bytes < 2; bytes++) {
		const char *name = bytes ? "iofence_drop_bytes_total" : "iofence_drops_total";

		header(f, name, "counter",
		       bytes ? "Bytes of the packets in iofence_drops_total, by the same reasons."
			     : "Packets the datapath dropped, by reason: policy (a deny rule), "
			       "default (the endpoint default), prefilter (XDP deny-list), revoked "
			       "(an established flow a new revision no longer allows), malformed, "
			       "fragment (non-first fragment without a flow), unknown-endpoint. "
			       "Audit-mode would-drops pass and are not counted here "
			       "(iofence_audit_would_drops_total).");
		for (unsigned r = 1; r < IOF_DROP_MAX; r++) {
			struct iof_counter c = {0};

			if (r == IOF_DROP_AUDIT)
				continue;
			if (dp)
				dp_read_drops(dp, r, &c);
			fprintf(f, "%s{reason=\"%s\"} %llu\n", name, dp_drop_reason_name(r),
				(unsigned long long)(bytes ? c.bytes : c.packets));
		}
	}
	if (dp)
		dp_read_drops(dp, IOF_DROP_AUDIT, &audit);
	header(f, "iofence_audit_would_drops_total", "counter",
	       "Packets of endpoints in audit mode that a deny rule or default would have dropped "
	       "(they passed).");
	fprintf(f, "iofence_audit_would_drops_total %llu\n", (unsigned long long)audit.packets);
	header(f, "iofence_audit_would_drop_bytes_total", "counter",
	       "Bytes of the packets in iofence_audit_would_drops_total.");
	fprintf(f, "iofence_audit_would_drop_bytes_total %llu\n", (unsigned long long)audit.bytes);
	header(f, "iofence_counter_carry_errors_total", "counter",
	       "Applies after which some per-rule or per-endpoint counts could not be carried over "
	       "(a counter map full or unreadable): those totals may have lost counts.");
	fprintf(f, "iofence_counter_carry_errors_total %llu\n",
		(unsigned long long)(dp ? dp_counter_errors(dp) : 0));
}

static void write_fill(struct datapath *dp, FILE *f)
{
	static const char *const maps[] = {"iof_endpoints", "iof_remote4",   "iof_remote6",
					   "iof_policy",    "iof_prefilter", "iof_ct4",
					   "iof_ct6"};
	const unsigned capacity[] = {IOF_MAX_ENDPOINTS,
				     IOF_MAX_REMOTE_ENTRIES,
				     IOF_MAX_REMOTE_ENTRIES,
				     IOF_MAX_POLICY_ENTRIES,
				     IOF_MAX_PREFILTER_ENTRIES,
				     IOF_CT_MAX,
				     IOF_CT_MAX};
	struct dp_fill fill = {0};

	if (!dp || dp_read_fill(dp, &fill))
		return;
	const size_t used[] = {fill.endpoints, fill.remote4, fill.remote6, fill.policy,
			       fill.prefilter, fill.ct4,     fill.ct6};

	header(f, "iofence_map_entries", "gauge",
	       "Entries in use per map: the active slot's share of the policy maps, all entries "
	       "of the conntrack maps (counted every few seconds).");
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		fprintf(f, "iofence_map_entries{map=\"%s\"} %zu\n", maps[i], used[i]);
	header(f, "iofence_map_capacity", "gauge", "Capacity per map and slot.");
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		fprintf(f, "iofence_map_capacity{map=\"%s\"} %u\n", maps[i], capacity[i]);
}

void metrics_write_counters(struct datapath *dp, FILE *f, struct snapshot *s)
{
	const struct policy_image *img = s ? snapshot_image(s) : NULL;
	const struct policy_document *doc = s ? snapshot_doc(s) : NULL;

	write_endpoints(dp, f, img);
	write_rules(dp, f, img, doc);
	write_drops(dp, f);
	write_fill(dp, f);
}
