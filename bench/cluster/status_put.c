// SPDX-License-Identifier: Apache-2.0
/*
 * bench_status_put: what one status put (a NodeStatus under a lease, as an agent reports)
 * costs the calling process, three ways: as the agent puts it (etcd_put_start(): sent, its
 * answer read before the next put, so nothing wakes for it), a blocking etcd_put() (a kept
 * completion queue, no deadline timer on the call), and a unary call with a queue made for it
 * and a deadline (rpc_unary(), how every etcd call was made before). The puts are 10 ms apart,
 * as an agent's are far apart (the sleep is one thread switch in every way). Rounds of each
 * way alternate; per put: process CPU (every thread, getrusage), thread switches (voluntary
 * and involuntary, every thread) and the wall time from one put to the next, sleep included.
 *
 *   bench_status_put ENDPOINT PUTS_PER_ROUND ROUNDS
 *
 * Prints "RESULT way=... puts=... cpu_us=... switches=... wall_us=..." per way (medians of
 * the rounds).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <iofence/v1/agent.pb-c.h>

#include "agent/etcd/etcd_internal.h"

struct round {
	double cpu_us, switches, wall_us;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double cpu_s(const struct rusage *u)
{
	return (double)u->ru_utime.tv_sec + (double)u->ru_utime.tv_usec / 1e6 +
	       (double)u->ru_stime.tv_sec + (double)u->ru_stime.tv_usec / 1e6;
}

#define WAYS 3

/* One round of n puts; way 0: started, answer taken before the next; 1: etcd_put; 2:
 * rpc_unary with its own queue and deadline. */
static int one_round(struct etcd *c, int way, const char *key, const uint8_t *val, size_t len,
		     int64_t lease, int n, struct round *ret)
{
	struct rusage u0, u1;
	double t0;
	char err[256];

	struct etcd_pending_put *pending = NULL;

	getrusage(RUSAGE_SELF, &u0);
	t0 = now_s();
	for (int i = 0; i < n; i++) {
		Etcdserverpb__PutRequest req = ETCDSERVERPB__PUT_REQUEST__INIT;
		ProtobufCMessage *resp = NULL;
		struct rpc_result res;
		int r;

		usleep(10000);
		if (way == 0) {
			r = pending ? etcd_put_finish(pending, 3000, err, sizeof(err)) : 0;
			pending = NULL;
			if (!r)
				r = etcd_put_start(c, key, val, len, lease, &pending, err,
						   sizeof(err));
		} else if (way == 1) {
			r = etcd_put(c, key, val, len, lease, 3000, err, sizeof(err));
		} else {
			req.key.data = (uint8_t *)key;
			req.key.len = strlen(key);
			req.value.data = (uint8_t *)val;
			req.value.len = len;
			req.lease = lease;
			r = rpc_unary(etcd_channel(c, 0, err, sizeof(err)),
				      "/etcdserverpb.KV/Put", &req.base,
				      &etcdserverpb__put_response__descriptor, 3000, &resp, &res);
			if (!r && res.status != GRPC_STATUS_OK) {
				snprintf(err, sizeof(err), "%s: %s", rpc_status_name(res.status),
					 res.details ? res.details : "");
				r = -1;
			}
			rpc_result_free(&res);
			if (resp)
				protobuf_c_message_free_unpacked(resp, NULL);
		}
		if (r) {
			fprintf(stderr, "bench_status_put: put %d failed (%d) %s\n", i, r, err);
			return r;
		}
	}
	if (pending && etcd_put_finish(pending, 3000, err, sizeof(err)))
		return -EIO;
	ret->wall_us = (now_s() - t0) * 1e6 / n;
	getrusage(RUSAGE_SELF, &u1);
	ret->cpu_us = (cpu_s(&u1) - cpu_s(&u0)) * 1e6 / n;
	ret->switches = (double)(u1.ru_nvcsw - u0.ru_nvcsw + u1.ru_nivcsw - u0.ru_nivcsw) / n;
	return 0;
}

int main(int argc, char **argv)
{
	Iofence__V1__NodeStatus ns = IOFENCE__V1__NODE_STATUS__INIT;
	static const char *names[WAYS] = {"the agent's: answer read before the next put",
					  "etcd_put: blocking, kept queue, no call deadline",
					  "rpc_unary: blocking, queue per call, deadline"};
	struct round rounds[WAYS][64];
	struct etcd *c = NULL;
	uint8_t val[512];
	size_t len;
	int64_t lease = 0;
	int n, n_rounds;
	char err[256];

	if (argc < 4) {
		fprintf(stderr, "usage: bench_status_put ENDPOINT PUTS_PER_ROUND ROUNDS\n");
		return 1;
	}
	n = atoi(argv[2]);
	n_rounds = atoi(argv[3]);
	if (n < 1 || n_rounds < 1 || n_rounds > 64) {
		fprintf(stderr, "bench_status_put: 1..N puts, 1..64 rounds\n");
		return 1;
	}
	setenv("GRPC_POLL_STRATEGY", "poll", 0); /* as the agent runs in cluster mode */
	grpc_init();
	/* a NodeStatus as an agent writes it */
	ns.node = (char *)"node-put-bench";
	ns.applied_revision = ns.datastore_revision = 123456;
	ns.version = (char *)"0.1.0";
	ns.api = (char *)"unix:/run/iofence/iofenced.sock";
	ns.error = (char *)"";
	ns.connected = true;
	ns.updated_unix = 1700000000;
	len = iofence__v1__node_status__pack(&ns, val);
	if (etcd_open(argv[1], NULL, &c, err, sizeof(err)) ||
	    etcd_lease_grant(c, 3600, &lease, err, sizeof(err))) {
		fprintf(stderr, "bench_status_put: %s\n", err);
		return 2;
	}
	/* the first calls connect and warm the channel */
	if (one_round(c, 0, "/iofence/status/node-put-bench", val, len, lease, 50, &rounds[0][0]))
		return 2;
	for (int i = 0; i < n_rounds; i++)
		for (int w = 0; w < WAYS; w++)
			if (one_round(c, (i + w) % WAYS, "/iofence/status/node-put-bench", val, len,
				      lease, n, &rounds[(i + w) % WAYS][i]))
				return 2;
	for (int w = 0; w < WAYS; w++) {
		double cpu[64], sw[64], wall[64];

		for (int i = 0; i < n_rounds; i++) {
			cpu[i] = rounds[w][i].cpu_us;
			sw[i] = rounds[w][i].switches;
			wall[i] = rounds[w][i].wall_us;
		}
		qsort(cpu, (size_t)n_rounds, sizeof(double), cmp_double);
		qsort(sw, (size_t)n_rounds, sizeof(double), cmp_double);
		qsort(wall, (size_t)n_rounds, sizeof(double), cmp_double);
		printf("RESULT way=\"%s\" puts=%d rounds=%d cpu_us=%.1f (%.1f-%.1f) switches=%.2f "
		       "wall_us=%.0f\n",
		       names[w], n, n_rounds, cpu[n_rounds / 2], cpu[0], cpu[n_rounds - 1],
		       sw[n_rounds / 2], wall[n_rounds / 2]);
	}
	etcd_close(c);
	grpc_shutdown_blocking();
	return 0;
}
