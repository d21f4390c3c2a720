// SPDX-License-Identifier: Apache-2.0
/*
 * Prometheus text exposition on --metrics HOST:PORT (libmicrohttpd, its own thread):
 * applied revision, apply latency histogram, per-endpoint and per-rule packet counters,
 * drops by reason, map fill levels and flow events dropped for slow watchers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "agent.h"
#include "modules.h"
#include "agent/datapath/datapath.h"
#include "engine.h"
#include "flows.h"
#include "follower.h"
#include "guard.h"
#include "linkwatch.h"
#include "log.h"
#include "metrics.h"

static void escape_label(FILE *f, const char *s)
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

static void write_counters(struct datapath *dp, FILE *f, struct snapshot *s)
{
	static const struct {
		enum iof_ep_counter_kind kind;
		const char *dir, *verdict;
	} kinds[] = {
	    {IOF_EPC_INGRESS_ALLOW, "ingress", "allow"},
	    {IOF_EPC_INGRESS_DENY, "ingress", "deny"},
	    {IOF_EPC_EGRESS_ALLOW, "egress", "allow"},
	    {IOF_EPC_EGRESS_DENY, "egress", "deny"},
	    {IOF_EPC_AUDIT_WOULD_DROP, "any", "audit-would-drop"},
	};
	const struct policy_image *img = s ? snapshot_image(s) : NULL;
	const struct policy_document *doc = s ? snapshot_doc(s) : NULL;
	struct iof_counter c;

	fprintf(f, "# HELP iofence_endpoint_packets_total Packets judged per endpoint.\n"
		   "# TYPE iofence_endpoint_packets_total counter\n");
	for (size_t i = 0; img && dp && i < img->n_endpoints; i++)
		for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
			memset(&c, 0, sizeof(c));
			dp_read_endpoint_counter(dp, (uint32_t)i, kinds[k].kind, &c);
			fprintf(f, "iofence_endpoint_packets_total{endpoint=\"");
			escape_label(f, img->endpoints[i].name);
			fprintf(f, "\",direction=\"%s\",verdict=\"%s\"} %llu\n", kinds[k].dir,
				kinds[k].verdict, (unsigned long long)c.packets);
		}
	fprintf(f, "# HELP iofence_rule_packets_total Packets of new flows decided per rule "
		   "(rule: group/name, or group[index] for an unnamed rule).\n"
		   "# TYPE iofence_rule_packets_total counter\n");
	for (size_t i = 0; img && dp && i < img->n_rules; i++) {
		const struct policy_group *g = &doc->groups[img->rules[i].group_index];
		const struct policy_rule *r = &g->rules[img->rules[i].rule_index];

		char label[256];

		memset(&c, 0, sizeof(c));
		dp_read_rule_counter(dp, (uint32_t)i, &c);
		policy_rule_label(doc, img->rules[i].group_index, img->rules[i].rule_index, label,
				  sizeof(label));
		fprintf(f, "iofence_rule_packets_total{rule=\"");
		escape_label(f, label);
		fprintf(f, "\",group=\"");
		escape_label(f, g->name);
		fprintf(f, "\",index=\"%zu\",action=\"%s\"} %llu\n", img->rules[i].rule_index,
			r->action == POLICY_DENY ? "deny" : "allow", (unsigned long long)c.packets);
	}
	fprintf(f, "# HELP iofence_drops_total Packets dropped by reason.\n"
		   "# TYPE iofence_drops_total counter\n");
	for (unsigned r = 1; r < IOF_DROP_MAX; r++) {
		memset(&c, 0, sizeof(c));
		if (dp)
			dp_read_drops(dp, r, &c);
		fprintf(f, "iofence_drops_total{reason=\"%s\"} %llu\n", dp_drop_reason_name(r),
			(unsigned long long)c.packets);
	}
	if (dp) {
		struct dp_fill fill = {0};

		if (!dp_read_fill(dp, &fill)) {
			fprintf(f,
				"# HELP iofence_map_entries Entries in use per map.\n"
				"# TYPE iofence_map_entries gauge\n"
				"iofence_map_entries{map=\"iof_endpoints\"} %zu\n"
				"iofence_map_entries{map=\"iof_remote4\"} %zu\n"
				"iofence_map_entries{map=\"iof_remote6\"} %zu\n"
				"iofence_map_entries{map=\"iof_policy\"} %zu\n"
				"iofence_map_entries{map=\"iof_prefilter\"} %zu\n"
				"iofence_map_entries{map=\"iof_ct4\"} %zu\n"
				"iofence_map_entries{map=\"iof_ct6\"} %zu\n",
				fill.endpoints, fill.remote4, fill.remote6, fill.policy,
				fill.prefilter, fill.ct4, fill.ct6);
			fprintf(f,
				"# HELP iofence_map_capacity Capacity per map and slot.\n"
				"# TYPE iofence_map_capacity gauge\n"
				"iofence_map_capacity{map=\"iof_endpoints\"} %u\n"
				"iofence_map_capacity{map=\"iof_remote4\"} %u\n"
				"iofence_map_capacity{map=\"iof_remote6\"} %u\n"
				"iofence_map_capacity{map=\"iof_policy\"} %u\n"
				"iofence_map_capacity{map=\"iof_prefilter\"} %u\n"
				"iofence_map_capacity{map=\"iof_ct4\"} %u\n"
				"iofence_map_capacity{map=\"iof_ct6\"} %u\n",
				IOF_MAX_ENDPOINTS, IOF_MAX_REMOTE_ENTRIES, IOF_MAX_REMOTE_ENTRIES,
				IOF_MAX_POLICY_ENTRIES, IOF_MAX_PREFILTER_ENTRIES, IOF_CT_MAX,
				IOF_CT_MAX);
		}
	}
}

static char *render(struct agent *a, size_t *ret_len)
{
	struct snapshot *s = engine_current(a->engine);
	struct datapath *dp = engine_datapath(a->engine);
	struct apply_stats st;
	uint64_t cum = 0;
	char *buf = NULL;
	FILE *f = open_memstream(&buf, ret_len);

	if (!f) {
		snapshot_unref(s);
		return NULL;
	}
	fprintf(f, "# HELP iofence_applied_revision Revision enforced (0: none).\n"
		   "# TYPE iofence_applied_revision gauge\n"
		   "iofence_applied_revision{node=\"");
	escape_label(f, a->cfg.node);
	fprintf(f, "\"} %llu\n", (unsigned long long)(s ? snapshot_revision(s) : 0));
	engine_apply_stats(a->engine, &st);
	fprintf(f, "# HELP iofence_apply_duration_seconds Apply latency, request to enforced.\n"
		   "# TYPE iofence_apply_duration_seconds histogram\n");
	for (size_t i = 0; i < APPLY_BUCKETS; i++) {
		cum += st.bucket[i];
		fprintf(f, "iofence_apply_duration_seconds_bucket{le=\"%g\"} %llu\n",
			apply_bucket_le[i], (unsigned long long)cum);
	}
	fprintf(f, "iofence_apply_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
		(unsigned long long)st.ok);
	fprintf(f, "iofence_apply_duration_seconds_sum %.6f\n", (double)st.usec_sum / 1e6);
	fprintf(f, "iofence_apply_duration_seconds_count %llu\n", (unsigned long long)st.ok);
	fprintf(f,
		"# HELP iofence_apply_failures_total Applies refused or failed.\n"
		"# TYPE iofence_apply_failures_total counter\n"
		"iofence_apply_failures_total %llu\n",
		(unsigned long long)st.failed);
	write_counters(dp, f, s);
	follower_metrics(a, f);
	fprintf(f,
		"# HELP iofence_flow_events_total Verdict events read from the datapath.\n"
		"# TYPE iofence_flow_events_total counter\n"
		"iofence_flow_events_total %llu\n"
		"# HELP iofence_flow_events_dropped_total Events dropped for slow watchers.\n"
		"# TYPE iofence_flow_events_dropped_total counter\n"
		"iofence_flow_events_dropped_total %llu\n",
		(unsigned long long)flows_events_seen(a->flows),
		(unsigned long long)flows_events_dropped(a->flows));
	if (dp) {
		uint64_t ring = 0, rate = 0;

		dp_events_lost(dp, IOF_EVLOST_RINGBUF, &ring);
		dp_events_lost(dp, IOF_EVLOST_RATELIMIT, &rate);
		fprintf(f,
			"# HELP iofence_flow_events_lost_total Events the datapath did not write.\n"
			"# TYPE iofence_flow_events_lost_total counter\n"
			"iofence_flow_events_lost_total{cause=\"ringbuf\"} %llu\n"
			"iofence_flow_events_lost_total{cause=\"ratelimit\"} %llu\n",
			(unsigned long long)ring, (unsigned long long)rate);
	}
	modules_metrics(a, f);
	guard_write_metrics(engine_guard(a->engine), f);
	linkwatch_write_metrics(a->linkwatch, f);
	fclose(f);
	snapshot_unref(s);
	return buf;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_len, void **con_cls)
{
	struct MHD_Response *resp;
	enum MHD_Result r;
	size_t len = 0;
	char *body;

	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return MHD_NO;
	if (strcmp(url, "/metrics") && strcmp(url, "/")) {
		static char nf[] = "not found\n";

		resp = MHD_create_response_from_buffer(sizeof(nf) - 1, nf, MHD_RESPMEM_PERSISTENT);
		r = MHD_queue_response(conn, MHD_HTTP_NOT_FOUND, resp);
		MHD_destroy_response(resp);
		return r;
	}
	body = render(cls, &len);
	if (!body)
		return MHD_NO;
	resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4");
	r = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return r;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	log_warn("metrics: %s", buf);
}

int metrics_start(struct agent *a, char *err, size_t err_len)
{
	struct sockaddr_storage ss = {0};
	const char *addr = a->cfg.metrics, *colon;
	char host[256];
	unsigned long port;
	char *end;

	if (!addr || !*addr)
		return 0;
	colon = strrchr(addr, ':');
	if (!colon || (size_t)(colon - addr) >= sizeof(host))
		goto bad;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = 0;
	port = strtoul(colon + 1, &end, 10);
	if (*end || !port || port > 65535)
		goto bad;
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		host[strlen(host) - 1] = 0;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
			goto bad;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		if (!*host)
			s4->sin_addr.s_addr = htonl(INADDR_ANY);
		else if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			goto bad;
	}
	a->metrics =
	    MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
				 (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
			     (uint16_t)port, NULL, NULL, handle, a, MHD_OPTION_EXTERNAL_LOGGER,
			     mhd_log, NULL, MHD_OPTION_SOCK_ADDR, &ss, MHD_OPTION_END);
	if (!a->metrics) {
		snprintf(err, err_len, "metrics: cannot listen on %s", addr);
		return -EADDRINUSE;
	}
	log_info("metrics on http://%s/metrics", addr);
	return 0;
bad:
	snprintf(err, err_len, "metrics: \"%s\" is not HOST:PORT", addr);
	return -EINVAL;
}

void metrics_stop(struct agent *a)
{
	if (a->metrics)
		MHD_stop_daemon(a->metrics);
	a->metrics = NULL;
}
