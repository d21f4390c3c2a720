// SPDX-License-Identifier: Apache-2.0
/*
 * The JSON document of /api/state: every node and tunnel with its health, rates, top inner
 * flows and recent denies, and the graph as SVG text. Stable names: the page and the tests
 * read them.
 */
#include <stdio.h>
#include <stdlib.h>

#include "view_json.h"

static void str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void flows(FILE *f, const struct view_flow *top, unsigned n)
{
	fputs("[", f);
	for (unsigned i = 0; i < n; i++) {
		fprintf(f, "%s{\"src\":", i ? "," : "");
		str(f, top[i].src);
		fputs(",\"dst\":", f);
		str(f, top[i].dst);
		fputs(",\"protocol\":", f);
		str(f, top[i].protocol);
		fprintf(f, ",\"vni\":%u,\"bytes_per_sec\":%.1f,\"bytes\":%llu}", top[i].vni,
			top[i].bps, (unsigned long long)top[i].bytes);
	}
	fputs("]", f);
}

static void denies(FILE *f, const struct cluster_deny *d, unsigned n)
{
	fputs("[", f);
	for (unsigned i = 0; i < n; i++) {
		fprintf(f, "%s{\"time_unix_nano\":%llu,\"endpoint\":", i ? "," : "",
			(unsigned long long)d[i].time_ns);
		str(f, d[i].endpoint);
		fputs(",\"direction\":", f);
		str(f, d[i].direction);
		fputs(",\"reason\":", f);
		str(f, d[i].reason);
		fputs(",\"protocol\":", f);
		str(f, d[i].protocol);
		fputs(",\"src\":", f);
		str(f, d[i].src);
		fputs(",\"dst\":", f);
		str(f, d[i].dst);
		fprintf(f, ",\"sport\":%u,\"dport\":%u,\"rule\":", d[i].sport, d[i].dport);
		str(f, d[i].rule);
		fputs("}", f);
	}
	fputs("]", f);
}

static void node(FILE *f, const struct view_node *n)
{
	fputs("{\"id\":", f);
	str(f, n->id);
	fputs(",\"name\":", f);
	str(f, n->name);
	fputs(",\"agent\":", f);
	str(f, n->agent);
	fputs(",\"health\":", f);
	str(f, n->health);
	fputs(",\"detail\":", f);
	str(f, n->detail);
	fprintf(f,
		",\"revision\":%llu,\"uptime_seconds\":%llu,\"endpoints\":%u,\"enforced\":%u,"
		"\"tracing\":%s,\"allowed_bytes_per_sec\":%.1f,\"denied_packets_per_sec\":%.2f,"
		"\"tunnel_bytes_per_sec\":%.1f,\"drops\":[",
		(unsigned long long)n->revision, (unsigned long long)n->uptime, n->endpoints,
		n->enforced, n->tracing ? "true" : "false", n->allowed_bps, n->denied_pps,
		n->tunnel_bps);
	for (unsigned i = 0; i < n->n_drops; i++) {
		fprintf(f, "%s{\"reason\":", i ? "," : "");
		str(f, n->drops[i].reason);
		fprintf(f, ",\"packets\":%llu,\"packets_per_sec\":%.2f}",
			(unsigned long long)n->drops[i].total, n->drops[i].pps);
	}
	fputs("],\"top_inner\":", f);
	flows(f, n->top, n->n_top);
	fputs(",\"denies\":", f);
	denies(f, n->denies, n->n_denies);
	fputs("}", f);
}

static void tunnel(FILE *f, const struct cluster_view *v, const struct view_tunnel *t)
{
	fputs("{\"id\":", f);
	str(f, t->id);
	fputs(",\"a\":", f);
	str(f, v->nodes[t->a].name);
	fputs(",\"b\":", f);
	str(f, v->nodes[t->b].name);
	fputs(",\"health\":", f);
	str(f, t->health);
	fprintf(f,
		",\"vni\":%u,\"bytes_per_sec\":%.1f,\"ab_bytes_per_sec\":%.1f,"
		"\"ba_bytes_per_sec\":%.1f,\"packets_per_sec\":%.1f,\"bytes\":%llu,"
		"\"recent_denies\":%u,\"top_inner\":",
		t->vni, t->ab_bps + t->ba_bps, t->ab_bps, t->ba_bps, t->pps,
		(unsigned long long)t->bytes, t->recent_denies);
	flows(f, t->top, t->n_top);
	fputs(",\"denies\":", f);
	denies(f, t->denies, t->n_denies);
	fputs("}", f);
}

char *view_json(const struct cluster_view *v, const struct view_meta *meta, const char *svg,
		size_t *ret_len)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	fprintf(f, "{\"time_unix_nano\":%llu,\"revision\":%llu,\"refresh_ms\":%d,\"datastore\":",
		(unsigned long long)v->time_ns, (unsigned long long)v->revision, meta->refresh_ms);
	str(f, meta->datastore);
	fprintf(f, ",\"datastore_ok\":%s,\"datastore_error\":",
		!v->datastore || v->datastore_ok ? "true" : "false");
	str(f, v->datastore_error);
	fputs(",\"nodes\":[", f);
	for (size_t i = 0; i < v->n_nodes; i++) {
		fputs(i ? ",\n" : "\n", f);
		node(f, &v->nodes[i]);
	}
	fputs("],\"tunnels\":[", f);
	for (size_t i = 0; i < v->n_tunnels; i++) {
		fputs(i ? ",\n" : "\n", f);
		tunnel(f, v, &v->tunnels[i]);
	}
	fputs("],\n\"svg\":", f);
	str(f, svg ? svg : "");
	fputs("}\n", f);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	*ret_len = len;
	return buf;
}
