// SPDX-License-Identifier: Apache-2.0
/*
 * WatchFlows fan-out: verdict records from the ring buffer go into the history
 * (flow_history.h) and to every watcher whose filter matches, through a bounded queue per
 * watcher with one send in flight. A watcher that reads slower than events arrive loses the
 * overflow and is told how many it lost in the next event's events_lost; the event loop never
 * waits for a watcher. A new watcher may first replay from the history (the latest N, all, or
 * everything after a sequence number when a client reconnects); it reads the history at its
 * own pace and joins the live queue once it has caught up.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pthread.h>
#include <stdatomic.h>

#include "agent/datapath/datapath.h"
#include "agent/rpc/rpc.h"
#include "engine.h"
#include "flow_history.h"
#include "flows.h"
#include "log.h"

#define WATCH_QUEUE 1024
#define MAX_WATCHERS 256

struct watcher {
	struct watcher *next;
	struct flow_sink sink;
	char verdict[8];
	char *endpoint; /* NULL: all */
	struct flow_record q[WATCH_QUEUE];
	size_t head, count;
	uint64_t lost;	   /* dropped since the last event sent */
	bool sending;	   /* one send in flight */
	bool removed;	   /* the call ended: free once no send is in flight */
	bool dead;	   /* a send failed: stop sending */
	bool replaying;	   /* reading the history from replay_next, not the live queue */
	bool history_only; /* end the stream once the replay is done */
	bool finished;	   /* the end was sent */
	uint64_t replay_next;
	uint64_t missed; /* for the first event: what a resumed stream cannot get */
	bool seq_reset, sent_any;
};

struct flows {
	struct engine *engine;
	atomic_uint_fast64_t seen, dropped;
	pthread_mutex_t lock;
	struct watcher *list;
	size_t n;
	int64_t mono_to_real_ns;
	struct flow_history history;
};

struct flows *flows_new(struct engine *e, size_t history)
{
	struct flows *f = calloc(1, sizeof(*f));
	struct timespec m, r;

	if (!f)
		return NULL;
	if (flow_history_init(&f->history, history)) {
		free(f);
		return NULL;
	}
	f->engine = e;
	pthread_mutex_init(&f->lock, NULL);
	clock_gettime(CLOCK_MONOTONIC, &m);
	clock_gettime(CLOCK_REALTIME, &r);
	f->mono_to_real_ns = ((int64_t)r.tv_sec - m.tv_sec) * 1000000000 + (r.tv_nsec - m.tv_nsec);
	return f;
}

void flows_free(struct flows *f)
{
	if (!f)
		return;
	/* Every watcher went with its call (server shutdown cancels them all). */
	flow_history_free(&f->history);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

uint64_t flows_events_seen(struct flows *f)
{
	return atomic_load(&f->seen);
}

uint64_t flows_events_dropped(struct flows *f)
{
	return atomic_load(&f->dropped);
}

static const char *verdict_of(const struct iof_event *ev)
{
	if (ev->flags & IOF_EV_AUDIT)
		return "audit";
	return ev->action == IOF_ACT_DENY ? "deny" : "allow";
}

static void format_addr(const uint8_t *addr, unsigned family, char *buf, size_t len)
{
	if (!inet_ntop(family == 6 ? AF_INET6 : AF_INET, addr, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

static const char *proto_name(unsigned p)
{
	switch (p) {
	case 1:
		return "icmp";
	case 6:
		return "tcp";
	case 17:
		return "udp";
	case 58:
		return "icmpv6";
	case 132:
		return "sctp";
	}
	return NULL;
}

/* Names of the endpoint and rule an event refers to, from the revision that judged it. */
static void resolve(struct flows *f, const struct iof_event *ev, char *ep, size_t ep_len,
		    char *rule, size_t rule_len)
{
	struct snapshot *s = engine_snapshot_of(f->engine, ev->revision);
	const char *name;

	if (!s)
		s = engine_current(f->engine);
	name = s ? snapshot_endpoint_name(s, ev->endpoint_index) : NULL;
	if (name)
		snprintf(ep, ep_len, "%s", name);
	else
		snprintf(ep, ep_len, "#%u", ev->endpoint_index);
	rule[0] = 0;
	if (ev->rule_id != IOF_RULE_NONE && s)
		snapshot_rule_name(s, ev->rule_id, rule, rule_len);
	snapshot_unref(s);
}

/* Strings a converted FlowEvent points into. */
struct flow_strings {
	char endpoint[128], rule[192], src[48], dst[48];
};

/* Converts a ring buffer record into a FlowEvent. */
static void event_to_pb(struct flows *f, const struct iof_event *ev, Iofence__V1__FlowEvent *out,
			struct flow_strings *str)
{
	char remote[48], local[48];
	const char *p = proto_name(ev->proto);
	static char protos[256][4];
	bool ingress = ev->dir == IOF_DIR_INGRESS;

	iofence__v1__flow_event__init(out);
	resolve(f, ev, str->endpoint, sizeof(str->endpoint), str->rule, sizeof(str->rule));
	format_addr(ev->remote, ev->family, remote, sizeof(remote));
	format_addr(ev->local, ev->family, local, sizeof(local));
	memcpy(str->src, ingress ? remote : local, sizeof(str->src));
	memcpy(str->dst, ingress ? local : remote, sizeof(str->dst));
	out->time_unix_nano = ev->ts_ns + (uint64_t)f->mono_to_real_ns;
	out->endpoint = str->endpoint;
	out->direction = ingress ? "ingress" : "egress";
	out->verdict = (char *)verdict_of(ev);
	if (ev->reason != IOF_DROP_NONE)
		out->reason = (char *)dp_drop_reason_name(ev->reason);
	else
		out->reason = ev->rule_id == IOF_RULE_NONE ? "default" : "policy";
	out->family = ev->family == 6 ? "ipv6" : "ipv4";
	if (!p) {
		if (!protos[ev->proto][0])
			snprintf(protos[ev->proto], sizeof(protos[0]), "%u", ev->proto);
		p = protos[ev->proto];
	}
	out->protocol = (char *)p;
	out->src = str->src;
	out->dst = str->dst;
	if (ev->flags & IOF_EV_ICMP) { /* the ports of an ICMP flow are its echo id, not ports */
		out->icmp = true;
		out->icmp_type = ev->icmp_type;
		out->icmp_code = ev->icmp_code;
	} else {
		out->sport = ntohs(ingress ? ev->remote_port : ev->local_port);
		out->dport = ntohs(ingress ? ev->local_port : ev->remote_port);
	}
	out->rule = str->rule;
	out->revision = ev->revision;
}

static void watcher_free(struct watcher *w)
{
	struct flow_sink sink = w->sink;

	free(w->endpoint);
	free(w);
	sink.release(sink.ctx);
}

/* Whether ev passes w's filter (ep: the event's endpoint name, resolved once by the caller). */
static bool matches(struct flows *f, const struct watcher *w, const struct iof_event *ev, char *ep,
		    size_t ep_len, bool *resolved)
{
	char rule[192];

	if (w->verdict[0] && strcmp(w->verdict, verdict_of(ev)))
		return false;
	if (!w->endpoint)
		return true;
	if (!*resolved)
		resolve(f, ev, ep, ep_len, rule, sizeof(rule));
	*resolved = true;
	return !strcmp(w->endpoint, ep);
}

/*
 * The next history record w replays, or NULL once it has caught up. Records overwritten
 * before w read them count as lost. Called with the lock held.
 */
static const struct flow_record *replay_next(struct flows *f, struct watcher *w)
{
	const struct flow_history *h = &f->history;
	uint64_t oldest = flow_history_oldest(h);

	if (w->replay_next < oldest) {
		if (w->sent_any)
			w->lost += oldest - w->replay_next;
		w->replay_next = oldest;
	}
	for (size_t i = flow_history_find(h, w->replay_next); i < h->count; i++) {
		const struct flow_record *rec = flow_history_at(h, i);
		char ep[128];
		bool resolved = false;

		w->replay_next = rec->seq + 1;
		if (matches(f, w, &rec->ev, ep, sizeof(ep), &resolved))
			return rec;
	}
	w->replay_next = h->next_seq;
	return NULL;
}

/* Sends one record; a sink that refuses it makes the watcher dead. */
static void send_record(struct flows *f, struct watcher *w, const struct flow_record *rec)
{
	Iofence__V1__FlowEvent msg;
	struct flow_strings str;
	grpc_byte_buffer *bb;

	event_to_pb(f, &rec->ev, &msg, &str);
	msg.seq = rec->seq;
	msg.events_lost = w->lost;
	w->lost = 0;
	if (!w->sent_any) {
		msg.missed = w->missed;
		msg.seq_reset = w->seq_reset;
	}
	bb = rpc_pack(&msg.base);
	if (!bb)
		return;
	w->sent_any = true;
	w->sending = w->sink.send(w->sink.ctx, bb);
	if (!w->sending) {
		grpc_byte_buffer_destroy(bb);
		w->dead = true;
	}
}

/* Sends the next event (history first, then the queue) if none is in flight. Lock held. */
static void pump(struct flows *f, struct watcher *w)
{
	const struct flow_record *rec;

	if (w->sending || w->dead || w->removed || w->finished)
		return;
	if (w->replaying) {
		rec = replay_next(f, w);
		if (rec) {
			send_record(f, w, rec);
			return;
		}
		w->replaying = false; /* caught up: live events from here on */
		if (w->history_only) {
			w->finished = true;
			w->sink.finish(w->sink.ctx);
			return;
		}
	}
	if (!w->count)
		return;
	rec = &w->q[w->head];
	w->head = (w->head + 1) % WATCH_QUEUE;
	w->count--;
	send_record(f, w, rec);
}

/* Where w's replay starts (lock held): the request's recent, all or resume choice. */
static void replay_start(struct flows *f, struct watcher *w,
			 const Iofence__V1__WatchFlowsRequest *req)
{
	const struct flow_history *h = &f->history;
	uint64_t oldest = flow_history_oldest(h);

	w->replay_next = h->next_seq; /* nothing to replay */
	if (req->resume) {
		if (req->after_seq >= h->next_seq) { /* beyond this ring's numbering: a new ring */
			w->seq_reset = true;
			w->replay_next = oldest;
		} else if (req->after_seq + 1 < oldest) {
			w->missed = oldest - (req->after_seq + 1);
			w->replay_next = oldest;
		} else {
			w->replay_next = req->after_seq + 1;
		}
	} else if (req->all_recent) {
		w->replay_next = oldest;
	} else if (req->recent) {
		uint32_t found = 0;

		for (size_t i = h->count; i-- > 0 && found < req->recent;) {
			const struct flow_record *rec = flow_history_at(h, i);
			char ep[128];
			bool resolved = false;

			if (matches(f, w, &rec->ev, ep, sizeof(ep), &resolved)) {
				found++;
				w->replay_next = rec->seq;
			}
		}
	}
	w->replaying = w->replay_next < h->next_seq || w->history_only;
}

struct watcher *flows_add(struct flows *f, const Iofence__V1__WatchFlowsRequest *req,
			  const struct flow_sink *sink)
{
	struct watcher *w;

	if (req->verdict && *req->verdict && strcmp(req->verdict, "allow") &&
	    strcmp(req->verdict, "deny") && strcmp(req->verdict, "audit"))
		return NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->sink = *sink;
	snprintf(w->verdict, sizeof(w->verdict), "%s", req->verdict ? req->verdict : "");
	if (req->endpoint && *req->endpoint)
		w->endpoint = strdup(req->endpoint);
	w->history_only = req->history_only;
	pthread_mutex_lock(&f->lock);
	if (f->n >= MAX_WATCHERS) {
		pthread_mutex_unlock(&f->lock);
		free(w->endpoint);
		free(w);
		return NULL;
	}
	replay_start(f, w, req);
	w->next = f->list;
	f->list = w;
	f->n++;
	w->sending = true; /* until flows_start() has sent the initial metadata */
	pthread_mutex_unlock(&f->lock);
	log_debug("flow watcher added (verdict \"%s\", endpoint \"%s\", replay from %llu)",
		  w->verdict, w->endpoint ? w->endpoint : "", (unsigned long long)w->replay_next);
	return w;
}

void flows_start(struct flows *f, struct watcher *w)
{
	bool free_now;

	/* Initial metadata now, so the client sees the stream open before the first event. */
	pthread_mutex_lock(&f->lock);
	w->sending = w->sink.send(w->sink.ctx, NULL);
	if (!w->sending)
		pump(f, w);
	free_now = w->removed && !w->sending;
	pthread_mutex_unlock(&f->lock);
	if (free_now)
		watcher_free(w);
}

void flows_remove(struct flows *f, struct watcher *w)
{
	bool free_now;

	pthread_mutex_lock(&f->lock);
	for (struct watcher **p = &f->list; *p; p = &(*p)->next)
		if (*p == w) {
			*p = w->next;
			f->n--;
			break;
		}
	w->removed = true;
	free_now = !w->sending;
	pthread_mutex_unlock(&f->lock);
	log_debug("flow watcher removed (%llu events lost at the end)",
		  (unsigned long long)w->lost);
	if (free_now)
		watcher_free(w);
}

void flows_sent(struct flows *f, struct watcher *w, bool ok)
{
	bool free_now;

	pthread_mutex_lock(&f->lock);
	w->sending = false;
	if (!ok)
		w->dead = true;
	pump(f, w);
	free_now = w->removed && !w->sending;
	pthread_mutex_unlock(&f->lock);
	if (free_now)
		watcher_free(w);
}

uint64_t flows_next_seq(struct flows *f)
{
	uint64_t seq;

	pthread_mutex_lock(&f->lock);
	seq = f->history.next_seq;
	pthread_mutex_unlock(&f->lock);
	return seq;
}

void flows_set_next_seq(struct flows *f, uint64_t seq)
{
	pthread_mutex_lock(&f->lock);
	flow_history_set_next(&f->history, seq);
	pthread_mutex_unlock(&f->lock);
}

void flows_dispatch(struct flows *f, const struct iof_event *ev, uint64_t seq)
{
	struct flow_record rec = {.ev = *ev, .seq = seq};
	char ep[128];
	bool resolved = false;

	atomic_fetch_add(&f->seen, 1);
	pthread_mutex_lock(&f->lock);
	flow_history_push(&f->history, ev, seq);
	for (struct watcher *w = f->list; w; w = w->next) {
		if (w->dead || w->finished)
			continue;
		if (w->replaying) { /* the record is in the history: the replay gets to it */
			pump(f, w);
			continue;
		}
		if (!matches(f, w, ev, ep, sizeof(ep), &resolved))
			continue;
		if (w->count == WATCH_QUEUE) {
			w->lost++;
			atomic_fetch_add(&f->dropped, 1);
			continue;
		}
		w->q[(w->head + w->count) % WATCH_QUEUE] = rec;
		w->count++;
		pump(f, w);
	}
	pthread_mutex_unlock(&f->lock);
}
