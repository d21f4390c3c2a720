// SPDX-License-Identifier: Apache-2.0
/*
 * Polls every agent in parallel: a thread per agent for the periodic reads, a thread per
 * agent for its deny stream. A failed read marks the node unreachable at once and drops the
 * channel, so that the next poll reconnects without gRPC's reconnect backoff in the way.
 * In cluster mode a thread reads the status keys every period: without --agent they also
 * say which agents there are, so a node that joins later gets its pollers then.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/etcd/cluster.h"
#include "agent/etcd/etcd.h"
#include "poller.h"

/* A deny stream is renewed this often, so a hung agent cannot hold its thread for long. */
#define STREAM_RENEW_MS 10000

struct poller;

struct worker {
	struct poller *p;
	size_t agent;
	pthread_t poll_thread, deny_thread;
	bool poll_started, deny_started;
	struct rpc_stream *stream; /* under p->lock: the deny stream to cancel at stop */
};

struct poller {
	struct cluster *c;
	const struct dashboard_config *cfg;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping;
	struct worker **workers; /* under lock: added by the datastore thread */
	size_t n_workers, cap_workers;
	struct etcd *etcd; /* cluster mode */
	bool discover;	   /* cluster mode without --agent: agents from the status keys */
	pthread_t datastore_thread;
	bool datastore_started;
};

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Sleeps ms or until stop; returns true when stopping. */
static bool nap(struct poller *p, int ms)
{
	struct timespec ts;
	bool stop;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&p->lock);
	while (!p->stopping)
		if (pthread_cond_timedwait(&p->wake, &p->lock, &ts) == ETIMEDOUT)
			break;
	stop = p->stopping;
	pthread_mutex_unlock(&p->lock);
	return stop;
}

static bool stopping(struct poller *p)
{
	bool s;

	pthread_mutex_lock(&p->lock);
	s = p->stopping;
	pthread_mutex_unlock(&p->lock);
	return s;
}

/* One unary call; 0 with *ret, or a reason in why. */
static int call(grpc_channel *ch, const char *method, const ProtobufCMessage *req,
		const ProtobufCMessageDescriptor *desc, int deadline_ms, ProtobufCMessage **ret,
		grpc_status_code *ret_status, char *why, size_t why_len)
{
	struct rpc_result res;
	int r = rpc_unary(ch, method, req, desc, deadline_ms, ret, &res);

	*ret_status = res.status;
	if (!r && res.status != GRPC_STATUS_OK)
		r = -EIO;
	if (r)
		snprintf(why, why_len, "%s: %s%s%s", strrchr(method, '/') + 1,
			 r == -EPROTO ? "bad answer" : rpc_status_name(res.status),
			 res.details && *res.details ? ": " : "", res.details ? res.details : "");
	rpc_result_free(&res);
	return r;
}

static int poll_once(struct worker *w, grpc_channel *ch, char *why, size_t why_len)
{
	const int dl = w->p->cfg->deadline_ms;
	Iofence__V1__GetStatusRequest sreq = IOFENCE__V1__GET_STATUS_REQUEST__INIT;
	Iofence__V1__GetCountersRequest creq = IOFENCE__V1__GET_COUNTERS_REQUEST__INIT;
	Iofence__V1__GetTunnelsRequest treq = IOFENCE__V1__GET_TUNNELS_REQUEST__INIT;
	Iofence__V1__GetStatusResponse *status = NULL;
	Iofence__V1__GetCountersResponse *counters = NULL;
	Iofence__V1__GetTunnelsResponse *tunnels = NULL;
	grpc_status_code code;
	char ignored[64];

	if (call(ch, RPC_METHOD_GET_STATUS, &sreq.base,
		 &iofence__v1__get_status_response__descriptor, dl, (ProtobufCMessage **)&status,
		 &code, why, why_len))
		return -EIO;
	if (call(ch, RPC_METHOD_GET_COUNTERS, &creq.base,
		 &iofence__v1__get_counters_response__descriptor, dl,
		 (ProtobufCMessage **)&counters, &code, why, why_len)) {
		iofence__v1__get_status_response__free_unpacked(status, NULL);
		return -EIO;
	}
	/* No tracing module (or an agent without the call): a node without tunnels. */
	treq.top_inner = 50;
	call(ch, RPC_METHOD_GET_TUNNELS, &treq.base, &iofence__v1__get_tunnels_response__descriptor,
	     dl, (ProtobufCMessage **)&tunnels, &code, ignored, sizeof(ignored));
	cluster_poll_ok(w->p->c, w->agent, status, counters, tunnels, realtime_ns());
	return 0;
}

static void *poll_loop(void *arg)
{
	struct worker *w = arg;
	const struct dashboard_config *cfg = w->p->cfg;
	grpc_channel *ch = NULL;
	unsigned gen = 0, now_gen;
	char why[160], addr[256];

	do {
		cluster_agent_addr(w->p->c, w->agent, addr, sizeof(addr), &now_gen);
		if (ch && now_gen != gen) { /* the node's agent moved */
			grpc_channel_destroy(ch);
			ch = NULL;
		}
		gen = now_gen;
		if (!ch)
			ch = rpc_channel_open(addr, &cfg->tls, why, sizeof(why));
		if (!ch || poll_once(w, ch, why, sizeof(why))) {
			cluster_poll_failed(w->p->c, w->agent, why);
			if (ch)
				grpc_channel_destroy(ch);
			ch = NULL;
		}
	} while (!nap(w->p, cfg->poll_ms));
	if (ch)
		grpc_channel_destroy(ch);
	return NULL;
}

static void follow_denies(struct worker *w, grpc_channel *ch)
{
	Iofence__V1__WatchFlowsRequest req = IOFENCE__V1__WATCH_FLOWS_REQUEST__INIT;
	Iofence__V1__FlowEvent *ev;
	struct rpc_stream *st;

	req.verdict = "deny";
	if (rpc_stream_open(ch, RPC_METHOD_WATCH_FLOWS, &req.base, STREAM_RENEW_MS, &st))
		return;
	pthread_mutex_lock(&w->p->lock);
	w->stream = st;
	if (w->p->stopping)
		rpc_stream_cancel(st);
	pthread_mutex_unlock(&w->p->lock);
	while (rpc_stream_next(st, &iofence__v1__flow_event__descriptor, (ProtobufCMessage **)&ev) >
	       0) {
		cluster_add_deny(w->p->c, w->agent, ev);
		iofence__v1__flow_event__free_unpacked(ev, NULL);
	}
	pthread_mutex_lock(&w->p->lock);
	w->stream = NULL;
	pthread_mutex_unlock(&w->p->lock);
	rpc_stream_close(st, NULL);
}

static void *deny_loop(void *arg)
{
	struct worker *w = arg;
	char why[160], addr[256];
	unsigned gen;

	while (!stopping(w->p)) {
		grpc_channel *ch;

		cluster_agent_addr(w->p->c, w->agent, addr, sizeof(addr), &gen);
		ch = rpc_channel_open(addr, &w->p->cfg->tls, why, sizeof(why));

		if (ch) {
			follow_denies(w, ch);
			grpc_channel_destroy(ch);
		}
		if (nap(w->p, 500))
			break;
	}
	return NULL;
}

/* Starts the pollers of agent I (lock not held). */
static int add_worker(struct poller *p, size_t agent)
{
	struct worker *w = calloc(1, sizeof(*w));
	int r = 0;

	if (!w)
		return -ENOMEM;
	w->p = p;
	w->agent = agent;
	pthread_mutex_lock(&p->lock);
	if (p->n_workers == p->cap_workers) {
		size_t cap = p->cap_workers ? 2 * p->cap_workers : 8;
		void *n = realloc(p->workers, cap * sizeof(*p->workers));

		if (!n) {
			pthread_mutex_unlock(&p->lock);
			free(w);
			return -ENOMEM;
		}
		p->workers = n;
		p->cap_workers = cap;
	}
	p->workers[p->n_workers++] = w; /* joined at stop, started or not */
	w->poll_started = !pthread_create(&w->poll_thread, NULL, poll_loop, w);
	w->deny_started = !pthread_create(&w->deny_thread, NULL, deny_loop, w);
	if (!w->poll_started || !w->deny_started)
		r = -EAGAIN;
	pthread_mutex_unlock(&p->lock);
	return r;
}

/* Discovery: agents for the nodes whose status keys are new (or whose agent moved). */
static void follow_nodes(struct poller *p, Iofence__V1__NodeStatus **st, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *addr = cluster_status_agent(st[i]);
		bool added;
		long k;

		if (!addr)
			continue;
		k = cluster_add_node(p->c, st[i]->node, addr, &added);
		free(addr);
		if (k >= 0 && added && add_worker(p, (size_t)k))
			fprintf(stderr, "iofencectl dashboard: node %s: cannot start its pollers\n",
				st[i]->node);
	}
}

/* Cluster mode: the status keys, every poll period. */
static void *datastore_loop(void *arg)
{
	struct poller *p = arg;
	const struct dashboard_config *cfg = p->cfg;
	char why[160];

	do {
		Iofence__V1__NodeStatus **st;
		size_t n;

		if (cluster_read_statuses(p->etcd, cfg->etcd_prefix, cfg->deadline_ms, &st, &n, why,
					  sizeof(why))) {
			cluster_datastore(p->c, NULL, 0, why);
			continue;
		}
		if (p->discover)
			follow_nodes(p, st, n);
		cluster_datastore(p->c, st, n, NULL);
	} while (!nap(p, cfg->poll_ms));
	return NULL;
}

struct poller *poller_start(struct cluster *c, const struct dashboard_config *cfg, bool discover)
{
	struct poller *p = calloc(1, sizeof(*p));
	size_t n = cluster_n_agents(c);
	char why[160];

	if (!p)
		return NULL;
	p->c = c;
	p->cfg = cfg;
	p->discover = discover;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	for (size_t i = 0; i < n; i++)
		if (add_worker(p, i)) {
			poller_stop(p);
			errno = EAGAIN;
			return NULL;
		}
	if (cfg->etcd_endpoints) {
		if (etcd_open(cfg->etcd_endpoints, &cfg->etcd_tls, &p->etcd, why, sizeof(why))) {
			fprintf(stderr, "iofencectl dashboard: --etcd-endpoints: %s\n", why);
			poller_stop(p);
			errno = EINVAL;
			return NULL;
		}
		p->datastore_started =
		    !pthread_create(&p->datastore_thread, NULL, datastore_loop, p);
		if (!p->datastore_started) {
			poller_stop(p);
			errno = EAGAIN;
			return NULL;
		}
	}
	return p;
}

void poller_stop(struct poller *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
	/* The datastore thread first: it is the one that adds workers. */
	if (p->datastore_started)
		pthread_join(p->datastore_thread, NULL);
	etcd_close(p->etcd);
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < p->n_workers; i++)
		if (p->workers[i]->stream)
			rpc_stream_cancel(p->workers[i]->stream);
	pthread_mutex_unlock(&p->lock);
	for (size_t i = 0; i < p->n_workers; i++) {
		struct worker *w = p->workers[i];

		if (w->poll_started)
			pthread_join(w->poll_thread, NULL);
		if (w->deny_started)
			pthread_join(w->deny_thread, NULL);
		free(w);
	}
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->wake);
	free(p->workers);
	free(p);
}
