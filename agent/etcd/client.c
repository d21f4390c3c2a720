// SPDX-License-Identifier: Apache-2.0
/*
 * etcd client: the endpoint list, one channel per endpoint (created on first use, short
 * reconnect backoff so that a restarted member is used again within seconds) and unary calls
 * that move on to the next endpoint when one is unreachable or has no leader.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/support/time.h>

#include "etcd_internal.h"

struct etcd_ep {
	char *url;  /* as given, with scheme */
	char *addr; /* HOST:PORT for gRPC */
	bool tls;
	grpc_channel *ch;
	/* watches on a connection of their own: a thread waiting for its watch events is then
	 * not woken by the answers of unary calls on the other (gRPC's poll engine wakes every
	 * thread that polls a socket) */
	grpc_channel *watch_ch;
};

/* Completion queues kept for unary calls (lock): a call takes one, or makes one when none is
 * free, and gives it back; a queue per call cost the core a pollset and an eventfd each. */
#define ETCD_SPARE_QUEUES 4

struct etcd {
	char *list;
	struct etcd_ep *eps;
	size_t n;
	size_t cur;
	struct rpc_tls tls;
	pthread_mutex_t lock;
	grpc_completion_queue *spare[ETCD_SPARE_QUEUES];
	size_t n_spare;
};

int etcd_open(const char *endpoints, const struct rpc_tls *tls, struct etcd **ret, char *err,
	      size_t err_len)
{
	struct etcd *c = calloc(1, sizeof(*c));
	char *copy = endpoints ? strdup(endpoints) : NULL, *save = NULL, *tok;

	if (!c || !copy) {
		free(c);
		free(copy);
		return -ENOMEM;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->list = strdup(endpoints);
	if (tls)
		c->tls = *tls;
	for (tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		struct etcd_ep *n = realloc(c->eps, (c->n + 1) * sizeof(*n));
		const char *hp = tok;
		bool is_tls = false;

		if (!n)
			goto nomem;
		c->eps = n;
		if (!strncmp(tok, "http://", 7))
			hp = tok + 7;
		else if (!strncmp(tok, "https://", 8)) {
			hp = tok + 8;
			is_tls = true;
		}
		if (!*hp || !strchr(hp, ':') || strchr(hp, '/') != strrchr(hp, '/')) {
			snprintf(err, err_len, "etcd endpoint \"%s\" is not http://HOST:PORT", tok);
			free(copy);
			etcd_close(c);
			return -EINVAL;
		}
		if (is_tls && !c->tls.ca) {
			snprintf(err, err_len, "etcd endpoint %s needs --etcd-ca", tok);
			free(copy);
			etcd_close(c);
			return -EINVAL;
		}
		memset(&c->eps[c->n], 0, sizeof(c->eps[c->n]));
		c->eps[c->n].url = strdup(tok);
		c->eps[c->n].addr = strndup(hp, strcspn(hp, "/"));
		c->eps[c->n].tls = is_tls;
		c->n++;
		if (!c->eps[c->n - 1].url || !c->eps[c->n - 1].addr)
			goto nomem;
	}
	free(copy);
	if (!c->n) {
		snprintf(err, err_len, "no etcd endpoint given");
		etcd_close(c);
		return -EINVAL;
	}
	*ret = c;
	return 0;
nomem:
	free(copy);
	etcd_close(c);
	return -ENOMEM;
}

static void destroy_queue(grpc_completion_queue *cq)
{
	grpc_completion_queue_shutdown(cq);
	while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
	       GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(cq);
}

grpc_completion_queue *etcd_take_queue(struct etcd *c)
{
	grpc_completion_queue *cq = NULL;

	pthread_mutex_lock(&c->lock);
	if (c->n_spare)
		cq = c->spare[--c->n_spare];
	pthread_mutex_unlock(&c->lock);
	return cq ? cq : grpc_completion_queue_create_for_pluck(NULL);
}

void etcd_give_queue(struct etcd *c, grpc_completion_queue *cq)
{
	pthread_mutex_lock(&c->lock);
	if (c->n_spare < ETCD_SPARE_QUEUES) {
		c->spare[c->n_spare++] = cq;
		cq = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	if (cq)
		destroy_queue(cq);
}

void etcd_close(struct etcd *c)
{
	if (!c)
		return;
	while (c->n_spare)
		destroy_queue(c->spare[--c->n_spare]);
	for (size_t i = 0; i < c->n; i++) {
		if (c->eps[i].ch)
			grpc_channel_destroy(c->eps[i].ch);
		if (c->eps[i].watch_ch)
			grpc_channel_destroy(c->eps[i].watch_ch);
		free(c->eps[i].url);
		free(c->eps[i].addr);
	}
	free(c->eps);
	free(c->list);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

const char *etcd_current(const struct etcd *c)
{
	return c->eps[c->cur % c->n].url;
}

const char *etcd_endpoints(const struct etcd *c)
{
	return c->list;
}

/* The channel of endpoint i, or its watch channel (created on first use). Caller holds
 * c->lock. */
static grpc_channel *channel_of(struct etcd *c, size_t i, bool watch, char *err, size_t err_len)
{
	struct etcd_ep *ep = &c->eps[i];
	grpc_arg extra[] = {
	    {.type = GRPC_ARG_INTEGER,
	     .key = (char *)GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
	     .value.integer = 200},
	    /* gRPC core also takes this as the deadline of one connection attempt: at 200 ms an
	     * HTTP/2 handshake under load (or valgrind) timed out before etcd's SETTINGS frame */
	    {.type = GRPC_ARG_INTEGER,
	     .key = (char *)GRPC_ARG_MIN_RECONNECT_BACKOFF_MS,
	     .value.integer = 3000},
	    {.type = GRPC_ARG_INTEGER,
	     .key = (char *)GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
	     .value.integer = 2000},
	    /* etcd refuses pings more often than every 5 s (--grpc-keepalive-min-time) */
	    {.type = GRPC_ARG_INTEGER, .key = (char *)GRPC_ARG_KEEPALIVE_TIME_MS, .value.integer = 10000},
	    {.type = GRPC_ARG_INTEGER, .key = (char *)GRPC_ARG_KEEPALIVE_TIMEOUT_MS, .value.integer = 5000},
	    /* no BDP probe: it pings after received data, a round trip and its wake-ups for
	     * every watch event; the messages here are small, the default window fits them */
	    {.type = GRPC_ARG_INTEGER, .key = (char *)GRPC_ARG_HTTP2_BDP_PROBE, .value.integer = 0},
	    /* no idle filter (INT_MAX: never idle): it arms a timer each time the channel's last
	     * call ends, every status put */
	    {.type = GRPC_ARG_INTEGER,
	     .key = (char *)GRPC_ARG_CLIENT_IDLE_TIMEOUT_MS,
	     .value.integer = INT_MAX},
	    /* last: a connection not shared with the other channel (watch channels only) */
	    {.type = GRPC_ARG_INTEGER,
	     .key = (char *)GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL,
	     .value.integer = 1},
	};
	size_t n = sizeof(extra) / sizeof(extra[0]) - (watch ? 0 : 1);
	grpc_channel **ch = watch ? &ep->watch_ch : &ep->ch;
	struct rpc_tls none = {0};

	if (!*ch)
		*ch = rpc_channel_open_ex(ep->addr, ep->tls ? &c->tls : &none, extra, n, err,
					  err_len);
	return *ch;
}



/* The channel to try on attempt N (0 = the current endpoint); sets it current. */
grpc_channel *etcd_channel(struct etcd *c, size_t attempt, char *err, size_t err_len)
{
	grpc_channel *ch;
	size_t i;

	pthread_mutex_lock(&c->lock);
	i = (c->cur + attempt) % c->n;
	c->cur = i;
	ch = channel_of(c, i, false, err, err_len);
	pthread_mutex_unlock(&c->lock);
	return ch;
}

grpc_channel *etcd_watch_channel(struct etcd *c, char *err, size_t err_len)
{
	grpc_channel *ch;

	pthread_mutex_lock(&c->lock);
	ch = channel_of(c, c->cur % c->n, true, err, err_len);
	pthread_mutex_unlock(&c->lock);
	return ch;
}


size_t etcd_count(const struct etcd *c)
{
	return c->n;
}

bool etcd_retryable(grpc_status_code st)
{
	return st == GRPC_STATUS_UNAVAILABLE || st == GRPC_STATUS_DEADLINE_EXCEEDED ||
	       st == GRPC_STATUS_CANCELLED || st == GRPC_STATUS_UNKNOWN;
}

int etcd_call(struct etcd *c, const char *method, const ProtobufCMessage *req,
	      const ProtobufCMessageDescriptor *desc, int timeout_ms, ProtobufCMessage **ret,
	      char *err, size_t err_len)
{
	grpc_completion_queue *cq = etcd_take_queue(c);
	int r = -EAGAIN;

	*ret = NULL;
	snprintf(err, err_len, "no etcd endpoint");
	for (size_t attempt = 0; attempt < c->n; attempt++) {
		struct rpc_result res;
		grpc_channel *ch = etcd_channel(c, attempt ? 1 : 0, err, err_len);
		int lr;

		if (!ch) {
			r = -EINVAL;
			break;
		}
		/* no deadline on the call itself: a timer armed and cancelled per call, and
		 * its wake-ups, for what a bounded wait does as well */
		lr = rpc_unary_on(ch, cq, method, req, desc, timeout_ms, ret, &res);
		if (lr == -ENOMEM) {
			rpc_result_free(&res);
			r = lr;
			break;
		}
		if (res.status == GRPC_STATUS_OK) {
			rpc_result_free(&res);
			if (lr)
				snprintf(err, err_len, "%s: the answer does not parse",
					 etcd_current(c));
			r = lr ? -EPROTO : 0;
			break;
		}
		snprintf(err, err_len, "etcd %s: %s%s%s", etcd_current(c),
			 rpc_status_name(res.status), res.details && *res.details ? ": " : "",
			 res.details ? res.details : "");
		r = etcd_retryable(res.status) ? -EAGAIN : -EIO;
		rpc_result_free(&res);
		if (r != -EAGAIN)
			break;
	}
	etcd_give_queue(c, cq);
	return r;
}

void etcd_rotate(struct etcd *c)
{
	pthread_mutex_lock(&c->lock);
	c->cur = (c->cur + 1) % c->n;
	pthread_mutex_unlock(&c->lock);
}

/* Waits until ch is connected or the deadline passes, making it connect. */
static bool wait_ready(grpc_channel *ch, gpr_timespec deadline)
{
	grpc_connectivity_state st = grpc_channel_check_connectivity_state(ch, 1);
	grpc_completion_queue *cq;

	if (st == GRPC_CHANNEL_READY)
		return true;
	cq = grpc_completion_queue_create_for_pluck(NULL);
	/* each change of state ends one watch: until connected or the deadline */
	while (st != GRPC_CHANNEL_READY && st != GRPC_CHANNEL_SHUTDOWN &&
	       gpr_time_cmp(gpr_now(GPR_CLOCK_MONOTONIC), deadline) < 0) {
		grpc_channel_watch_connectivity_state(ch, st, deadline, cq, (void *)1);
		while (grpc_completion_queue_pluck(cq, (void *)1, gpr_inf_future(GPR_CLOCK_REALTIME),
						   NULL)
			   .type != GRPC_OP_COMPLETE)
			;
		st = grpc_channel_check_connectivity_state(ch, 1);
	}
	grpc_completion_queue_shutdown(cq);
	while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
	       GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(cq);
	return st == GRPC_CHANNEL_READY;
}

bool etcd_wait_connected(struct etcd *c, int wait_ms)
{
	gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
					     gpr_time_from_millis(wait_ms, GPR_TIMESPAN));
	grpc_channel *watch, *unary;
	char err[256];

	watch = etcd_watch_channel(c, err, sizeof(err));
	unary = etcd_channel(c, 0, err, sizeof(err));
	return watch && unary && wait_ready(watch, deadline) && wait_ready(unary, deadline);
}
