// SPDX-License-Identifier: Apache-2.0
/*
 * bench/hostile: hostile Apply requests from a C client on the gRPC core (iofencectl's
 * transport), so that the time a request takes to reach the agent is not the Python client's
 * own (~0.45 s for 24 MiB). CLIENTS threads, each on its own channel (connected first), send
 * the same text for SECONDS and note how long each answer took, from the call's start (the
 * message's packing included):
 *   bench_hostile_send --agent unix:PATH [--size BYTES] [--clients N] [--seconds S]
 *                      [--shape dense|nested] [--once]
 * dense: the costliest text to read (a one-character list item every two bytes, read whole
 * or stopped by the read budget); nested: a text the agent refuses in ~1 ms of CPU (nesting
 * past the limit), whose answer time is the transport's floor. --once: each client sends
 * one request, all at once (a burst). Prints one markdown row.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/grpc.h>

#include "agent/rpc/rpc.h"
#include "bench_util.h"
#include "iofence/v1/agent.pb-c.h"

#define MAX_SAMPLES 100000

struct flood {
	const char *agent, *text;
	double stop_s;
	bool once;
	pthread_mutex_t lock;
	int64_t took_ns[MAX_SAMPLES];
	size_t n;
	int64_t first_max_ns; /* the slowest first call of a client (a new connection's) */
	size_t by_status[GRPC_STATUS_UNAUTHENTICATED + 1];
};

static char *make_text(const char *shape, size_t size)
{
	char *t = malloc(size + 1);
	size_t len = 0, half = size / 2;

	if (!t)
		return NULL;
	if (!strcmp(shape, "nested")) {
		len = (size_t)sprintf(t, "securityGroups: ");
		memset(t + len, '[', half - len);
		memset(t + half, ']', size - half);
		len = size;
	} else {
		len = (size_t)sprintf(t, "securityGroups:\n  - name: g\n    rules:\n      - "
					 "direction: ingress\n        protocol: tcp\n        ports: [");
		while (len + 4 < size) {
			memcpy(t + len, "0,", 2);
			len += 2;
		}
		len += (size_t)sprintf(t + len, "1]\n");
	}
	t[len] = 0;
	return t;
}

static void *client_main(void *arg)
{
	struct flood *f = arg;
	char err[256];
	grpc_channel *ch = rpc_channel_open(f->agent, &(struct rpc_tls){0}, err, sizeof(err));

	if (!ch) {
		fprintf(stderr, "%s\n", err);
		return NULL;
	}
	/* connected before the clock starts: a GetStatus first */
	Iofence__V1__GetStatusRequest status_req = IOFENCE__V1__GET_STATUS_REQUEST__INIT;
	ProtobufCMessage *status = NULL;
	struct rpc_result status_res = {0};

	if (!rpc_unary(ch, RPC_METHOD_GET_STATUS, &status_req.base,
		       &iofence__v1__get_status_response__descriptor, 10000, &status, &status_res) &&
	    status)
		protobuf_c_message_free_unpacked(status, NULL);
	rpc_result_free(&status_res);
	for (bool first = true; first || (!f->once && bench_now_s() < f->stop_s); first = false) {
		Iofence__V1__ApplyRequest req = IOFENCE__V1__APPLY_REQUEST__INIT;
		ProtobufCMessage *resp = NULL;
		struct rpc_result res = {0};
		int64_t t0 = bench_now_ns();

		req.source = (char *)f->text;
		req.source_name = "h.yaml";
		if (rpc_unary(ch, RPC_METHOD_APPLY, &req.base,
			      &iofence__v1__apply_response__descriptor, 30000, &resp, &res))
			break;
		pthread_mutex_lock(&f->lock);
		if (first && bench_now_ns() - t0 > f->first_max_ns)
			f->first_max_ns = bench_now_ns() - t0;
		if (f->n < MAX_SAMPLES)
			f->took_ns[f->n++] = bench_now_ns() - t0;
		if (res.status <= GRPC_STATUS_UNAUTHENTICATED)
			f->by_status[res.status]++;
		pthread_mutex_unlock(&f->lock);
		if (resp)
			protobuf_c_message_free_unpacked(resp, NULL);
		rpc_result_free(&res);
	}
	grpc_channel_destroy(ch);
	return NULL;
}

int main(int argc, char **argv)
{
	static struct flood f = {.lock = PTHREAD_MUTEX_INITIALIZER};
	const char *shape = "dense";
	size_t size = 4000000;
	int clients = 2;
	double seconds = 10;
	pthread_t threads[64];
	struct bench_spread s;
	char codes[256] = "";

	for (int i = 1; i < argc; i += 2) {
		if (!strcmp(argv[i], "--once")) {
			f.once = true;
			i--;
		} else if (i + 1 >= argc) {
			break;
		} else if (!strcmp(argv[i], "--agent"))
			f.agent = argv[i + 1];
		else if (!strcmp(argv[i], "--size"))
			size = strtoull(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--clients"))
			clients = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--seconds"))
			seconds = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--shape"))
			shape = argv[i + 1];
	}
	if (f.once)
		seconds = 0;
	if (!f.agent || clients < 1 || clients > 64 || size < 200 ||
	    (strcmp(shape, "dense") && strcmp(shape, "nested"))) {
		fprintf(stderr, "usage: %s --agent ADDR [--size BYTES] [--clients 1..64] "
				"[--seconds S] [--shape dense|nested] [--once]\n",
			argv[0]);
		return 2;
	}
	f.text = make_text(shape, size);
	if (!f.text)
		return 1;
	grpc_init();
	f.stop_s = bench_now_s() + seconds;
	for (int i = 0; i < clients; i++)
		pthread_create(&threads[i], NULL, client_main, &f);
	for (int i = 0; i < clients; i++)
		pthread_join(threads[i], NULL);
	grpc_shutdown_blocking();
	if (!f.n) {
		fprintf(stderr, "no answer\n");
		return 1;
	}
	for (int st = 0; st <= GRPC_STATUS_UNAUTHENTICATED; st++)
		if (f.by_status[st])
			snprintf(codes + strlen(codes), sizeof(codes) - strlen(codes), "%s%s %zu",
				 *codes ? ", " : "", rpc_status_name((grpc_status_code)st),
				 f.by_status[st]);
	s = bench_spread_ns(f.took_ns, f.n, 1e6);
	printf("| C client, %s, %zu B, %d clients | %zu | %s | %.1f | %.1f | %.1f |\n", shape, size,
	       clients, f.n, codes, s.p50, s.p99, s.max);
	printf("(the slowest first call of a client, on its new connection: %.1f ms)\n",
	       (double)f.first_max_ns / 1e6);
	free((char *)f.text);
	return 0;
}
