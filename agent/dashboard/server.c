// SPDX-License-Identifier: Apache-2.0
/*
 * The dashboard's web server (libmicrohttpd, one thread): the page and its script and style
 * (compiled in: the page needs no network), /api/state (the view as JSON with the graph's
 * SVG) and /graph.svg. Runs the pollers until SIGINT or SIGTERM.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "assets.h"
#include "dashboard.h"
#include "graph.h"
#include "poller.h"
#include "view_json.h"

struct server {
	const struct dashboard_config *cfg;
	struct cluster cluster;
	struct graph_renderer *graph;
	char datastore[160];
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code, const char *type,
			     void *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result r;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", type);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	r = MHD_queue_response(conn, code, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result serve_state(struct server *s, struct MHD_Connection *conn, bool svg_only)
{
	struct view_meta meta = {.datastore = s->datastore, .refresh_ms = 2000};
	struct cluster_view *v = cluster_view_build(&s->cluster);
	char *svg = NULL, *body = NULL;
	size_t len = 0;

	if (!v)
		return MHD_NO;
	svg = graph_render_svg(s->graph, v);
	if (svg_only) {
		cluster_view_free(v);
		if (!svg)
			return MHD_NO;
		return reply(conn, MHD_HTTP_OK, "image/svg+xml", svg, strlen(svg),
			     MHD_RESPMEM_MUST_FREE);
	}
	body = view_json(v, &meta, svg, &len);
	free(svg);
	cluster_view_free(v);
	if (!body)
		return MHD_NO;
	return reply(conn, MHD_HTTP_OK, "application/json", body, len, MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_len, void **state)
{
	static char not_found[] = "not found\n";
	struct server *s = cls;
	const struct dashboard_asset *a;

	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return MHD_NO;
	if (!strcmp(url, "/api/state"))
		return serve_state(s, conn, false);
	if (!strcmp(url, "/graph.svg"))
		return serve_state(s, conn, true);
	a = dashboard_asset_find(strcmp(url, "/") ? url : "/index.html");
	if (a)
		return reply(conn, MHD_HTTP_OK, a->type, (void *)a->data, a->len,
			     MHD_RESPMEM_PERSISTENT);
	return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain", not_found, sizeof(not_found) - 1,
		     MHD_RESPMEM_PERSISTENT);
}

/* HOST:PORT (or [V6]:PORT) into an address for MHD. */
static int parse_listen(const char *listen, struct sockaddr_storage *ss)
{
	char host[128];
	const char *colon = strrchr(listen, ':');
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *ai;
	size_t hl;

	if (!colon || colon == listen || !colon[1])
		return -EINVAL;
	hl = (size_t)(colon - listen);
	if (listen[0] == '[' && colon[-1] == ']') {
		listen++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, listen, hl);
	host[hl] = 0;
	if (getaddrinfo(host, colon + 1, &hints, &ai))
		return -EINVAL;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	return 0;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	fputs("iofencectl dashboard: ", stderr);
	vfprintf(stderr, fmt, ap);
}

int dashboard_run(const struct dashboard_config *cfg)
{
	struct server s = {.cfg = cfg};
	struct sockaddr_storage ss;
	struct MHD_Daemon *d = NULL;
	struct poller *p = NULL;
	/* Cluster mode without --agent: the agents come from the status keys, as nodes join. */
	bool discover = cfg->etcd_endpoints && !cfg->n_agents;
	sigset_t sigs;
	int r, sig;

	if (parse_listen(cfg->listen, &ss)) {
		fprintf(stderr, "iofencectl dashboard: --listen %s: not HOST:PORT\n", cfg->listen);
		return -EINVAL;
	}
	if (cfg->etcd_endpoints)
		snprintf(s.datastore, sizeof(s.datastore), "etcd %s", cfg->etcd_endpoints);
	else
		snprintf(s.datastore, sizeof(s.datastore), "direct: %zu agent%s", cfg->n_agents,
			 cfg->n_agents == 1 ? "" : "s");
	r = cluster_init(&s.cluster, cfg->agents, cfg->n_agents);
	s.cluster.ds_enabled = cfg->etcd_endpoints != NULL;
	if (r)
		goto out;
	s.graph = graph_renderer_new();
	if (!s.graph) {
		fprintf(stderr, "iofencectl dashboard: Graphviz: no layout plugins\n");
		r = -ENOTSUP;
		goto out;
	}
	p = poller_start(&s.cluster, cfg, discover);
	if (!p) {
		r = -errno;
		goto out;
	}
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
				 (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
			     0, NULL, NULL, handle, &s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
			     MHD_OPTION_SOCK_ADDR, &ss, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "iofencectl dashboard: cannot listen on %s\n", cfg->listen);
		r = -EADDRINUSE;
		goto out;
	}
	fprintf(stderr, "iofencectl dashboard: http://%s/ (%s)\n", cfg->listen, s.datastore);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigwait(&sigs, &sig);
	r = 0;
out:
	if (d)
		MHD_stop_daemon(d);
	poller_stop(p);
	graph_renderer_free(s.graph);
	cluster_free(&s.cluster);
	return r;
}
