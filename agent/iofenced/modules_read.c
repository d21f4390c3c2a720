// SPDX-License-Identifier: Apache-2.0
/*
 * The loadable modules' readings: GetTunnels (the vxlan-trace tables as tunnels and top inner
 * pairs) and their Prometheus series (per tunnel only: inner pairs through the API, to bound
 * cardinality). The tables are read under the modules' lock: a disable never closes them
 * under a reader.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/status.h>

#include "agent.h"
#include "agent/datapath/module_vxlan.h"
#include "modules.h"
#include "modules_state.h"

#define TOP_INNER_DEFAULT 20
#define TOP_INNER_MAX 10000

static char *addr_str(struct arena *ar, const uint8_t a[16], uint8_t family)
{
	char buf[INET6_ADDRSTRLEN] = "";

	if (family == 4)
		inet_ntop(AF_INET, a, buf, sizeof(buf));
	else if (family == 6)
		inet_ntop(AF_INET6, a, buf, sizeof(buf));
	return arena_strdup(ar, buf);
}

static const char *proto_name(uint8_t family, uint8_t p)
{
	switch (p) {
	case 6:
		return "tcp";
	case 17:
		return "udp";
	case 1:
		return "icmp";
	case 58:
		return "icmpv6";
	case 132:
		return "sctp";
	default:
		return family ? NULL : "";
	}
}

static const char *dir_name(uint8_t dir)
{
	return dir == VXT_DIR_EGRESS ? "egress" : "ingress";
}

static uint64_t unix_ns(const struct vxt_snapshot *s, uint64_t mono_ns)
{
	return mono_ns ? (uint64_t)((int64_t)mono_ns + s->mono_to_unix_ns) : 0;
}

/* Does the tunnel key pass the request's filters? */
static bool wanted(const Iofence__V1__GetTunnelsRequest *q, const struct vxt_tunnel_key *k,
		   const char *src, const char *dst)
{
	if (q->outer_src && q->outer_src[0] && strcmp(q->outer_src, src))
		return false;
	if (q->outer_dst && q->outer_dst[0] && strcmp(q->outer_dst, dst))
		return false;
	if (q->has_vni && q->vni != k->vni)
		return false;
	if (q->direction && q->direction[0] && strcmp(q->direction, dir_name(k->dir)))
		return false;
	return true;
}

int modules_tunnels(struct agent *a, const Iofence__V1__GetTunnelsRequest *q, struct arena *ar,
		    ProtobufCMessage **ret, char *details, size_t len)
{
	Iofence__V1__GetTunnelsResponse *r = arena_alloc(ar, sizeof(*r));
	struct timespec now;

	if (!r)
		goto nomem;
	if (q->direction && q->direction[0] && strcmp(q->direction, "ingress") &&
	    strcmp(q->direction, "egress")) {
		snprintf(details, len, "direction must be ingress, egress or empty");
		return GRPC_STATUS_INVALID_ARGUMENT;
	}
	iofence__v1__get_tunnels_response__init(r);
	r->node = a->cfg.node;
	clock_gettime(CLOCK_REALTIME, &now);
	r->time_unix_nano = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
	*ret = &r->base;
	struct modules *m = a->modules;
	struct vxt_snapshot s;
	struct vxt_config c;
	char err[256] = "";
	size_t top = q->top_inner ? q->top_inner : TOP_INNER_DEFAULT;
	int rc;

	if (!m)
		return GRPC_STATUS_OK;
	if (top > TOP_INNER_MAX)
		top = TOP_INNER_MAX;
	pthread_mutex_lock(&m->lock);
	if (!m->vxt) {
		pthread_mutex_unlock(&m->lock);
		return GRPC_STATUS_OK; /* enabled = false */
	}
	vxt_get_config(m->vxt, &c);
	rc = vxt_read(m->vxt, &s, err, sizeof(err));
	r->enabled_at_unix = (uint64_t)m->enabled_at_unix;
	pthread_mutex_unlock(&m->lock);
	if (rc) {
		snprintf(details, len, "%s", err);
		return GRPC_STATUS_INTERNAL;
	}
	r->enabled = true;
	r->config = modules_config_pb(ar, &c);
	r->malformed = s.stats[VXT_STAT_MALFORMED];
	r->non_vxlan = s.stats[VXT_STAT_NON_VXLAN];
	r->tunnel_evictions = s.tunnel_evictions;
	r->inner_evictions = s.inner_evictions;
	r->inner_complete = s.inner_evictions == 0;
	r->inner_entries = s.n_inner;
	r->tunnels = arena_alloc(ar, (s.n_tunnels + 1) * sizeof(*r->tunnels));
	r->inner = arena_alloc(ar, (top < s.n_inner ? top : s.n_inner) * sizeof(*r->inner) + 1);
	if (!r->tunnels || !r->inner || !r->config) {
		vxt_snapshot_free(&s);
		goto nomem;
	}
	for (size_t i = 0; i < s.n_tunnels; i++) {
		const struct vxt_tunnel_row *t = &s.tunnels[i];
		Iofence__V1__TunnelStats *pt = arena_alloc(ar, sizeof(*pt));

		if (!pt)
			break;
		iofence__v1__tunnel_stats__init(pt);
		pt->outer_src = addr_str(ar, t->key.src, t->key.family);
		pt->outer_dst = addr_str(ar, t->key.dst, t->key.family);
		if (!pt->outer_src || !pt->outer_dst || !wanted(q, &t->key, pt->outer_src, pt->outer_dst))
			continue;
		pt->vni = t->key.vni;
		pt->direction = (char *)dir_name(t->key.dir);
		pt->family = t->key.family == 6 ? "ipv6" : "ipv4";
		pt->packets = t->count.packets;
		pt->bytes = t->count.bytes;
		pt->first_seen_unix_nano = unix_ns(&s, t->count.first_seen);
		pt->last_seen_unix_nano = unix_ns(&s, t->count.last_seen);
		r->tunnels[r->n_tunnels++] = pt;
	}
	for (size_t i = 0; i < s.n_inner && r->n_inner < top; i++) {
		const struct vxt_inner_row *t = &s.inner[i];
		Iofence__V1__InnerPair *pi = arena_alloc(ar, sizeof(*pi));
		const char *pn;

		if (!pi)
			break;
		iofence__v1__inner_pair__init(pi);
		pi->outer_src = addr_str(ar, t->key.outer.src, t->key.outer.family);
		pi->outer_dst = addr_str(ar, t->key.outer.dst, t->key.outer.family);
		if (!pi->outer_src || !pi->outer_dst ||
		    !wanted(q, &t->key.outer, pi->outer_src, pi->outer_dst))
			continue;
		pi->vni = t->key.outer.vni;
		pi->direction = (char *)dir_name(t->key.outer.dir);
		pi->inner_family = t->key.family == 4 ? "ipv4" : t->key.family == 6 ? "ipv6" : "other";
		pi->inner_src = addr_str(ar, t->key.src, t->key.family);
		pi->inner_dst = addr_str(ar, t->key.dst, t->key.family);
		pn = proto_name(t->key.family, t->key.proto);
		pi->inner_protocol = pn ? (char *)pn : arena_printf(ar, "%u", t->key.proto);
		pi->inner_protocol_number = t->key.proto;
		pi->packets = t->count.packets;
		pi->bytes = t->count.bytes;
		pi->first_seen_unix_nano = unix_ns(&s, t->count.first_seen);
		pi->last_seen_unix_nano = unix_ns(&s, t->count.last_seen);
		r->inner[r->n_inner++] = pi;
	}
	vxt_snapshot_free(&s);
	return GRPC_STATUS_OK;
nomem:
	snprintf(details, len, "out of memory");
	return GRPC_STATUS_RESOURCE_EXHAUSTED;
}

static void label(FILE *f, const char *name, const char *v)
{
	fprintf(f, "%s=\"", name);
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			fputc('\\', f);
		fputc(*v, f);
	}
	fputc('"', f);
}

void modules_metrics(struct agent *a, FILE *f)
{
	struct modules *m = a->modules;
	struct vxt_snapshot s;
	int rc;

	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	rc = m->vxt ? vxt_read_tunnels(m->vxt, &s, NULL, 0) : -ENOENT; /* inner: API only */
	pthread_mutex_unlock(&m->lock);
	fprintf(f, "# HELP iofence_module_enabled Loadable module enabled (1) or not (0).\n"
		   "# TYPE iofence_module_enabled gauge\n"
		   "iofence_module_enabled{module=\"%s\"} %d\n",
		MODULES_VXT_NAME, rc == 0);
	if (rc)
		return;
	static const char *const what[2] = {"packets", "bytes"};

	for (int w = 0; w < 2; w++) {
		fprintf(f,
			"# HELP iofence_vxlan_tunnel_%s_total VXLAN %s per outer pair, VNI and "
			"direction on the underlay (vxlan-trace).\n"
			"# TYPE iofence_vxlan_tunnel_%s_total counter\n",
			what[w], what[w], what[w]);
		for (size_t i = 0; i < s.n_tunnels; i++) {
			const struct vxt_tunnel_row *t = &s.tunnels[i];
			char src[INET6_ADDRSTRLEN] = "", dst[INET6_ADDRSTRLEN] = "";
			int af = t->key.family == 6 ? AF_INET6 : AF_INET;

			inet_ntop(af, t->key.src, src, sizeof(src));
			inet_ntop(af, t->key.dst, dst, sizeof(dst));
			fprintf(f, "iofence_vxlan_tunnel_%s_total{", what[w]);
			label(f, "outer_src", src);
			fputc(',', f);
			label(f, "outer_dst", dst);
			fprintf(f, ",vni=\"%u\",direction=\"%s\"} %llu\n", t->key.vni,
				dir_name(t->key.dir),
				(unsigned long long)(w ? t->count.bytes : t->count.packets));
		}
	}
	fprintf(f,
		"# HELP iofence_vxlan_packets_total Packets to a VXLAN port by outcome.\n"
		"# TYPE iofence_vxlan_packets_total counter\n"
		"iofence_vxlan_packets_total{outcome=\"vxlan\"} %llu\n"
		"iofence_vxlan_packets_total{outcome=\"malformed\"} %llu\n"
		"iofence_vxlan_packets_total{outcome=\"non_vxlan\"} %llu\n"
		"# HELP iofence_vxlan_evictions_total Entries pushed out of a full table.\n"
		"# TYPE iofence_vxlan_evictions_total counter\n"
		"iofence_vxlan_evictions_total{table=\"tunnel\"} %llu\n",
		(unsigned long long)s.stats[VXT_STAT_PACKETS],
		(unsigned long long)s.stats[VXT_STAT_MALFORMED],
		(unsigned long long)s.stats[VXT_STAT_NON_VXLAN],
		(unsigned long long)s.tunnel_evictions);
	vxt_snapshot_free(&s);
}
