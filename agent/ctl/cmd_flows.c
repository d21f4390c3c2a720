// SPDX-License-Identifier: Apache-2.0
/*
 * iofencectl flows [--agent ADDR] [--follow] [--verdict allow|deny|audit] [--endpoint NAME]
 * [-o table|json]: the agent's verdict events. With --follow until interrupted; without, the
 * events of the next --duration seconds (default 1). -o json prints one object per line.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "ctl.h"

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

static void print_event(const Iofence__V1__FlowEvent *ev, bool json)
{
	time_t sec = (time_t)(ev->time_unix_nano / 1000000000ull);
	struct tm tm;
	char when[32];

	if (json) {
		printf("{\"time_unix_nano\": %llu, \"endpoint\": ",
		       (unsigned long long)ev->time_unix_nano);
		json_str(stdout, ev->endpoint);
		printf(
		    ", \"direction\": \"%s\", \"verdict\": \"%s\", \"reason\": \"%s\", "
		    "\"family\": \"%s\", \"protocol\": \"%s\", \"src\": \"%s\", \"dst\": \"%s\", "
		    "\"sport\": %u, \"dport\": %u, \"rule\": ",
		    ev->direction, ev->verdict, ev->reason, ev->family, ev->protocol, ev->src,
		    ev->dst, ev->sport, ev->dport);
		json_str(stdout, ev->rule);
		printf(", \"revision\": %llu, \"events_lost\": %llu}\n",
		       (unsigned long long)ev->revision, (unsigned long long)ev->events_lost);
		return;
	}
	if (ev->events_lost)
		printf("... %llu events lost (reader too slow)\n",
		       (unsigned long long)ev->events_lost);
	gmtime_r(&sec, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	printf("%s.%03u %-16s %-7s %-5s %-9s %-6s %s:%u -> %s:%u %s rev %llu\n", when,
	       (unsigned)(ev->time_unix_nano / 1000000 % 1000), ev->endpoint, ev->direction,
	       ev->verdict, ev->reason, ev->protocol, ev->src, ev->sport, ev->dst, ev->dport,
	       *ev->rule ? ev->rule : "(default)", (unsigned long long)ev->revision);
}

int cmd_flows(int argc, char **argv)
{
	Iofence__V1__WatchFlowsRequest req = IOFENCE__V1__WATCH_FLOWS_REQUEST__INIT;
	struct stopper stop = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
	Iofence__V1__FlowEvent *ev;
	struct rpc_stream *st = NULL;
	struct rpc_result res = {0};
	struct ctl_opts o;
	pthread_t timer = 0;
	grpc_channel *ch;
	bool json;
	int r, n;

	r = ctl_parse(argc, argv, "flows", &o);
	if (r >= 0)
		return r;
	if (o.output && strcmp(o.output, "table") && strcmp(o.output, "json")) {
		fprintf(stderr, "iofencectl flows: -o: \"%s\" is not table or json\n", o.output);
		ctl_opts_free(&o);
		return CTL_USER_ERROR;
	}
	json = o.output && !strcmp(o.output, "json");
	ch = ctl_connect(&o, o.agents[0]);
	if (!ch) {
		ctl_opts_free(&o);
		return CTL_USER_ERROR;
	}
	req.verdict = (char *)(o.verdict ? o.verdict : "");
	req.endpoint = (char *)(o.endpoint ? o.endpoint : "");
	r = rpc_stream_open(ch, RPC_METHOD_WATCH_FLOWS, &req.base, 0, &st);
	if (r) {
		fprintf(stderr, "iofencectl flows: %s\n", strerror(-r));
		grpc_channel_destroy(ch);
		ctl_opts_free(&o);
		return CTL_SYSTEM_ERROR;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!o.follow) {
		stop.st = st;
		stop.seconds = o.duration;
		pthread_create(&timer, NULL, stop_after, &stop);
	}
	while ((n = rpc_stream_next(st, &iofence__v1__flow_event__descriptor,
				    (ProtobufCMessage **)&ev)) > 0) {
		print_event(ev, json);
		iofence__v1__flow_event__free_unpacked(ev, NULL);
	}
	if (timer) {
		pthread_mutex_lock(&stop.lock);
		stop.done = true;
		pthread_cond_signal(&stop.cond);
		pthread_mutex_unlock(&stop.lock);
		pthread_join(timer, NULL);
	}
	rpc_stream_close(st, &res);
	grpc_channel_destroy(ch);
	if (n < 0)
		r = ctl_report(&o, o.agents[0], &res, n);
	else if (stop.fired && res.status == GRPC_STATUS_CANCELLED)
		r = CTL_OK;
	else
		r = ctl_report(&o, o.agents[0], &res, 0);
	rpc_result_free(&res);
	ctl_opts_free(&o);
	return r;
}
