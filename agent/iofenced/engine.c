// SPDX-License-Identifier: Apache-2.0
/*
 * The engine's life: creation, the store lock, the start (datapath open, restore), the
 * teardown, and the accessors and apply statistics other parts read. The apply worker is in
 * engine_queue.c, an apply in engine_apply.c and engine_delta.c, the store in engine_store.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <grpc/status.h>

#include "agent/datapath/datapath.h"
#include "engine.h"
#include "engine_internal.h"
#include "follower.h"
#include "failsafe.h"
#include "guard.h"
#include "journal.h"
#include "log.h"
#include "policy/errors.h"
#include "policy/parse.h"
#include "policy/pb.h"
#include "policy/write.h"
#include "reader.h"
#include "warnings.h"
#include "store/store.h"

/* The heap is trimmed after applies have paused this long. */
#define TRIM_IDLE_MS 200

const double apply_bucket_le[APPLY_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
					       0.1,   0.25,   0.5,   1,	   2.5,	  10};

static int mkdir_parents(const char *path)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

void engine_observe_apply(struct engine *e, uint64_t usec, bool ok)
{
	double s = (double)usec / 1e6;
	size_t i;

	atomic_fetch_add(ok ? &e->apply_ok : &e->apply_failed, 1);
	if (!ok)
		return;
	atomic_fetch_add(&e->apply_usec_sum, usec);
	for (i = 0; i < APPLY_BUCKETS && s > apply_bucket_le[i]; i++)
		;
	if (i < APPLY_BUCKETS)
		atomic_fetch_add(&e->apply_bucket[i], 1);
}

struct engine *engine_new(const struct agent_config *cfg)
{
	struct engine *e = calloc(1, sizeof(*e));
	pthread_condattr_t ca;

	if (!e)
		return NULL;
	e->cfg = cfg;
	e->store_lock_fd = -1;
	pthread_mutex_init(&e->store_mutex, NULL);
	pthread_mutex_init(&e->snap_lock, NULL);
	pthread_mutex_init(&e->q_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&e->q_cond, &ca);
	pthread_condattr_destroy(&ca);
	e->guard = guard_new(e, cfg);
	if (!e->guard) {
		engine_free(e);
		return NULL;
	}
	return e;
}

int engine_lock_store(struct engine *e, char *err, size_t len)
{
	char lock[4200];
	int fd, r;

	r = mkdir_parents(e->cfg->state);
	if (r) {
		snprintf(err, len, "%s: cannot create its directory: %s", e->cfg->state,
			 strerror(-r));
		return r;
	}
	snprintf(lock, sizeof(lock), "%s.lock", e->cfg->state);
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, len, "%s: %s", lock, strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		snprintf(err, len, "%s: another agent is using this store (%s is locked)",
			 e->cfg->state, lock);
		close(fd);
		return -EBUSY;
	}
	e->store_lock_fd = fd;
	return 0;
}

int engine_start(struct engine *e)
{
	char err[512] = "";
	int r;

	r = store_open(e->cfg->state, &e->store, err, sizeof(err));
	if (r) {
		log_error("store: %s", err[0] ? err : strerror(-r));
		return 2;
	}
	store_set_keep(e->store, e->cfg->keep);
	/*
	 * Cluster mode: the datastore holds the truth, and the follower acknowledges (its status
	 * key) less often than the engine commits under churn: commits are made durable by
	 * engine_sync() before each acknowledgement, one fsync for all the revisions it reports.
	 */
	if (e->cfg->etcd_endpoints && store_set_deferred_sync(e->store, true))
		log_warn("store: commits stay synchronous: %s", store_last_error(e->store));
	journal_chain_restart(&e->chain, 0);
	if (!e->cfg->datapath_none) {
		struct dp_options opts = {
		    .pin_dir = e->cfg->pin_dir,
		    .bpf_object = e->cfg->bpf_object,
		    .config =
			{
			    /* conntrack timeouts: the datapath's defaults (IOF_CT_DEFAULT_*) */
			    .events_per_sec = e->cfg->events_per_sec,
			    .flags = IOF_CFG_EVENT_ALLOWS,
			},
		};

		opts.xdp_generic = e->cfg->xdp_generic;
		opts.n_failsafe =
		    failsafe_table(e->cfg, opts.failsafe, IOF_FAILSAFE_MAX, err, sizeof(err));
		if (err[0])
			log_warn("failsafe: table full (%d entries): left out %s", IOF_FAILSAFE_MAX,
				 err);
		err[0] = 0;
		/* before the object loads: interfaces that came while no agent ran */
		uint64_t t0 = engine_now_usec();

		r = dp_early_enforce(e->cfg->pin_dir, err, sizeof(err));
		if (r < 0)
			log_warn("early enforcement: %s", err);
		else if (r > 0)
			log_info(
			    "early enforcement: %d interface%s attached from the pinned programs "
			    "in %.1f ms (%ld ms after process start)",
			    r, r == 1 ? "" : "s", (double)(engine_now_usec() - t0) / 1000.0,
			    guard_ms_since_process_start());
		err[0] = 0;
		r = dp_open(&opts, &e->dp, err, sizeof(err));
		if (r) {
			log_error("datapath: %s", err[0] ? err : strerror(-r));
			return 2;
		}
		log_info("datapath: %s pin dir %s (active revision %llu)",
			 dp_adopted(e->dp) ? "adopted" : "created", e->cfg->pin_dir,
			 (unsigned long long)dp_active_revision(e->dp));
	} else {
		log_warn("datapath: none (test mode): policies are stored but NOT enforced");
	}
	r = engine_restore(e);
	guard_refresh(e->guard);
	guard_start(e->guard); /* its checks run beside applies from now on */
	return r;
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	guard_free(e->guard);
	snapshot_unref(engine_publish(e, NULL));
	snapshot_unref(engine_publish(e, NULL));
	if (e->dp)
		dp_close(e->dp);
	store_close(e->store);
	if (e->store_lock_fd >= 0) {
		char lock[4200];

		snprintf(lock, sizeof(lock), "%s.lock", e->cfg->state);
		unlink(lock);
		close(e->store_lock_fd);
	}
	pthread_mutex_destroy(&e->store_mutex);
	pthread_mutex_destroy(&e->snap_lock);
	pthread_mutex_destroy(&e->q_lock);
	pthread_cond_destroy(&e->q_cond);
	free(e);
}

struct guard *engine_guard(struct engine *e)
{
	return e->guard;
}

struct datapath *engine_datapath(struct engine *e)
{
	return e->dp;
}

void engine_apply_stats(struct engine *e, struct apply_stats *ret)
{
	ret->ok = atomic_load(&e->apply_ok);
	ret->failed = atomic_load(&e->apply_failed);
	ret->usec_sum = atomic_load(&e->apply_usec_sum);
	for (size_t i = 0; i < APPLY_BUCKETS; i++)
		ret->bucket[i] = atomic_load(&e->apply_bucket[i]);
}
