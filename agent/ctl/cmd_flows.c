// SPDX-License-Identifier: Apache-2.0
/*
 * iofencectl flows [--agent ADDR] [--follow | --duration SEC] [--last N] [--since-seq N]
 * [--verdict allow|deny|audit] [--endpoint NAME] [-o table|json]: the agent's verdict events.
 * Without --follow or --duration: what the agent holds in its recent history (all of it, or
 * the last N) and exit. --duration SEC: the last N, then new events for SEC seconds. --follow:
 * the last N, then new events until interrupted; a stream that breaks (the agent restarted)
 * is opened again with backoff (0.2 s doubling to 5 s; given up after 5 minutes without a
 * stream) and resumes after the last event's sequence number, and the agent says how many
 * events it no longer holds. --since-seq N: what the history holds after
 * event N. -o json prints one object per line; notices go to stderr.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "ctl.h"

#define BACKOFF_FIRST_S 0.2
#define BACKOFF_MAX_S 5.0
#define FOLLOW_GIVE_UP_S 300 /* no stream that lasted for this long: the agent is gone */

struct stopper {
	struct rpc_stream *st;
	double seconds;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done, fired;
};

static void *stop_after(void *arg)
{
	struct stopper *s = arg;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)s->seconds;
	ts.tv_nsec += (long)((s->seconds - (double)(time_t)s->seconds) * 1e9);
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&s->lock);
	while (!s->done)
		if (pthread_cond_timedwait(&s->cond, &s->lock, &ts) == ETIMEDOUT)
			break;
	if (!s->done) {
		s->fired = true;
		rpc_stream_cancel(s->st);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* "src:port" or, for ICMP, "src" (the type and code are printed apart). */
static void endpoint_str(char *buf, size_t len, const char *addr, uint32_t port, bool icmp)
{
	if (icmp)
		snprintf(buf, len, "%s", addr);
	else
		snprintf(buf, len, "%s:%u", addr, port);
}

static void print_event(const Iofence__V1__FlowEvent *ev, bool json)
{
	time_t sec = (time_t)(ev->time_unix_nano / 1000000000ull);
	char when[32], src[80], dst[80], icmp[48] = "";
	struct tm tm;

	if (json) {
		printf("{\"seq\": %llu, \"time_unix_nano\": %llu, \"endpoint\": ",
		       (unsigned long long)ev->seq, (unsigned long long)ev->time_unix_nano);
		json_str(stdout, ev->endpoint);
		printf(
		    ", \"direction\": \"%s\", \"verdict\": \"%s\", \"reason\": \"%s\", "
		    "\"family\": \"%s\", \"protocol\": \"%s\", \"src\": \"%s\", \"dst\": \"%s\", ",
		    ev->direction, ev->verdict, ev->reason, ev->family, ev->protocol, ev->src,
		    ev->dst);
		if (ev->icmp)
			printf("\"icmp_type\": %u, \"icmp_code\": %u, ", ev->icmp_type,
			       ev->icmp_code);
		else
			printf("\"sport\": %u, \"dport\": %u, ", ev->sport, ev->dport);
		printf("\"rule\": ");
		json_str(stdout, ev->rule);
		printf(", \"revision\": %llu, \"events_lost\": %llu, \"missed\": %llu}\n",
		       (unsigned long long)ev->revision, (unsigned long long)ev->events_lost,
		       (unsigned long long)ev->missed);
		return;
	}
	if (ev->events_lost)
		printf("... %llu events lost (reader too slow)\n",
		       (unsigned long long)ev->events_lost);
	gmtime_r(&sec, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	endpoint_str(src, sizeof(src), ev->src, ev->sport, ev->icmp);
	endpoint_str(dst, sizeof(dst), ev->dst, ev->dport, ev->icmp);
	if (ev->icmp)
		snprintf(icmp, sizeof(icmp), " type %u code %u", ev->icmp_type, ev->icmp_code);
	printf("%s.%03u %-16s %-7s %-5s %-9s %-6s %s -> %s%s %s rev %llu\n", when,
	       (unsigned)(ev->time_unix_nano / 1000000 % 1000), ev->endpoint, ev->direction,
	       ev->verdict, ev->reason, ev->protocol, src, dst, icmp,
	       *ev->rule ? ev->rule : "(default)", (unsigned long long)ev->revision);
}

/* What the agent said it could not replay on a resumed stream. */
static void print_gap(const Iofence__V1__FlowEvent *ev)
{
	if (ev->seq_reset)
		fprintf(stderr, "iofencectl flows: the agent's event ring was created anew: events "
				"since the last one shown may be missing (how many is unknown)\n");
	else if (ev->missed)
		fprintf(stderr,
			"iofencectl flows: %llu events may have been missed while reconnecting "
			"(the agent no longer holds them)\n",
			(unsigned long long)ev->missed);
}

/* One stream: reads until it ends; *last_seq follows the events printed. */
struct stream_run {
	int local_err; /* rpc_stream_next's negative result, 0 */
	struct rpc_result res;
	size_t events;
};

static void run_stream(grpc_channel *ch, const Iofence__V1__WatchFlowsRequest *req, bool json,
		       struct stopper *stop, uint64_t *last_seq, struct stream_run *run)
{
	Iofence__V1__FlowEvent *ev;
	struct rpc_stream *st = NULL;
	pthread_t timer = 0;
	int n;

	memset(run, 0, sizeof(*run));
	run->local_err = rpc_stream_open(ch, RPC_METHOD_WATCH_FLOWS, &req->base, 0, &st);
	if (run->local_err)
		return;
	if (stop) {
		stop->st = st;
		pthread_create(&timer, NULL, stop_after, stop);
	}
	while ((n = rpc_stream_next(st, &iofence__v1__flow_event__descriptor,
				    (ProtobufCMessage **)&ev)) > 0) {
		if (!run->events++)
			print_gap(ev);
		print_event(ev, json);
		*last_seq = ev->seq;
		iofence__v1__flow_event__free_unpacked(ev, NULL);
	}
	run->local_err = n < 0 ? n : 0;
	if (timer) {
		pthread_mutex_lock(&stop->lock);
		stop->done = true;
		pthread_cond_signal(&stop->cond);
		pthread_mutex_unlock(&stop->lock);
		pthread_join(timer, NULL);
	}
	rpc_stream_close(st, &run->res);
}

/* The seq of the agent's latest event (its next one - 1), to resume from; -1 on failure. */
static int latest_seq(grpc_channel *ch, const struct ctl_opts *o, uint64_t *ret)
{
	Iofence__V1__GetStatusRequest req = IOFENCE__V1__GET_STATUS_REQUEST__INIT;
	Iofence__V1__GetStatusResponse *resp = NULL;
	struct rpc_result res = {0};
	int r = rpc_unary(ch, RPC_METHOD_GET_STATUS, &req.base,
			  &iofence__v1__get_status_response__descriptor, o->timeout_ms,
			  (ProtobufCMessage **)&resp, &res);

	if (r || res.status != GRPC_STATUS_OK) {
		r = ctl_report(o, o->agents[0], &res, r);
		rpc_result_free(&res);
		return r;
	}
	*ret = resp->flow_next_seq ? resp->flow_next_seq - 1 : 0;
	iofence__v1__get_status_response__free_unpacked(resp, NULL);
	rpc_result_free(&res);
	return -1;
}

/* A stream that ended for a reason worth retrying (not a refused request). */
static bool retryable(const struct stream_run *run)
{
	return run->local_err == 0 && run->res.status != GRPC_STATUS_INVALID_ARGUMENT &&
	       run->res.status != GRPC_STATUS_PERMISSION_DENIED &&
	       run->res.status != GRPC_STATUS_UNIMPLEMENTED;
}

/* --follow: until interrupted, reconnecting with backoff when the stream breaks. */
static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int follow(const struct ctl_opts *o, Iofence__V1__WatchFlowsRequest *req, bool json)
{
	double backoff = BACKOFF_FIRST_S, healthy = now_s(), started;
	uint64_t last_seq = 0;
	struct stream_run run;
	grpc_channel *ch = ctl_connect(o, o->agents[0]);
	int r;

	if (!ch)
		return CTL_USER_ERROR;
	if (!o->last_set) { /* from the agent's latest event on: nothing lost at a reconnect */
		r = latest_seq(ch, o, &last_seq);
		if (r >= 0) {
			grpc_channel_destroy(ch);
			return r;
		}
		req->resume = true;
		req->after_seq = last_seq;
	}
	for (;;) {
		started = now_s();
		run_stream(ch, req, json, NULL, &last_seq, &run);
		grpc_channel_destroy(ch);
		if (run.events || now_s() - started >= 1.0) { /* it was up a while */
			healthy = now_s();
			backoff = BACKOFF_FIRST_S;
		}
		if (!retryable(&run) || now_s() - healthy > FOLLOW_GIVE_UP_S) {
			r = ctl_report(o, o->agents[0], &run.res, run.local_err);
			rpc_result_free(&run.res);
			return r;
		}
		fprintf(stderr,
			"iofencectl flows: stream from %s ended (%s%s%s); reconnecting in %.1f s "
			"after event %llu\n",
			o->agents[0], rpc_status_name(run.res.status),
			run.res.details && *run.res.details ? ": " : "",
			run.res.details ? run.res.details : "", backoff,
			(unsigned long long)last_seq);
		rpc_result_free(&run.res);
		usleep((useconds_t)(backoff * 1e6));
		backoff = backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : backoff * 2;
		req->resume = true;
		req->after_seq = last_seq;
		req->recent = 0;
		ch = ctl_connect(o, o->agents[0]);
		if (!ch)
			return CTL_SYSTEM_ERROR;
	}
}

int cmd_flows(int argc, char **argv)
{
	Iofence__V1__WatchFlowsRequest req = IOFENCE__V1__WATCH_FLOWS_REQUEST__INIT;
	struct stopper stop = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
	struct stream_run run;
	struct ctl_opts o;
	uint64_t last_seq = 0;
	grpc_channel *ch;
	bool json;
	int r;

	r = ctl_parse(argc, argv, "flows", &o);
	if (r >= 0)
		return r;
	if (o.output && strcmp(o.output, "table") && strcmp(o.output, "json")) {
		fprintf(stderr, "iofencectl flows: -o: \"%s\" is not table or json\n", o.output);
		ctl_opts_free(&o);
		return CTL_USER_ERROR;
	}
	json = o.output && !strcmp(o.output, "json");
	req.verdict = (char *)(o.verdict ? o.verdict : "");
	req.endpoint = (char *)(o.endpoint ? o.endpoint : "");
	req.recent = o.last;
	if (o.since_seq_set) {
		req.resume = true;
		req.after_seq = o.since_seq;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (o.follow) {
		r = follow(&o, &req, json);
		ctl_opts_free(&o);
		return r;
	}
	/* the history (all of it unless --last), then, with --duration, new events a while */
	req.history_only = !o.duration_set;
	req.all_recent = !o.last_set && !o.duration_set && !o.since_seq_set;
	ch = ctl_connect(&o, o.agents[0]);
	if (!ch) {
		ctl_opts_free(&o);
		return CTL_USER_ERROR;
	}
	stop.seconds = o.duration;
	run_stream(ch, &req, json, o.duration_set ? &stop : NULL, &last_seq, &run);
	grpc_channel_destroy(ch);
	if (stop.fired && run.res.status == GRPC_STATUS_CANCELLED && !run.local_err)
		r = CTL_OK;
	else
		r = ctl_report(&o, o.agents[0], &run.res, run.local_err);
	rpc_result_free(&run.res);
	ctl_opts_free(&o);
	return r;
}
