// SPDX-License-Identifier: Apache-2.0
/*
 * iofencectl tunnels [--agent ADDR]... | --etcd-endpoints URL[,URL]  [--interval SEC] [--top N]
 *                    [-o table|json]
 * The vxlan-trace statistics of every agent (given, or in cluster mode every node with a status
 * key in the datastore), aggregated: tunnels host -> host per VNI with
 * packets and bytes per second (two samples --interval apart; with --interval 0 the average
 * over each entry's first..last seen), the top inner pairs across nodes, and each node's
 * malformed / non-VXLAN / eviction counts. A tunnel's figures come from the sender's egress
 * when its agent was asked, else from the receiver's ingress. An inner pair is listed once per
 * node that saw it (the sender's egress, the receiver's ingress), with that node beside it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "ctl.h"

struct link {
	const char *src, *dst, *family, *node, *direction;
	uint32_t vni;
	uint64_t packets, bytes, last_seen;
	double pps, bps;
};

static Iofence__V1__GetTunnelsResponse *sample(const struct ctl_opts *o, const char *agent,
					       uint32_t top, int *rc)
{
	Iofence__V1__GetTunnelsRequest req = IOFENCE__V1__GET_TUNNELS_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	struct rpc_result res;
	grpc_channel *ch = ctl_connect(o, agent);
	int r;

	if (!ch) {
		*rc = CTL_SYSTEM_ERROR;
		return NULL;
	}
	req.top_inner = top;
	r = rpc_unary(ch, RPC_METHOD_GET_TUNNELS, &req.base,
		      &iofence__v1__get_tunnels_response__descriptor, o->timeout_ms, &resp, &res);
	grpc_channel_destroy(ch);
	*rc = ctl_report(o, agent, &res, r);
	rpc_result_free(&res);
	return *rc ? NULL : (void *)resp;
}

static const Iofence__V1__TunnelStats *find(const Iofence__V1__GetTunnelsResponse *s,
					    const Iofence__V1__TunnelStats *t)
{
	for (size_t i = 0; s && i < s->n_tunnels; i++) {
		const Iofence__V1__TunnelStats *u = s->tunnels[i];

		if (u->vni == t->vni && !strcmp(u->outer_src, t->outer_src) &&
		    !strcmp(u->outer_dst, t->outer_dst) && !strcmp(u->direction, t->direction))
			return u;
	}
	return NULL;
}

/* Rates of t: between the two samples, or over first..last seen without a first sample. */
static void rates(const Iofence__V1__GetTunnelsResponse *a, const Iofence__V1__GetTunnelsResponse *b,
		  const Iofence__V1__TunnelStats *t, double *pps, double *bps)
{
	const Iofence__V1__TunnelStats *p = a ? find(a, t) : NULL;
	double dt;

	*pps = *bps = 0;
	if (a) {
		dt = (double)(b->time_unix_nano - a->time_unix_nano) / 1e9;
		if (dt <= 0)
			return;
		*pps = (double)(t->packets - (p ? p->packets : 0)) / dt;
		*bps = (double)(t->bytes - (p ? p->bytes : 0)) / dt;
	} else {
		dt = (double)(t->last_seen_unix_nano - t->first_seen_unix_nano) / 1e9;
		if (dt <= 0)
			return;
		*pps = (double)t->packets / dt;
		*bps = (double)t->bytes / dt;
	}
}

static void human(double v, char *buf, size_t len)
{
	static const char *const unit[] = {"", "k", "M", "G", "T"};
	int u = 0;

	while (fabs(v) >= 1000 && u < 4)
		v /= 1000, u++;
	snprintf(buf, len, u ? "%.1f%s" : "%.0f%s", v, unit[u]);
}

/* An inner pair as one node saw it. */
struct seen_pair {
	const Iofence__V1__InnerPair *pair;
	const char *node;
};

static int cmp_inner(const void *x, const void *y)
{
	const Iofence__V1__InnerPair *a = ((const struct seen_pair *)x)->pair;
	const Iofence__V1__InnerPair *b = ((const struct seen_pair *)y)->pair;

	return a->bytes < b->bytes ? 1 : a->bytes > b->bytes ? -1 : 0;
}

int cmd_tunnels(int argc, char **argv)
{
	Iofence__V1__GetTunnelsResponse **s1 = NULL, **s2 = NULL;
	struct seen_pair *inner = NULL;
	struct link *links = NULL;
	size_t n_links = 0, n_inner = 0, cap_inner = 0;
	struct ctl_opts o;
	int r, worst = CTL_OK;
	bool json;

	r = ctl_parse(argc, argv, "tunnels", &o);
	if (r >= 0)
		return r;
	if (o.output && strcmp(o.output, "table") && strcmp(o.output, "json")) {
		fprintf(stderr, "iofencectl tunnels: -o: \"%s\" is not table or json\n", o.output);
		ctl_opts_free(&o);
		return CTL_USER_ERROR;
	}
	json = o.output && !strcmp(o.output, "json");
	worst = ctl_find_agents(&o);
	if (worst)
		goto out;
	s1 = calloc(o.n_agents, sizeof(*s1));
	s2 = calloc(o.n_agents, sizeof(*s2));
	if (!s1 || !s2) {
		worst = CTL_SYSTEM_ERROR;
		goto out;
	}
	if (o.interval > 0) {
		struct timespec ts = {(time_t)o.interval,
				      (long)((o.interval - (double)(time_t)o.interval) * 1e9)};

		for (size_t i = 0; i < o.n_agents; i++)
			s1[i] = sample(&o, o.agents[i], o.top, &r);
		nanosleep(&ts, NULL);
	}
	for (size_t i = 0; i < o.n_agents; i++) {
		s2[i] = sample(&o, o.agents[i], o.top, &r);
		if (r > worst)
			worst = r;
	}
	/* Links: one per {src, dst, VNI}; the sender's egress wins over the receiver's ingress. */
	for (size_t i = 0; i < o.n_agents; i++) {
		for (size_t j = 0; s2[i] && j < s2[i]->n_tunnels; j++) {
			const Iofence__V1__TunnelStats *t = s2[i]->tunnels[j];
			struct link *l = NULL;

			for (size_t k = 0; k < n_links && !l; k++)
				if (links[k].vni == t->vni && !strcmp(links[k].src, t->outer_src) &&
				    !strcmp(links[k].dst, t->outer_dst))
					l = &links[k];
			if (l && (!strcmp(l->direction, "egress") || strcmp(t->direction, "egress")))
				continue;
			if (!l) {
				void *p = realloc(links, (n_links + 1) * sizeof(*links));

				if (!p) {
					worst = CTL_SYSTEM_ERROR;
					goto out;
				}
				links = p;
				l = &links[n_links++];
			}
			l->src = t->outer_src;
			l->dst = t->outer_dst;
			l->vni = t->vni;
			l->family = t->family;
			l->node = s2[i]->node;
			l->direction = t->direction;
			l->packets = t->packets;
			l->bytes = t->bytes;
			l->last_seen = t->last_seen_unix_nano;
			rates(o.interval > 0 ? s1[i] : NULL, s2[i], t, &l->pps, &l->bps);
		}
		for (size_t j = 0; s2[i] && j < s2[i]->n_inner; j++) {
			if (n_inner == cap_inner) {
				size_t c = cap_inner ? 2 * cap_inner : 64;
				void *p = realloc(inner, c * sizeof(*inner));

				if (!p) {
					worst = CTL_SYSTEM_ERROR;
					goto out;
				}
				inner = p;
				cap_inner = c;
			}
			inner[n_inner++] = (struct seen_pair){s2[i]->inner[j], s2[i]->node};
		}
	}
	if (n_inner)
		qsort(inner, n_inner, sizeof(*inner), cmp_inner);
	if (n_inner > o.top)
		n_inner = o.top;
	if (json) {
		printf("{\"interval_seconds\": %g, \"nodes\": [", o.interval);
		size_t printed = 0;

		for (size_t i = 0; i < o.n_agents; i++) {
			const Iofence__V1__GetTunnelsResponse *s = s2[i];

			if (!s)
				continue;
			printf("%s\n  {\"agent\": ", printed++ ? "," : "");
			json_str(stdout, o.agents[i]);
			printf(", \"node\": ");
			json_str(stdout, s->node);
			printf(", \"enabled\": %s, \"time_unix_nano\": %llu, \"malformed\": %llu, "
			       "\"non_vxlan\": %llu, \"tunnel_evictions\": %llu, \"inner_evictions\": "
			       "%llu, \"inner_complete\": %s, \"inner_entries\": %llu, \"tunnels\": [",
			       s->enabled ? "true" : "false", (unsigned long long)s->time_unix_nano,
			       (unsigned long long)s->malformed, (unsigned long long)s->non_vxlan,
			       (unsigned long long)s->tunnel_evictions,
			       (unsigned long long)s->inner_evictions,
			       s->inner_complete ? "true" : "false",
			       (unsigned long long)s->inner_entries);
			for (size_t j = 0; j < s->n_tunnels; j++) {
				const Iofence__V1__TunnelStats *t = s->tunnels[j];
				double pps, bps;

				rates(o.interval > 0 ? s1[i] : NULL, s, t, &pps, &bps);
				printf("%s\n    {\"outer_src\": \"%s\", \"outer_dst\": \"%s\", \"vni\": %u, "
				       "\"direction\": \"%s\", \"family\": \"%s\", \"packets\": %llu, "
				       "\"bytes\": %llu, \"packets_per_second\": %.3f, "
				       "\"bytes_per_second\": %.3f, \"first_seen_unix_nano\": %llu, "
				       "\"last_seen_unix_nano\": %llu}",
				       j ? "," : "", t->outer_src, t->outer_dst, t->vni, t->direction,
				       t->family, (unsigned long long)t->packets,
				       (unsigned long long)t->bytes, pps, bps,
				       (unsigned long long)t->first_seen_unix_nano,
				       (unsigned long long)t->last_seen_unix_nano);
			}
			printf("%s]}", s->n_tunnels ? "\n  " : "");
		}
		printf("%s], \"tunnels\": [", printed ? "\n" : "");
		for (size_t k = 0; k < n_links; k++) {
			const struct link *l = &links[k];

			printf("%s\n  {\"src\": \"%s\", \"dst\": \"%s\", \"vni\": %u, \"family\": "
			       "\"%s\", \"packets\": %llu, \"bytes\": %llu, \"packets_per_second\": "
			       "%.3f, \"bytes_per_second\": %.3f, \"observed_by\": ",
			       k ? "," : "", l->src, l->dst, l->vni, l->family,
			       (unsigned long long)l->packets, (unsigned long long)l->bytes, l->pps,
			       l->bps);
			json_str(stdout, l->node);
			printf(", \"observed_direction\": \"%s\"}", l->direction);
		}
		printf("%s], \"top_inner\": [", n_links ? "\n" : "");
		for (size_t k = 0; k < n_inner; k++) {
			const Iofence__V1__InnerPair *p = inner[k].pair;

			printf("%s\n  {\"outer_src\": \"%s\", \"outer_dst\": \"%s\", \"vni\": %u, "
			       "\"direction\": \"%s\", \"inner_family\": \"%s\", \"inner_src\": "
			       "\"%s\", \"inner_dst\": \"%s\", \"inner_protocol\": \"%s\", "
			       "\"packets\": %llu, \"bytes\": %llu, \"observed_by\": ",
			       k ? "," : "", p->outer_src, p->outer_dst, p->vni, p->direction,
			       p->inner_family, p->inner_src, p->inner_dst, p->inner_protocol,
			       (unsigned long long)p->packets, (unsigned long long)p->bytes);
			json_str(stdout, inner[k].node);
			printf("}");
		}
		printf("%s]}\n", n_inner ? "\n" : "");
	} else {
		printf("TUNNELS\n%-28s %-28s %9s %12s %12s %10s %10s  %s\n", "SRC", "DST", "VNI",
		       "PACKETS", "BYTES", "PKT/S", "BYTES/S", "SEEN BY");
		for (size_t k = 0; k < n_links; k++) {
			const struct link *l = &links[k];
			char pk[16], by[16], pps[16], bps[16];

			human((double)l->packets, pk, sizeof(pk));
			human((double)l->bytes, by, sizeof(by));
			human(l->pps, pps, sizeof(pps));
			human(l->bps, bps, sizeof(bps));
			printf("%-28s %-28s %9u %12s %12s %10s %10s  %s %s\n", l->src, l->dst, l->vni,
			       pk, by, pps, bps, l->node, l->direction);
		}
		printf("\nTOP INNER PAIRS\n%-24s %-24s %9s %-26s %-26s %-6s %10s %10s  %s\n",
		       "OUTER SRC", "OUTER DST", "VNI", "INNER SRC", "INNER DST", "PROTO", "PACKETS",
		       "BYTES", "SEEN BY");
		for (size_t k = 0; k < n_inner; k++) {
			const Iofence__V1__InnerPair *p = inner[k].pair;
			char pk[16], by[16];

			human((double)p->packets, pk, sizeof(pk));
			human((double)p->bytes, by, sizeof(by));
			printf("%-24s %-24s %9u %-26s %-26s %-6s %10s %10s  %s %s\n", p->outer_src,
			       p->outer_dst, p->vni, *p->inner_src ? p->inner_src : "-",
			       *p->inner_dst ? p->inner_dst : "-",
			       *p->inner_protocol ? p->inner_protocol : p->inner_family, pk, by,
			       inner[k].node, p->direction);
		}
		printf("\n%-16s %-8s %10s %10s %10s %s\n", "NODE", "MODULE", "MALFORMED", "NON-VXLAN",
		       "EVICTIONS", "INNER TABLE");
		for (size_t i = 0; i < o.n_agents; i++) {
			const Iofence__V1__GetTunnelsResponse *s = s2[i];

			if (!s)
				continue;
			printf("%-16s %-8s %10llu %10llu %10llu %s\n", s->node,
			       s->enabled ? "enabled" : "off", (unsigned long long)s->malformed,
			       (unsigned long long)s->non_vxlan,
			       (unsigned long long)(s->tunnel_evictions + s->inner_evictions),
			       !s->enabled ? "-" : s->inner_complete ? "complete"
								     : "incomplete (evictions)");
		}
	}
out:
	for (size_t i = 0; i < o.n_agents; i++) {
		if (s1 && s1[i])
			iofence__v1__get_tunnels_response__free_unpacked(s1[i], NULL);
		if (s2 && s2[i])
			iofence__v1__get_tunnels_response__free_unpacked(s2[i], NULL);
	}
	free(s1);
	free(s2);
	free(links);
	free(inner);
	ctl_opts_free(&o);
	return worst;
}
