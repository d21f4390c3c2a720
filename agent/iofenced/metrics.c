// SPDX-License-Identifier: Apache-2.0
/*
 * Prometheus text exposition on --metrics HOST:PORT (libmicrohttpd, its own thread):
 * applied revision, apply latency histogram, the datapath's counters (metrics_counters.c),
 * flow events, modules, repairs and, in cluster mode, the datastore's state.
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
	metrics_escape_label(f, a->cfg.node);
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
	metrics_write_counters(dp, f, s);
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
