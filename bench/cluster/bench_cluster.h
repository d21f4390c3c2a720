/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the parts of bench_cluster share: the clock, percentiles, the bench's endpoint objects
 * and the agents' status keys (cluster_bench.c), and the churn (churn.c).
 */
#ifndef IOFENCE_BENCH_CLUSTER_H
#define IOFENCE_BENCH_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "agent/etcd/cluster.h"

extern const char *prefix;
extern size_t n_agents;

double now_s(void);
/* The p-th percentile of v (sorts v). */
double pct(double *v, size_t n, double p);
/* The lowest applied revision over the N agents' status keys (0 until all are there). */
int64_t min_applied(struct etcd *c, double *delays, size_t *n_delays);
/* The endpoint object of bench workload K on node NODE into objs. */
int put_endpoint(struct cluster_objs *objs, unsigned node, unsigned k);

/*
 * (c): endpoint put/delete at RATE for SECONDS. watchers 0: lag until every agent enforces
 * each write (status keys); else no agents: WATCHERS plain watches in this process, lag of
 * each event from the write's stamp (the floor of etcd's own fan-out). Prints RESULT.
 */
int churn(struct etcd *c, const struct cluster_state *st, const char *endpoints, double rate,
	  double seconds, size_t watchers);

#endif
