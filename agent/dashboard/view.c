// SPDX-License-Identifier: Apache-2.0
/*
 * The view of the cluster a page shows, computed from the model: per node its health and
 * rates (over the sample history), per pair of nodes one tunnel with its rate each way, its
 * top inner flows and the denies between the two nodes' workloads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster.h"

#define VIEW_EXTRA 16 /* underlay peers that no polled agent owns, shown as unknown nodes */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const struct cluster_sample *newest(const struct cluster_agent *a)
{
	return a->n_hist ? &a->hist[a->head] : NULL;
}

/* The oldest sample kept, if older than the newest: the base of every rate. */
static const struct cluster_sample *base(const struct cluster_agent *a)
{
	if (a->n_hist < 2)
		return NULL;
	return &a->hist[(a->head + CLUSTER_HISTORY - (a->n_hist - 1)) % CLUSTER_HISTORY];
}

static double rate(uint64_t now, uint64_t then, const struct cluster_sample *n,
		   const struct cluster_sample *b)
{
	if (!b || n->time_ns <= b->time_ns || now < then)
		return 0;
	return (double)(now - then) * 1e9 / (double)(n->time_ns - b->time_ns);
}

static uint64_t cbytes(const Iofence__V1__Counter *c)
{
	return c ? c->bytes : 0;
}

static uint64_t cpackets(const Iofence__V1__Counter *c)
{
	return c ? c->packets : 0;
}

struct endpoint_sums {
	uint64_t allowed_bytes, denied_packets;
};

static struct endpoint_sums sum_endpoints(const Iofence__V1__GetCountersResponse *r)
{
	struct endpoint_sums s = {0};

	for (size_t i = 0; r && i < r->n_endpoints; i++) {
		const Iofence__V1__EndpointCounters *e = r->endpoints[i];

		s.allowed_bytes += cbytes(e->ingress_allowed) + cbytes(e->egress_allowed);
		s.denied_packets += cpackets(e->ingress_denied) + cpackets(e->egress_denied);
	}
	return s;
}

static uint64_t drop_total(const Iofence__V1__GetCountersResponse *r, const char *reason)
{
	for (size_t i = 0; r && i < r->n_drops; i++)
		if (!strcmp(r->drops[i]->reason, reason))
			return r->drops[i]->packets;
	return 0;
}

static void node_counters(struct view_node *vn, const struct cluster_agent *a)
{
	const struct cluster_sample *n = newest(a), *b = base(a);
	struct endpoint_sums sn, sb;

	if (!n || !n->counters)
		return;
	sn = sum_endpoints(n->counters);
	sb = sum_endpoints(b ? b->counters : NULL);
	vn->allowed_bps = rate(sn.allowed_bytes, sb.allowed_bytes, n, b);
	vn->denied_pps = rate(sn.denied_packets, sb.denied_packets, n, b);
	for (size_t i = 0; i < n->counters->n_drops && vn->n_drops < VIEW_DROPS; i++) {
		const Iofence__V1__DropReason *d = n->counters->drops[i];
		struct view_drop *vd = &vn->drops[vn->n_drops++];

		snprintf(vd->reason, sizeof(vd->reason), "%s", d->reason);
		vd->total = d->packets;
		vd->pps = rate(d->packets, drop_total(b ? b->counters : NULL, d->reason), n, b);
	}
}

static const Iofence__V1__NodeStatus *status_key(const struct cluster *c, const char *node)
{
	for (size_t i = 0; i < c->n_ds_status; i++)
		if (!strcmp(c->ds_status[i]->node, node))
			return c->ds_status[i];
	return NULL;
}

/*
 * Cluster mode: the node's rollout state from its status key; false if it says nothing new.
 * A node without a key (its lease expired) is absent whether its agent answers or not; the
 * rest of the key's story only for an agent that answers (else it is unreachable).
 */
static bool node_rollout(struct view_node *vn, const struct cluster *c,
			 const struct cluster_agent *a, uint64_t revision)
{
	const Iofence__V1__NodeStatus *st = status_key(c, vn->name);

	if (!c->ds_enabled || !c->ds_ok)
		return false;
	if (!st) {
		vn->health = "absent";
		snprintf(vn->detail, sizeof(vn->detail), "no status key in the datastore%s%s",
			 a->reachable ? "" : "; agent: ", a->reachable ? "" : a->error);
	} else if (!a->reachable) {
		return false;
	} else if (*st->error && st->failed_revision > st->applied_revision) {
		vn->health = "failed";
		snprintf(vn->detail, sizeof(vn->detail), "revision %llu failed: %s",
			 (unsigned long long)st->failed_revision, st->error);
	} else if (st->applied_revision < revision) {
		vn->health = "pending";
		snprintf(vn->detail, sizeof(vn->detail), "enforces revision %llu of %llu",
			 (unsigned long long)st->applied_revision, (unsigned long long)revision);
	} else if (!st->connected) {
		vn->health = "pending";
		snprintf(vn->detail, sizeof(vn->detail),
			 "not connected to the datastore: enforcing revision %llu",
			 (unsigned long long)st->applied_revision);
	} else {
		return false;
	}
	return true;
}

static void node_status(struct view_node *vn, const struct cluster_agent *a, uint64_t revision)
{
	const Iofence__V1__GetStatusResponse *s = a->status;

	snprintf(vn->agent, sizeof(vn->agent), "%s", a->addr);
	snprintf(vn->name, sizeof(vn->name), "%s",
		 s && *s->node ? s->node : a->node ? a->node : a->addr);
	if (s) {
		vn->revision = s->revision;
		vn->uptime = s->uptime_seconds;
		vn->endpoints = (unsigned)s->n_endpoints;
		for (size_t i = 0; i < s->n_endpoints; i++)
			vn->enforced += s->endpoints[i]->enforced;
	}
	vn->tracing = newest(a) && newest(a)->tunnels && newest(a)->tunnels->enabled;
	if (!a->reachable) {
		vn->health = "unreachable";
		snprintf(vn->detail, sizeof(vn->detail), "%s", a->error);
	} else if (!vn->revision) {
		vn->health = "pending";
		snprintf(vn->detail, sizeof(vn->detail), "no policy applied");
	} else if (vn->revision < revision) {
		vn->health = "pending";
		snprintf(vn->detail, sizeof(vn->detail), "enforces revision %llu of %llu",
			 (unsigned long long)vn->revision, (unsigned long long)revision);
	} else if (vn->enforced < vn->endpoints) {
		vn->health = "pending";
		snprintf(vn->detail, sizeof(vn->detail), "%u of %u endpoints enforced",
			 vn->enforced, vn->endpoints);
	} else {
		vn->health = "converged";
		snprintf(vn->detail, sizeof(vn->detail), "revision %llu enforced",
			 (unsigned long long)vn->revision);
	}
}

/* The node that owns an underlay address: an agent, else an unknown node added for it. */
static int underlay_owner(struct cluster *c, struct cluster_view *v, const char *addr)
{
	for (size_t i = 0; i < c->n_agents; i++)
		for (unsigned j = 0; j < c->agents[i]->n_underlay; j++)
			if (!strcmp(c->agents[i]->underlay[j], addr))
				return (int)i;
	for (size_t i = c->n_agents; i < v->n_nodes; i++)
		if (!strcmp(v->nodes[i].name, addr))
			return (int)i;
	if (v->n_nodes >= c->n_agents + VIEW_EXTRA)
		return -1;
	struct view_node *vn = &v->nodes[v->n_nodes];

	snprintf(vn->id, sizeof(vn->id), "node-%zu", v->n_nodes);
	snprintf(vn->name, sizeof(vn->name), "%s", addr);
	vn->health = "unknown";
	snprintf(vn->detail, sizeof(vn->detail), "underlay peer without a polled agent");
	return (int)v->n_nodes++;
}

/* The node whose workload has this address, or -1. */
static int workload_owner(const struct cluster *c, const char *addr)
{
	for (size_t i = 0; i < c->n_agents; i++) {
		const Iofence__V1__GetStatusResponse *s = c->agents[i]->status;

		for (size_t j = 0; s && j < s->n_endpoints; j++)
			for (size_t k = 0; k < s->endpoints[j]->n_addresses; k++)
				if (!strcmp(s->endpoints[j]->addresses[k], addr))
					return (int)i;
	}
	return -1;
}

static struct view_tunnel *tunnel_of(struct cluster_view *v, unsigned x, unsigned y)
{
	unsigned a = x < y ? x : y, b = x < y ? y : x;
	struct view_tunnel *t;

	for (size_t i = 0; i < v->n_tunnels; i++)
		if (v->tunnels[i].a == a && v->tunnels[i].b == b)
			return &v->tunnels[i];
	t = &v->tunnels[v->n_tunnels++];
	t->a = a;
	t->b = b;
	snprintf(t->id, sizeof(t->id), "tunnel-%u-%u", a, b);
	return t;
}

static void top_insert(struct view_flow *top, unsigned *n, const struct view_flow *f)
{
	unsigned i = *n < VIEW_TOP ? (*n)++ : VIEW_TOP;

	if (i == VIEW_TOP) {
		const struct view_flow *last = &top[VIEW_TOP - 1];

		if (f->bps < last->bps || (f->bps == last->bps && f->bytes <= last->bytes))
			return;
		i = VIEW_TOP - 1;
	}
	while (i > 0 && (top[i - 1].bps < f->bps ||
			 (top[i - 1].bps == f->bps && top[i - 1].bytes < f->bytes))) {
		top[i] = top[i - 1];
		i--;
	}
	top[i] = *f;
}

static bool same_tunnel(const Iofence__V1__TunnelStats *x, const Iofence__V1__TunnelStats *y)
{
	return x->vni == y->vni && !strcmp(x->direction, y->direction) &&
	       !strcmp(x->outer_src, y->outer_src) && !strcmp(x->outer_dst, y->outer_dst);
}

static bool same_inner(const Iofence__V1__InnerPair *x, const Iofence__V1__InnerPair *y)
{
	return x->vni == y->vni && x->inner_protocol_number == y->inner_protocol_number &&
	       !strcmp(x->direction, y->direction) && !strcmp(x->outer_src, y->outer_src) &&
	       !strcmp(x->outer_dst, y->outer_dst) && !strcmp(x->inner_src, y->inner_src) &&
	       !strcmp(x->inner_dst, y->inner_dst);
}

/* Whether node `node` reports its own tunnels (then its egress is the truth of what it sent). */
static bool reports_tunnels(const struct cluster *c, int node)
{
	const struct cluster_agent *a;

	if (node < 0 || (size_t)node >= c->n_agents)
		return false;
	a = c->agents[node];
	return a->reachable && newest(a) && newest(a)->tunnels && newest(a)->tunnels->enabled;
}

/* Rates each way: [0] a->b, [1] b->a; what the sender saw wins over what the receiver saw. */
struct pair_rates {
	double sent[2], received[2], sent_pps[2], received_pps[2];
	uint64_t sent_bytes[2], received_bytes[2];
};

static void agent_tunnels(struct cluster *c, struct cluster_view *v, unsigned x,
			  struct pair_rates *pr)
{
	const struct cluster_agent *a = c->agents[x];
	const struct cluster_sample *n = newest(a), *b = base(a);
	const Iofence__V1__GetTunnelsResponse *tn, *tb;

	if (!n || !n->tunnels || !n->tunnels->enabled)
		return;
	tn = n->tunnels;
	tb = b ? b->tunnels : NULL;
	for (size_t i = 0; i < tn->n_tunnels; i++) {
		const Iofence__V1__TunnelStats *t = tn->tunnels[i], *old = NULL;
		bool egress = !strcmp(t->direction, "egress");
		int y = underlay_owner(c, v, egress ? t->outer_dst : t->outer_src);
		struct view_tunnel *vt;
		double bps, pps;
		unsigned dir;

		if (y < 0 || (unsigned)y == x)
			continue;
		for (size_t j = 0; tb && j < tb->n_tunnels && !old; j++)
			if (same_tunnel(t, tb->tunnels[j]))
				old = tb->tunnels[j];
		bps = rate(t->bytes, old ? old->bytes : 0, n, old ? b : NULL);
		pps = rate(t->packets, old ? old->packets : 0, n, old ? b : NULL);
		vt = tunnel_of(v, x, (unsigned)y);
		if (!vt->vni)
			vt->vni = t->vni;
		/* direction of the traffic: sender -> receiver, as index into the pair */
		dir = (egress ? x : (unsigned)y) == vt->a ? 0 : 1;
		if (egress) {
			pr[vt - v->tunnels].sent[dir] += bps;
			pr[vt - v->tunnels].sent_pps[dir] += pps;
			pr[vt - v->tunnels].sent_bytes[dir] += t->bytes;
		} else {
			pr[vt - v->tunnels].received[dir] += bps;
			pr[vt - v->tunnels].received_pps[dir] += pps;
			pr[vt - v->tunnels].received_bytes[dir] += t->bytes;
		}
		v->nodes[x].tunnel_bps += bps;
	}
	for (size_t i = 0; i < tn->n_inner; i++) {
		const Iofence__V1__InnerPair *p = tn->inner[i], *old = NULL;
		bool egress = !strcmp(p->direction, "egress");
		int y = underlay_owner(c, v, egress ? p->outer_dst : p->outer_src);
		struct view_tunnel *vt;
		struct view_flow f = {0};

		/* Each flow once: from its sender, or from its receiver if the sender is silent. */
		if (y < 0 || (unsigned)y == x || (!egress && reports_tunnels(c, y)))
			continue;
		for (size_t j = 0; tb && j < tb->n_inner && !old; j++)
			if (same_inner(p, tb->inner[j]))
				old = tb->inner[j];
		snprintf(f.src, sizeof(f.src), "%s", p->inner_src);
		snprintf(f.dst, sizeof(f.dst), "%s", p->inner_dst);
		snprintf(f.protocol, sizeof(f.protocol), "%s", p->inner_protocol);
		f.vni = p->vni;
		f.bytes = p->bytes;
		f.bps = rate(p->bytes, old ? old->bytes : 0, n, old ? b : NULL);
		vt = tunnel_of(v, x, (unsigned)y);
		top_insert(vt->top, &vt->n_top, &f);
		top_insert(v->nodes[x].top, &v->nodes[x].n_top, &f);
		top_insert(v->nodes[y].top, &v->nodes[y].n_top, &f);
	}
}

static void finish_tunnels(struct cluster *c, struct cluster_view *v, const struct pair_rates *pr)
{
	uint64_t now = v->time_ns;

	for (size_t i = 0; i < v->n_tunnels; i++) {
		struct view_tunnel *t = &v->tunnels[i];
		const struct pair_rates *r = &pr[i];
		double bps[2];

		for (int d = 0; d < 2; d++) {
			bool by_sender = reports_tunnels(c, (int)(d ? t->b : t->a));

			bps[d] = by_sender ? r->sent[d] : r->received[d];
			t->pps += by_sender ? r->sent_pps[d] : r->received_pps[d];
			t->bytes += by_sender ? r->sent_bytes[d] : r->received_bytes[d];
		}
		t->ab_bps = bps[0];
		t->ba_bps = bps[1];
		/* Denies between the two nodes' workloads, newest first. */
		for (unsigned e = 0; e < 2; e++) {
			unsigned x = e ? t->b : t->a;
			const struct cluster_agent *a;

			if (x >= c->n_agents)
				continue;
			a = c->agents[x];
			for (unsigned k = 0; k < a->n_denies; k++) {
				const struct cluster_deny *d =
				    &a->denies[(a->deny_head + CLUSTER_DENIES - k) %
					       CLUSTER_DENIES];
				int s = workload_owner(c, d->src), o = workload_owner(c, d->dst);

				if (s < 0 || o < 0 || s == o ||
				    !(((unsigned)s == t->a && (unsigned)o == t->b) ||
				      ((unsigned)s == t->b && (unsigned)o == t->a)))
					continue;
				if (d->time_ns + VIEW_RECENT_NS >= now)
					t->recent_denies++;
				if (t->n_denies < VIEW_TOP)
					t->denies[t->n_denies++] = *d;
			}
		}
		if ((t->a < c->n_agents && !c->agents[t->a]->reachable) ||
		    (t->b < c->n_agents && !c->agents[t->b]->reachable))
			t->health = "down";
		else if (t->recent_denies)
			t->health = "denies";
		else if (t->ab_bps + t->ba_bps < 1)
			t->health = "idle";
		else
			t->health = "ok";
	}
}

struct cluster_view *cluster_view_build(struct cluster *c)
{
	struct cluster_view *v = calloc(1, sizeof(*v));
	struct pair_rates *pr = NULL;
	size_t max_nodes;

	if (!v)
		return NULL;
	/* Under the lock: the datastore adds nodes as they join. */
	pthread_mutex_lock(&c->lock);
	max_nodes = c->n_agents + VIEW_EXTRA;
	v->nodes = calloc(max_nodes, sizeof(*v->nodes));
	v->tunnels = calloc(max_nodes * max_nodes / 2 + 1, sizeof(*v->tunnels));
	pr = calloc(max_nodes * max_nodes / 2 + 1, sizeof(*pr));
	if (!v->nodes || !v->tunnels || !pr) {
		pthread_mutex_unlock(&c->lock);
		free(pr);
		cluster_view_free(v);
		return NULL;
	}
	v->time_ns = now_ns();
	for (size_t i = 0; i < c->n_agents; i++)
		if (c->agents[i]->reachable && c->agents[i]->status &&
		    c->agents[i]->status->revision > v->revision)
			v->revision = c->agents[i]->status->revision;
	v->datastore = c->ds_enabled;
	v->datastore_ok = c->ds_ok;
	snprintf(v->datastore_error, sizeof(v->datastore_error), "%s", c->ds_error);
	for (size_t i = 0; c->ds_ok && i < c->n_ds_status; i++)
		if (c->ds_status[i]->datastore_revision > v->revision)
			v->revision = c->ds_status[i]->datastore_revision;
	v->n_nodes = c->n_agents;
	for (size_t i = 0; i < c->n_agents; i++) {
		struct view_node *vn = &v->nodes[i];
		const struct cluster_agent *a = c->agents[i];

		snprintf(vn->id, sizeof(vn->id), "node-%zu", i);
		node_status(vn, a, v->revision);
		node_rollout(vn, c, a, v->revision);
		if (a->reachable)
			node_counters(vn, a);
		for (unsigned k = 0; k < a->n_denies && vn->n_denies < VIEW_TOP; k++)
			vn->denies[vn->n_denies++] =
			    a->denies[(a->deny_head + CLUSTER_DENIES - k) % CLUSTER_DENIES];
	}
	for (size_t i = 0; i < c->n_agents; i++)
		if (c->agents[i]->reachable)
			agent_tunnels(c, v, (unsigned)i, pr);
	finish_tunnels(c, v, pr);
	pthread_mutex_unlock(&c->lock);
	free(pr);
	return v;
}

void cluster_view_free(struct cluster_view *v)
{
	if (!v)
		return;
	free(v->nodes);
	free(v->tunnels);
	free(v);
}

void view_fmt_rate(double bps, char *buf, size_t len)
{
	static const char *const units[] = {"B/s", "kB/s", "MB/s", "GB/s"};
	unsigned u = 0;

	while (bps >= 1000 && u < 3) {
		bps /= 1000;
		u++;
	}
	snprintf(buf, len,
		 bps < 10 && u	  ? "%.2f %s"
		 : bps < 100 && u ? "%.1f %s"
				  : "%.0f %s",
		 bps, units[u]);
}
