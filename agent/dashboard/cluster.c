// SPDX-License-Identifier: Apache-2.0
/*
 * The dashboard's model: each agent's last answers, a ring of counter and tunnel samples for
 * rates, the recent denies of its flow stream, and the underlay addresses it was seen using.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/etcd/cluster.h"
#include "cluster.h"

/* Appends an agent at addr (lock held or not yet shared); its index or -ENOMEM. */
static long add_agent(struct cluster *c, const char *addr, const char *node)
{
	struct cluster_agent *a;

	if (c->n_agents == c->cap_agents) {
		size_t cap = c->cap_agents ? 2 * c->cap_agents : 8;
		void *p = realloc(c->agents, cap * sizeof(*c->agents));

		if (!p)
			return -ENOMEM;
		c->agents = p;
		c->cap_agents = cap;
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->addr = strdup(addr);
	a->node = node ? strdup(node) : NULL;
	if (!a->addr || (node && !a->node)) {
		free(a->addr);
		free(a->node);
		free(a);
		return -ENOMEM;
	}
	snprintf(a->error, sizeof(a->error), "not polled yet");
	c->agents[c->n_agents] = a;
	return (long)c->n_agents++;
}

int cluster_init(struct cluster *c, const char *const *addrs, size_t n)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	for (size_t i = 0; i < n; i++)
		if (add_agent(c, addrs[i], NULL) < 0)
			return -ENOMEM;
	return 0;
}

long cluster_add_node(struct cluster *c, const char *node, const char *addr, bool *ret_new)
{
	long r = -1;

	*ret_new = false;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n_agents && r < 0; i++) {
		struct cluster_agent *a = c->agents[i];

		if (!a->node || strcmp(a->node, node))
			continue;
		r = (long)i;
		if (strcmp(a->addr, addr)) {
			char *moved = strdup(addr);

			if (!moved) {
				r = -ENOMEM;
				break;
			}
			free(a->addr);
			a->addr = moved;
			a->addr_gen++;
		}
	}
	if (r == -1) {
		r = add_agent(c, addr, node);
		*ret_new = r >= 0;
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

void cluster_agent_addr(struct cluster *c, size_t i, char *buf, size_t len, unsigned *ret_gen)
{
	pthread_mutex_lock(&c->lock);
	snprintf(buf, len, "%s", c->agents[i]->addr);
	*ret_gen = c->agents[i]->addr_gen;
	pthread_mutex_unlock(&c->lock);
}

size_t cluster_n_agents(struct cluster *c)
{
	size_t n;

	pthread_mutex_lock(&c->lock);
	n = c->n_agents;
	pthread_mutex_unlock(&c->lock);
	return n;
}

static void sample_free(struct cluster_sample *s)
{
	if (s->counters)
		iofence__v1__get_counters_response__free_unpacked(s->counters, NULL);
	if (s->tunnels)
		iofence__v1__get_tunnels_response__free_unpacked(s->tunnels, NULL);
	memset(s, 0, sizeof(*s));
}

void cluster_free(struct cluster *c)
{
	for (size_t i = 0; i < c->n_agents; i++) {
		struct cluster_agent *a = c->agents[i];

		for (unsigned j = 0; j < CLUSTER_HISTORY; j++)
			sample_free(&a->hist[j]);
		if (a->status)
			iofence__v1__get_status_response__free_unpacked(a->status, NULL);
		free(a->addr);
		free(a->node);
		free(a);
	}
	free(c->agents);
	cluster_statuses_free(c->ds_status, c->n_ds_status);
	pthread_mutex_destroy(&c->lock);
}

static void learn_underlay(struct cluster_agent *a, const char *addr)
{
	if (!addr || !*addr)
		return;
	for (unsigned i = 0; i < a->n_underlay; i++)
		if (!strcmp(a->underlay[i], addr))
			return;
	if (a->n_underlay < CLUSTER_ADDRS)
		snprintf(a->underlay[a->n_underlay++], sizeof(a->underlay[0]), "%s", addr);
}

void cluster_poll_ok(struct cluster *c, size_t agent, Iofence__V1__GetStatusResponse *status,
		     Iofence__V1__GetCountersResponse *counters,
		     Iofence__V1__GetTunnelsResponse *tunnels, uint64_t time_ns)
{
	struct cluster_agent *a;
	struct cluster_sample *s;

	pthread_mutex_lock(&c->lock);
	a = c->agents[agent];
	a->polled = a->reachable = true;
	a->error[0] = 0;
	if (a->status)
		iofence__v1__get_status_response__free_unpacked(a->status, NULL);
	a->status = status;
	/* A node's own underlay addresses: the source of what it sends, the target of what
	 * it receives. They stay known when the node stops answering. */
	for (size_t i = 0; tunnels && i < tunnels->n_tunnels; i++) {
		const Iofence__V1__TunnelStats *t = tunnels->tunnels[i];

		learn_underlay(a, strcmp(t->direction, "egress") ? t->outer_dst : t->outer_src);
	}
	a->head = a->n_hist ? (a->head + 1) % CLUSTER_HISTORY : 0;
	if (a->n_hist < CLUSTER_HISTORY)
		a->n_hist++;
	s = &a->hist[a->head];
	sample_free(s);
	s->time_ns = time_ns;
	s->counters = counters;
	s->tunnels = tunnels;
	pthread_mutex_unlock(&c->lock);
}

void cluster_poll_failed(struct cluster *c, size_t agent, const char *why)
{
	struct cluster_agent *a;

	pthread_mutex_lock(&c->lock);
	a = c->agents[agent];
	a->polled = true;
	a->reachable = false;
	snprintf(a->error, sizeof(a->error), "%s", why);
	/* Rates restart from the next answer: a gap must not read as a burst. */
	for (unsigned j = 0; j < CLUSTER_HISTORY; j++)
		sample_free(&a->hist[j]);
	a->n_hist = a->head = 0;
	pthread_mutex_unlock(&c->lock);
}

void cluster_datastore(struct cluster *c, Iofence__V1__NodeStatus **statuses, size_t n,
		       const char *why)
{
	pthread_mutex_lock(&c->lock);
	c->ds_ok = statuses != NULL;
	snprintf(c->ds_error, sizeof(c->ds_error), "%s", statuses ? "" : why);
	/* Unreadable: keep the last statuses, the page says the datastore is unreachable. */
	if (statuses) {
		cluster_statuses_free(c->ds_status, c->n_ds_status);
		c->ds_status = statuses;
		c->n_ds_status = n;
	}
	pthread_mutex_unlock(&c->lock);
}

void cluster_add_deny(struct cluster *c, size_t agent, const Iofence__V1__FlowEvent *ev)
{
	struct cluster_agent *a;
	struct cluster_deny *d;

	pthread_mutex_lock(&c->lock);
	a = c->agents[agent];
	a->deny_head = a->n_denies ? (a->deny_head + 1) % CLUSTER_DENIES : 0;
	if (a->n_denies < CLUSTER_DENIES)
		a->n_denies++;
	d = &a->denies[a->deny_head];
	memset(d, 0, sizeof(*d));
	d->time_ns = ev->time_unix_nano;
	snprintf(d->endpoint, sizeof(d->endpoint), "%s", ev->endpoint);
	snprintf(d->direction, sizeof(d->direction), "%s", ev->direction);
	snprintf(d->reason, sizeof(d->reason), "%s", ev->reason);
	snprintf(d->protocol, sizeof(d->protocol), "%s", ev->protocol);
	snprintf(d->src, sizeof(d->src), "%s", ev->src);
	snprintf(d->dst, sizeof(d->dst), "%s", ev->dst);
	snprintf(d->rule, sizeof(d->rule), "%s", ev->rule);
	d->sport = ev->sport;
	d->dport = ev->dport;
	pthread_mutex_unlock(&c->lock);
}
