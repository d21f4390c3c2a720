// SPDX-License-Identifier: Apache-2.0
/*
 * bench_cluster's churn (bench_cluster.h): endpoint writes at a fixed rate, and the lag of
 * each until every agent enforces it, or until each of N plain watchers receives it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>

#include "bench_cluster.h"

/*
 * (c) churn. One guarded read-modify-write at a time cannot offer 100 writes/s here (each
 * waits for etcd's commit on a loaded machine), and orchestrator hooks on many nodes write at
 * once anyway: the writes go out from CHURN_WRITERS threads, each with its own connection, on
 * a fixed schedule (write i at t0 + i/rate; a late thread writes at once), enough of them
 * that etcd's commit latency under load (0.2-0.5 s) does not hold the rate back. Each write
 * is one transaction: an endpoint's put or delete and the head (same generation, the write's
 * stamp), as an in-place write of iofencectl, without its guard (the bench is the only
 * writer).
 */
#define CHURN_WRITERS 64
/* Each endpoint put is deleted again this many puts later (while the churn runs). */
#define CHURN_LIVE 32

struct churn_write {
	atomic_llong rev; /* 0 until written; then t and t_done are set */
	double t, t_done;
	bool lagged;
};

static struct {
	struct churn_write *w;
	size_t total;
	atomic_size_t next;
	atomic_bool done, failed;
	const char *endpoints;
	struct etcd *c;
	double t0, rate;
	uint64_t generation;
	char *gen_dir, *head_key;
	double *lag;
	size_t n_lag;
} ch;

/* The txn of churn write i: its endpoint op and the head. 0 or -errno. */
static int churn_txn(struct etcd *c, size_t i, int64_t *rev, char *err, size_t err_len)
{
	Iofence__V1__ClusterHead head = IOFENCE__V1__CLUSTER_HEAD__INIT;
	Etcdserverpb__TxnRequest req = ETCDSERVERPB__TXN_REQUEST__INIT;
	Etcdserverpb__RequestOp ops[2], *opp[2] = {&ops[0], &ops[1]};
	Etcdserverpb__PutRequest ep_put = ETCDSERVERPB__PUT_REQUEST__INIT;
	Etcdserverpb__PutRequest head_put = ETCDSERVERPB__PUT_REQUEST__INIT;
	Etcdserverpb__DeleteRangeRequest ep_del = ETCDSERVERPB__DELETE_RANGE_REQUEST__INIT;
	Etcdserverpb__TxnResponse *resp = NULL;
	struct cluster_objs one = {0};
	uint8_t hbuf[256];
	char key[1024];
	bool put = i % 2 == 0 || i / 2 < CHURN_LIVE;
	unsigned k = put ? (unsigned)(i % 2 ? 100000 + i : i / 2) : (unsigned)(i / 2 - CHURN_LIVE);
	int r;

	etcdserverpb__request_op__init(&ops[0]);
	etcdserverpb__request_op__init(&ops[1]);
	r = put_endpoint(&one, k % (unsigned)n_agents, k);
	if (r)
		return r;
	snprintf(key, sizeof(key), "%s%s", ch.gen_dir, one.v[0].key);
	if (put) {
		ep_put.key.data = (uint8_t *)key;
		ep_put.key.len = strlen(key);
		ep_put.value.data = one.v[0].val;
		ep_put.value.len = one.v[0].len;
		ops[0].request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
		ops[0].request_put = &ep_put;
	} else {
		ep_del.key.data = (uint8_t *)key;
		ep_del.key.len = strlen(key);
		ops[0].request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE;
		ops[0].request_delete_range = &ep_del;
	}
	head.generation = ch.generation;
	head.writer = (char *)"bench_cluster";
	head.written_unix_nano = (uint64_t)(now_s() * 1e9);
	head_put.key.data = (uint8_t *)ch.head_key;
	head_put.key.len = strlen(ch.head_key);
	head_put.value.data = hbuf;
	head_put.value.len = iofence__v1__cluster_head__pack(&head, hbuf);
	ops[1].request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
	ops[1].request_put = &head_put;
	req.success = opp;
	req.n_success = 2;
	r = etcd_txn(c, &req, 10000, &resp, err, err_len);
	if (!r) {
		*rev = resp->header ? resp->header->revision : 0;
		etcdserverpb__txn_response__free_unpacked(resp, NULL);
	}
	cluster_objs_free(&one);
	return r;
}

static void *churn_writer(void *arg)
{
	struct etcd *c = NULL;
	char err[512];
	size_t i;

	(void)arg;
	if (etcd_open(ch.endpoints, NULL, &c, err, sizeof(err))) {
		atomic_store(&ch.failed, true);
		return NULL;
	}
	while ((i = atomic_fetch_add(&ch.next, 1)) < ch.total && !atomic_load(&ch.failed)) {
		double due = ch.t0 + (double)i / ch.rate, t;
		int64_t rev = 0;

		while ((t = now_s()) < due)
			usleep((useconds_t)((due - t) * 1e6));
		if (churn_txn(c, i, &rev, err, sizeof(err)) || !rev) {
			fprintf(stderr, "bench_cluster: churn write %zu: %s\n", i, err);
			atomic_store(&ch.failed, true);
			break;
		}
		ch.w[i].t = t;
		ch.w[i].t_done = now_s();
		atomic_store_explicit(&ch.w[i].rev, rev, memory_order_release);
	}
	etcd_close(c);
	return NULL;
}

/* Polls the agents every 5 ms: a write's lag is when the slowest agent enforces it. */
static void *churn_poll(void *arg)
{
	size_t first = 0;

	(void)arg;
	while (first < ch.total && !atomic_load(&ch.failed)) {
		int64_t min = min_applied(ch.c, NULL, NULL);
		double t = now_s();
		bool all = atomic_load(&ch.done);

		for (size_t i = first; i < ch.total; i++) {
			int64_t rev = atomic_load_explicit(&ch.w[i].rev, memory_order_acquire);

			if (ch.w[i].lagged)
				continue;
			if (rev && min >= rev) {
				ch.w[i].lagged = true;
				ch.lag[ch.n_lag++] = t - ch.w[i].t;
			} else {
				all = false;
			}
		}
		while (first < ch.total && ch.w[first].lagged)
			first++;
		if (all || (atomic_load(&ch.done) && t - ch.w[ch.total - 1].t_done > 60))
			break;
		usleep(5000);
	}
	return NULL;
}

/*
 * The floor without agents: plain watchers of what agents watch ([PREFIX/gen/, PREFIX/head]),
 * spread over the members as the agents are, each timing every head event from its stamp.
 */
struct watcher {
	pthread_t thread;
	size_t index;
	int64_t start;
	struct etcd_watch *w;
	double *lag;
	size_t n;
	bool ok;
};

static void *watch_main(void *arg)
{
	struct watcher *wt = arg;
	char eps[256], err[512], *gen_root = NULL, *end = NULL;
	struct etcd *c = NULL;
	const char *list[3];
	char *dup = strdup(ch.endpoints), *save = NULL;
	size_t n = 0;

	/* this watcher's first endpoint: index % members, as the agents spread */
	for (char *t = strtok_r(dup, ",", &save); t && n < 3; t = strtok_r(NULL, ",", &save))
		list[n++] = t;
	snprintf(eps, sizeof(eps), "%s", list[wt->index % n]);
	for (size_t i = 1; i < n; i++)
		snprintf(eps + strlen(eps), sizeof(eps) - strlen(eps), ",%s",
			 list[(wt->index + i) % n]);
	free(dup);
	if (asprintf(&gen_root, "%s/gen/", prefix) < 0 || asprintf(&end, "%s/head\x01", prefix) < 0 ||
	    etcd_open(eps, NULL, &c, err, sizeof(err)) ||
	    etcd_watch_open(c, gen_root, end, wt->start, &wt->w, err, sizeof(err))) {
		fprintf(stderr, "bench_cluster: watcher %zu: %s\n", wt->index, err);
		goto out;
	}
	wt->ok = true;
	while (wt->n < ch.total) {
		Etcdserverpb__WatchResponse *wr = NULL;

		if (etcd_watch_next(wt->w, &wr, err, sizeof(err)) != 1)
			break;
		for (size_t i = 0; i < wr->n_events; i++) {
			const Mvccpb__KeyValue *kv = wr->events[i]->kv;
			Iofence__V1__ClusterHead *h;

			if (!kv || kv->key.len != strlen(ch.head_key) ||
			    memcmp(kv->key.data, ch.head_key, kv->key.len))
				continue;
			h = iofence__v1__cluster_head__unpack(NULL, kv->value.len, kv->value.data);
			if (h && wt->n < ch.total)
				wt->lag[wt->n++] = now_s() - (double)h->written_unix_nano / 1e9;
			iofence__v1__cluster_head__free_unpacked(h, NULL);
		}
		etcdserverpb__watch_response__free_unpacked(wr, NULL);
	}
out:
	etcd_watch_close(wt->w);
	etcd_close(c);
	free(gen_root);
	free(end);
	return NULL;
}

/* Waits for the watchers (a minute past the last write at most); their lags into ch.lag. */
static void watchers_join(struct watcher *wt, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		while (wt[i].ok && wt[i].n < ch.total && now_s() - ch.t0 < (double)ch.total / ch.rate + 60)
			usleep(10000);
		if (wt[i].w && wt[i].n < ch.total)
			etcd_watch_cancel(wt[i].w);
		pthread_join(wt[i].thread, NULL);
		memcpy(ch.lag + ch.n_lag, wt[i].lag, wt[i].n * sizeof(double));
		ch.n_lag += wt[i].n;
		free(wt[i].lag);
	}
}

int churn(struct etcd *c, const struct cluster_state *st, const char *endpoints, double rate,
	  double seconds, size_t watchers)
{
	pthread_t writers[CHURN_WRITERS], poller;
	struct watcher *wt = calloc(watchers ? watchers : 1, sizeof(*wt));
	double *lat, t_end = 0;
	struct rusage ru;
	size_t n, want;

	ch.total = (size_t)(rate * seconds);
	ch.w = calloc(ch.total, sizeof(*ch.w));
	ch.lag = calloc(ch.total * (watchers ? watchers : 1), sizeof(*ch.lag));
	lat = calloc(ch.total, sizeof(*lat));
	ch.c = c;
	ch.endpoints = endpoints;
	ch.rate = rate;
	ch.generation = st->head ? st->head->generation : 0;
	ch.gen_dir = cluster_key_gen_dir(prefix, ch.generation);
	ch.head_key = cluster_key_head(prefix);
	if (!wt || !ch.w || !ch.lag || !lat || !ch.gen_dir || !ch.head_key || !ch.total)
		return 2;
	for (size_t i = 0; i < watchers; i++) {
		wt[i].index = i;
		wt[i].start = st->revision + 1;
		wt[i].lag = calloc(ch.total, sizeof(double));
		if (!wt[i].lag)
			return 2;
		pthread_create(&wt[i].thread, NULL, watch_main, &wt[i]);
	}
	ch.t0 = now_s() + (watchers ? 2.0 : 0.2); /* the watches open first */
	if (!watchers)
		pthread_create(&poller, NULL, churn_poll, NULL);
	for (size_t i = 0; i < CHURN_WRITERS; i++)
		pthread_create(&writers[i], NULL, churn_writer, NULL);
	for (size_t i = 0; i < CHURN_WRITERS; i++)
		pthread_join(writers[i], NULL);
	atomic_store(&ch.done, true);
	if (watchers)
		watchers_join(wt, watchers);
	else
		pthread_join(poller, NULL);
	n = 0;
	for (size_t i = 0; i < ch.total; i++) {
		if (!atomic_load(&ch.w[i].rev))
			continue;
		lat[n++] = ch.w[i].t_done - ch.w[i].t;
		if (ch.w[i].t_done > t_end)
			t_end = ch.w[i].t_done;
	}
	want = ch.total * (watchers ? watchers : 1);
	getrusage(RUSAGE_SELF, &ru);
	printf("RESULT mode=%s rate=%.0f/s writes=%zu achieved=%.1f/s write_median_ms=%.1f "
	       "write_p99_ms=%.1f lagged=%zu/%zu median_ms=%.1f p99_ms=%.1f max_ms=%.1f "
	       "bench_cpu_s=%.1f\n",
	       watchers ? "watch-floor" : "churn", rate, n,
	       n ? (double)n / (t_end - ch.t0) : 0.0, pct(lat, n, 50) * 1e3,
	       pct(lat, n, 99) * 1e3, ch.n_lag, want, pct(ch.lag, ch.n_lag, 50) * 1e3,
	       pct(ch.lag, ch.n_lag, 99) * 1e3, pct(ch.lag, ch.n_lag, 100) * 1e3,
	       (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		   (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	free(wt);
	return !atomic_load(&ch.failed) && ch.n_lag == want ? 0 : 1;
}
