// SPDX-License-Identifier: Apache-2.0
/*
 * bench_cluster: the controller side of bench/cluster/run.sh. Against a datastore the agents
 * follow, it writes changes the way iofencectl does (cluster_write: guarded, one revision
 * each) and watches the agents' status keys (PREFIX/status/, polled every 5 ms) to time each
 * change from its write to ALL agents enforcing it.
 *
 *   bench_cluster ENDPOINTS AGENTS endpoint-adds COUNT   (a) one endpoint added per change
 *   bench_cluster ENDPOINTS AGENTS rule-changes COUNT    (b) one rule's port changed per change
 *   bench_cluster ENDPOINTS AGENTS churn RATE SECONDS    (c) endpoint put/delete at RATE/s
 *                                                        (churn.c)
 *   bench_cluster ENDPOINTS WATCHERS watch-floor RATE SECONDS  the same writes, no agents:
 *                              WATCHERS plain watches in this process, lag of each event
 *
 * Prints one line "RESULT mode=... n=... median_ms=... p99_ms=... max_ms=... agent_p99_ms=..."
 * (agent_p99: the agents' own implementation delay, controller stamp to enforced, p99 over
 * every agent and change).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_cluster.h"

const char *prefix = "/iofence";
size_t n_agents;

double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double pct(double *v, size_t n, double p)
{
	size_t i;

	if (!n)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	i = (size_t)ceil(p / 100.0 * (double)n);
	return v[i ? i - 1 : 0];
}

/* The node whose status key was the lowest at the last min_applied(). */
static char slowest[64];

/* The minimum applied revision over the agents' status keys (0 until all N are there), and
 * their last delays into delays[] when given. */
int64_t min_applied(struct etcd *c, double *delays, size_t *n_delays)
{
	Etcdserverpb__RangeResponse *r = NULL;
	char dir[256], err[256];
	int64_t min = INT64_MAX;
	size_t seen = 0;

	snprintf(dir, sizeof(dir), "%s/status/", prefix);
	if (etcd_range_prefix(c, dir, 0, false, 5000, &r, err, sizeof(err)))
		return 0;
	for (size_t i = 0; i < r->n_kvs; i++) {
		Iofence__V1__NodeStatus *ns = iofence__v1__node_status__unpack(
		    NULL, r->kvs[i]->value.len, r->kvs[i]->value.data);

		if (!ns)
			continue;
		seen++;
		if ((int64_t)ns->applied_revision < min) {
			min = (int64_t)ns->applied_revision;
			snprintf(slowest, sizeof(slowest), "%s", ns->node ? ns->node : "");
		}
		if (delays)
			delays[(*n_delays)++] = ns->last_delay_seconds;
		iofence__v1__node_status__free_unpacked(ns, NULL);
	}
	etcdserverpb__range_response__free_unpacked(r, NULL);
	return seen >= n_agents ? min : 0;
}

/* One write: WANT over ST (updated to what was written). Returns the revision, or 0. */
static int64_t write_objs(struct etcd *c, struct cluster_state *st, struct cluster_objs *want)
{
	struct cluster_write_result res;
	char err[512];
	int r = cluster_write(c, prefix, st, want, "bench_cluster", &res, err, sizeof(err));

	if (r) {
		fprintf(stderr, "bench_cluster: write: %s\n", r == 1 ? "unchanged" : err);
		return 0;
	}
	/* what we wrote is now the state: no re-read between writes */
	cluster_objs_free(&st->objs);
	st->objs = *want;
	memset(want, 0, sizeof(*want));
	st->head_mod = res.revision;
	st->policy_revision = res.revision;
	return res.revision;
}

static int copy_objs(const struct cluster_objs *from, struct cluster_objs *to)
{
	memset(to, 0, sizeof(*to));
	for (size_t i = 0; i < from->n; i++)
		if (cluster_objs_add(to, from->v[i].key, from->v[i].val, from->v[i].len, 0))
			return -ENOMEM;
	return 0;
}

/* The endpoint object of bench workload K on node NODE. */
int put_endpoint(struct cluster_objs *objs, unsigned node, unsigned k)
{
	Iofence__V1__Endpoint e = IOFENCE__V1__ENDPOINT__INIT;
	char name[64], nodename[64], addr[64], *addrs[1] = {addr}, *groups[1] = {(char *)"g0"};
	char *key;
	uint8_t buf[512];
	size_t len;
	int r;

	snprintf(name, sizeof(name), "bench-%u", k);
	snprintf(nodename, sizeof(nodename), "node-%u", node);
	snprintf(addr, sizeof(addr), "10.%u.%u.%u", 200 + k / 65536 % 50, k / 256 % 256, k % 256);
	e.name = name;
	e.node = nodename;
	e.interface = name;
	e.n_addresses = 1;
	e.addresses = addrs;
	e.n_groups = 1;
	e.groups = groups;
	len = iofence__v1__endpoint__pack(&e, buf);
	key = cluster_key_endpoint(nodename, name);
	r = key ? cluster_objs_put(objs, key, buf, len, 0) : -ENOMEM;
	free(key);
	return r;
}

/* Changes the first rule's first port of group g5 to PORT. */
static int change_rule(struct cluster_objs *objs, unsigned port)
{
	long i = cluster_objs_find(objs, "groups/g5");
	Iofence__V1__SecurityGroup *g;
	uint8_t *buf;
	size_t len;
	int r;

	if (i < 0)
		return -ENOENT;
	g = iofence__v1__security_group__unpack(NULL, objs->v[i].len, objs->v[i].val);
	if (!g || !g->n_rules || !g->rules[0]->n_ports)
		return -EINVAL;
	g->rules[0]->ports[0]->lo = port;
	g->rules[0]->ports[0]->hi = port;
	len = iofence__v1__security_group__get_packed_size(g);
	buf = malloc(len);
	iofence__v1__security_group__pack(g, buf);
	r = cluster_objs_put(objs, "groups/g5", buf, len, 0);
	free(buf);
	iofence__v1__security_group__free_unpacked(g, NULL);
	return r;
}

/* Waits until every agent enforces REV; returns the seconds from T_WRITE. */
static double wait_all(struct etcd *c, int64_t rev, double t_write, double t_committed,
		       double *agent_delays, size_t *n_agent_delays)
{
	char last[64] = "";

	for (;;) {
		size_t mark = *n_agent_delays;
		int64_t min = min_applied(c, agent_delays, n_agent_delays);

		if (min >= rev) {
			double t = now_s(), slowest_agent = 0;

			for (size_t i = mark; i < *n_agent_delays; i++)
				if (agent_delays[i] > slowest_agent)
					slowest_agent = agent_delays[i];
			/* when and who: the timestamps to find a slow change in the agents' logs;
			 * commit_ms: etcd's answer to the write; agent_ms: the slowest agent's own
			 * delay (stamp to enforced) */
			printf("CHANGE revision=%lld written=%.3f all_ms=%.1f commit_ms=%.1f "
			       "agent_ms=%.1f last=%s\n",
			       (long long)rev, t_write, (t - t_write) * 1e3,
			       (t_committed - t_write) * 1e3, slowest_agent * 1e3, last);
			return t - t_write;
		}
		if (min)
			memcpy(last, slowest, sizeof(last));
		*n_agent_delays = mark;
		if (now_s() - t_write > 60)
			return NAN;
		usleep(5000);
	}
}

int main(int argc, char **argv)
{
	struct cluster_state st;
	struct cluster_objs want;
	struct etcd *c = NULL;
	double *lat, *agent = NULL;
	size_t n_lat = 0, n_agent = 0, count;
	char err[512];
	const char *mode;

	if (argc < 5) {
		fprintf(stderr, "usage: bench_cluster ENDPOINTS AGENTS endpoint-adds|rule-changes "
				"COUNT | churn RATE SECONDS\n");
		return 1;
	}
	n_agents = strtoul(argv[2], NULL, 10);
	mode = argv[3];
	count = strtoul(argv[4], NULL, 10);
	grpc_init();
	if (etcd_open(argv[1], NULL, &c, err, sizeof(err)) ||
	    cluster_read(c, prefix, 0, &st, err, sizeof(err))) {
		fprintf(stderr, "bench_cluster: %s\n", err);
		return 2;
	}
	/* every agent reports the policy first: rollout status counts a node that has not
	 * written its key yet (a real-datapath agent still loading) as absent, not pending */
	if (strcmp(mode, "watch-floor")) {
		double t0 = now_s();

		while (min_applied(c, NULL, NULL) < st.policy_revision && now_s() - t0 < 300)
			usleep(50000);
	}
	if (!strcmp(mode, "churn") || !strcmp(mode, "watch-floor"))
		return churn(c, &st, argv[1], (double)count, argc > 5 ? atof(argv[5]) : 30,
			     !strcmp(mode, "watch-floor") ? n_agents : 0);
	lat = calloc(count, sizeof(*lat));
	agent = calloc(count * (n_agents + 8), sizeof(*agent));
	for (size_t i = 0; i < count; i++) {
		double t;
		int64_t rev;
		int r;

		if (copy_objs(&st.objs, &want))
			return 2;
		r = !strcmp(mode, "endpoint-adds") ? put_endpoint(&want, (unsigned)(i % n_agents),
								   (unsigned)(100000 + i))
						   : change_rule(&want, (unsigned)(20000 + i));
		if (r) {
			fprintf(stderr, "bench_cluster: %s: %s\n", mode, strerror(-r));
			return 2;
		}
		t = now_s();
		rev = write_objs(c, &st, &want);
		if (!rev)
			return 2;
		lat[n_lat] = wait_all(c, rev, t, now_s(), agent, &n_agent);
		if (isnan(lat[n_lat])) {
			fprintf(stderr, "bench_cluster: revision %lld not enforced everywhere in 60 s\n",
				(long long)rev);
			return 1;
		}
		n_lat++;
		usleep(200 * 1000);
	}
	printf("RESULT mode=%s n=%zu median_ms=%.1f p99_ms=%.1f max_ms=%.1f agent_median_ms=%.1f "
	       "agent_p99_ms=%.1f\n",
	       mode, n_lat, pct(lat, n_lat, 50) * 1e3, pct(lat, n_lat, 99) * 1e3,
	       pct(lat, n_lat, 100) * 1e3, pct(agent, n_agent, 50) * 1e3,
	       pct(agent, n_agent, 99) * 1e3);
	cluster_state_free(&st);
	etcd_close(c);
	return 0;
}
