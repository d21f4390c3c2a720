// SPDX-License-Identifier: Apache-2.0
/*
 * The follower (cluster mode, docs/CLUSTER.md). Two threads:
 *
 * - watch: reads the policy whole (head + its generation) at one revision, then watches
 *   [PREFIX/gen/, PREFIX/head] from the next revision and keeps the mirror of the current
 *   generation up to date, one watch response (whole revisions) at a time. A head that moves
 *   to another generation makes it read that generation at the head's revision. A lost stream
 *   is reopened from the revision after the last one seen (backoff with jitter, next
 *   endpoint); a compacted one makes it read the policy whole again.
 * - work: when the mirror's policy revision is newer than the one enforced, waits the batch
 *   window (batch_window.h) and submits the revision to the engine: only the changed
 *   endpoints and groups when nothing else changed (a JOB_DELTA: no whole document rebuilt),
 *   else the mirror as a whole PolicyDocument with the etcd revision as its revision (and its
 *   changed objects, which the store keeps instead of the document); then writes the node's
 *   status key (follower_status.c). A revision that does not decode or is refused stays
 *   unenforced: the last good one keeps enforcing and the status says why.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "agent/etcd/cluster.h"
#include "engine.h"
#include "follower.h"
#include "follower_internal.h"
#include "log.h"
#include "snapshot.h"

uint64_t follower_now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Waits on f->cond until ms pass or stop (lock held). */
static void wait_ms(struct follower *f, long ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	if (!f->stop)
		pthread_cond_timedwait(&f->cond, &f->lock, &ts);
}

/* Waits on f->cond until the monotonic time deadline (UINT64_MAX: until woken). Lock held. */
static void wait_until(struct follower *f, uint64_t deadline_usec)
{
	struct timespec ts = {.tv_sec = (time_t)(deadline_usec / 1000000u),
			      .tv_nsec = (long)(deadline_usec % 1000000u) * 1000L};

	if (f->stop)
		return;
	if (deadline_usec == UINT64_MAX)
		pthread_cond_wait(&f->cond, &f->lock);
	else
		pthread_cond_timedwait(&f->cond, &f->lock, &ts);
}

/* Wakes the work thread (it sleeps until its next deadline otherwise). Lock not held. */
static void wake_work(struct follower *f)
{
	pthread_mutex_lock(&f->lock); /* a waiter between its check and its wait is not missed */
	pthread_mutex_unlock(&f->lock);
	pthread_cond_broadcast(&f->cond);
}

/* A change the work thread has not applied yet arrived now (lock held): true when it is the
 * first, which opens a batch window (the work thread must wake; later ones join the batch). */
static bool note_pending(struct follower *f)
{
	if (f->pending_since_usec)
		return false;
	f->pending_since_usec = follower_now_usec();
	f->batch_deadline_usec = batch_window_open(&f->batch, f->pending_since_usec);
	return true;
}

/* A window of churn is open (lock held): the watch holds its reads until it ends. A change
 * that comes alone, or the first window of churn (the shortest), is read as it comes. */
static bool batch_held(const struct follower *f)
{
	return f->batch_deadline_usec && f->batch.window_ms > BATCH_WINDOW_MIN_MS &&
	       f->drained_usec != f->batch_deadline_usec;
}

/*
 * The next watch response. While a window of churn is open the stream is not read until the
 * window ends: its events wait in the socket and one wake-up then reads them all, instead of
 * a wake-up (a thread switch or more) per event. At the end of the window the stream is read
 * without waiting until nothing is left, and the work thread learns that the batch holds every
 * event that arrived in its window (drained_usec). 1, 0 or -errno as etcd_watch_next().
 */
static int watch_next(struct follower *f, struct etcd_watch *w,
		      Etcdserverpb__WatchResponse **wr, char *err, size_t len)
{
	pthread_mutex_lock(&f->lock);
	while (!f->stop && batch_held(f)) {
		uint64_t deadline = f->batch_deadline_usec;
		int r;

		if (follower_now_usec() < deadline) {
			wait_until(f, deadline);
			continue;
		}
		pthread_mutex_unlock(&f->lock);
		r = etcd_watch_next_until(w, 0, wr, err, len);
		if (r != -ETIMEDOUT)
			return r;
		pthread_mutex_lock(&f->lock);
		if (f->batch_deadline_usec == deadline) {
			f->drained_usec = deadline;
			pthread_cond_broadcast(&f->cond);
		}
	}
	pthread_mutex_unlock(&f->lock);
	return etcd_watch_next_until(w, -1, wr, err, len);
}

static void set_connected(struct follower *f, bool up, const char *why)
{
	bool was = atomic_exchange(&f->connected, up);

	if (was == up)
		return;
	wake_work(f); /* connected: a status put may be due */
	if (up) {
		atomic_store(&f->disconnected_since, 0);
		log_info("datastore: connected to %s", etcd_current(f->etcd));
	} else {
		atomic_store(&f->disconnected_since, (long long)time(NULL));
		log_warn("datastore: disconnected (%s); enforcing revision %lld meanwhile", why,
			 (long long)f->applied_rev);
	}
}

/* Reads the policy whole (at AT, 0: newest) into the mirror. */
static int resync(struct follower *f, int64_t at, char *err, size_t len)
{
	struct cluster_state st;
	int r = cluster_read(f->etcd, f->prefix, at, &st, err, len);

	if (!r) {
		pthread_mutex_lock(&f->lock);
		r = cluster_mirror_install(&f->m, &st);
		note_pending(f);
		pthread_cond_broadcast(&f->cond);
		pthread_mutex_unlock(&f->lock);
		log_info("datastore: read the policy at revision %lld (policy revision %lld, %zu "
			 "objects)",
			 (long long)st.revision, (long long)st.policy_revision, f->m.objs.n);
	}
	cluster_state_free(&st);
	return r;
}

/*
 * Applies one watch response to the mirror. Returns 0, or the revision whose generation must
 * be read whole (the head moved to another generation).
 */
static int64_t take_events(struct follower *f, const Etcdserverpb__WatchResponse *wr)
{
	bool changed, wake = false;
	int64_t reload;

	pthread_mutex_lock(&f->lock);
	reload = cluster_mirror_take(&f->m, wr, &changed);
	if (changed)
		wake = note_pending(f);
	if (f->m.bad_rev > f->attempted_rev) {
		f->failed_rev = f->attempted_rev = f->m.bad_rev;
		snprintf(f->error, sizeof(f->error), "revision %lld: %s", (long long)f->m.bad_rev,
			 f->m.bad);
		log_error("datastore: %s (still enforcing revision %lld)", f->error,
			  (long long)f->applied_rev);
		f->status_dirty = true;
		wake = true;
	}
	pthread_mutex_unlock(&f->lock);
	if (wake) /* after the unlock, as in job_done() */
		pthread_cond_broadcast(&f->cond);
	return reload;
}

/* The backoff before the next attempt, spent making the current endpoint connect (in short
 * waits: a stop ends it; once connected, the rest is slept). */
static void wait_connected(struct follower *f, long ms)
{
	uint64_t end = follower_now_usec() + (uint64_t)ms * 1000u, now;

	while (!f->stop && (now = follower_now_usec()) < end) {
		long left = (long)((end - now) / 1000u);

		if (etcd_wait_connected(f->etcd, left < 200 ? (int)left : 200)) {
			pthread_mutex_lock(&f->lock);
			wait_ms(f, left);
			pthread_mutex_unlock(&f->lock);
			break;
		}
	}
}

static long backoff_next(long *backoff)
{
	long ms = *backoff / 2 + (long)(random() % (*backoff + 1)); /* jitter: 0.5x .. 1.5x */

	*backoff = *backoff * 2 > 5000 ? 5000 : *backoff * 2;
	return ms;
}

static void *watch_main(void *arg)
{
	struct follower *f = arg;
	bool need_full = true;
	long backoff = 100;
	char err[512];

	while (!f->stop) {
		Etcdserverpb__WatchResponse *wr = NULL;
		struct etcd_watch *w = NULL;
		int64_t start;
		int r;

		if (need_full) {
			r = resync(f, 0, err, sizeof(err));
			if (r)
				goto retry;
			need_full = false;
		}
		pthread_mutex_lock(&f->lock);
		start = f->m.seen_rev + 1;
		pthread_mutex_unlock(&f->lock);
		r = etcd_watch_open(f->etcd, f->gen_root, f->watch_end, start, &w, err, sizeof(err));
		if (r)
			goto retry;
		pthread_mutex_lock(&f->lock);
		f->watch = f->stop ? NULL : w;
		pthread_mutex_unlock(&f->lock);
		while (f->watch && (r = watch_next(f, w, &wr, err, sizeof(err))) == 1) {
			int64_t reload;

			if (wr->canceled) {
				snprintf(err, sizeof(err), "watch canceled at %lld: %s",
					 (long long)wr->compact_revision,
					 wr->cancel_reason ? wr->cancel_reason : "");
				need_full = wr->compact_revision > 0;
				if (need_full)
					log_warn("datastore: revision %lld was compacted (now %lld): "
						 "reading the policy whole",
						 (long long)start, (long long)wr->compact_revision);
				etcdserverpb__watch_response__free_unpacked(wr, NULL);
				break;
			}
			if (wr->created) {
				set_connected(f, true, NULL);
				backoff = 100;
			}
			reload = take_events(f, wr);
			etcdserverpb__watch_response__free_unpacked(wr, NULL);
			if (reload && resync(f, reload, err, sizeof(err))) {
				need_full = true;
				break;
			}
		}
		pthread_mutex_lock(&f->lock);
		f->watch = NULL;
		pthread_mutex_unlock(&f->lock);
		etcd_watch_close(w);
		if (need_full && !f->stop) {
			/* compacted or a generation that could not be read: no backoff needed */
			continue;
		}
	retry:
		if (f->stop)
			break;
		set_connected(f, false, err);
		etcd_rotate(f->etcd);
		wait_connected(f, backoff_next(&backoff));
	}
	return NULL;
}

static void job_done(struct job *job)
{
	struct follower *f = job->ctx;

	atomic_store(&f->completing, true);
	pthread_mutex_lock(&f->lock);
	f->job_status = job->status;
	snprintf(f->job_details, sizeof(f->job_details), "%s",
		 job->details ? job->details : rpc_status_name(job->status));
	f->job_done = true;
	pthread_mutex_unlock(&f->lock);
	/* after the unlock: a waiter woken under the lock would block on it at once (two more
	 * thread switches per apply) */
	pthread_cond_broadcast(&f->cond);
	atomic_store(&f->completing, false); /* f may be freed from here on */
	job_free(job);
}

/* Every group the delta changes is in the enforced document (replaced, not added). */
static bool groups_enforced(struct follower *f, const Iofence__V1__PolicyDelta *delta)
{
	struct snapshot *s = engine_current(f->a->engine);
	const struct policy_document *doc = s ? snapshot_doc(s) : NULL;
	bool all = doc != NULL;

	for (size_t i = 0; all && i < delta->n_changes; i++) {
		char *name = NULL;
		bool found = false;

		if (strncmp(delta->changes[i]->key, "groups/", 7))
			continue;
		if (!cluster_key_group_name(delta->changes[i]->key, &name))
			for (size_t g = 0; !found && g < doc->n_groups; g++)
				found = doc->groups[g].name && !strcmp(doc->groups[g].name, name);
		free(name);
		all = found;
	}
	snapshot_unref(s);
	return all;
}

/*
 * The job of the mirror's revision: only the changed endpoints and groups when nothing else
 * changed since the enforced revision and no group came or went (JOB_DELTA), else the whole
 * document (with its changes for the store's journal when they are known). NULL with err set
 * when the mirror does not decode.
 */
static struct job *job_of_mirror(struct follower *f, int64_t rev, char *err, size_t len)
{
	Iofence__V1__PolicyDocument *doc = NULL;
	Iofence__V1__PolicyDelta *delta = NULL;
	Iofence__V1__ApplyRequest *req = NULL;
	struct job *job = calloc(1, sizeof(*job));
	bool derivable = false;
	int r;

	if (!job ||
	    cluster_mirror_changes(&f->m, (uint64_t)f->applied_rev, &delta, &derivable)) {
		snprintf(err, len, "out of memory");
		goto fail;
	}
	/* a refused revision left the store and the mirror's changes apart: whole again */
	if (f->need_whole || !f->applied_rev) {
		if (delta)
			iofence__v1__policy_delta__free_unpacked(delta, NULL);
		delta = NULL;
	}
	job->delta = delta;
	if (delta && derivable && groups_enforced(f, delta)) {
		job->kind = JOB_DELTA;
		job->delta_revision = (uint64_t)rev;
		return job;
	}
	/* many changes: the store keeps the whole document rather than a long delta */
	if (delta && delta->n_changes > f->m.objs.n / 4) {
		iofence__v1__policy_delta__free_unpacked(delta, NULL);
		job->delta = NULL;
	}
	r = cluster_pb_from_objs(&f->m.objs, &doc, err, len);
	req = r ? NULL : calloc(1, sizeof(*req));
	if (!req) {
		if (r == -ENOMEM || !r)
			snprintf(err, len, "out of memory");
		goto fail;
	}
	doc->revision = (uint64_t)rev;
	doc->has_revision = true;
	iofence__v1__apply_request__init(req);
	req->document = doc;
	req->source_name = strdup(FOLLOWER_SOURCE_NAME);
	job->kind = JOB_APPLY;
	job->req = req;
	return job;
fail:
	if (doc)
		iofence__v1__policy_document__free_unpacked(doc, NULL);
	job_free(job);
	return NULL;
}

/* Builds and submits the mirror's policy; waits for the engine. Lock held (released inside). */
static void apply_mirror(struct follower *f)
{
	struct job *job;
	int64_t rev;
	uint64_t written;
	char err[512] = "";

	/* the batch window has passed: what arrived since joins this apply */
	f->pending_since_usec = 0;
	f->batch_deadline_usec = 0;
	rev = f->m.policy_rev;
	written = f->m.written_ns;
	job = job_of_mirror(f, rev, err, sizeof(err));
	f->attempted_rev = rev;
	if (!job) {
		f->failed_rev = rev;
		f->need_whole = true;
		snprintf(f->error, sizeof(f->error), "revision %lld: %s", (long long)rev, err);
		log_error("datastore: %s (still enforcing revision %lld)", f->error,
			  (long long)f->applied_rev);
		f->status_dirty = true;
		batch_window_applied(&f->batch, follower_now_usec());
		return;
	}
	job->complete = job_done;
	job->ctx = f;
	iofence__v1__apply_response__init(&job->resp);
	f->busy = true;
	f->job_done = false;
	batch_window_applying(&f->batch);
	pthread_mutex_unlock(&f->lock);
	engine_submit(f->a->engine, job);
	pthread_mutex_lock(&f->lock);
	while (!f->job_done)
		pthread_cond_wait(&f->cond, &f->lock);
	f->busy = false;
	batch_window_applied(&f->batch, follower_now_usec());
	if (f->job_status == GRPC_STATUS_OK) {
		f->applied_rev = rev;
		f->failed_rev = 0;
		f->foreign = false;
		f->need_whole = false;
		f->error[0] = 0;
		if (!f->unsynced_since_usec)
			f->unsynced_since_usec = follower_now_usec();
		if (written) {
			double d = ((double)realtime_ns() - (double)written) / 1e9;

			follower_observe_delay(f, d < 0 ? 0 : d);
		}
	} else {
		char *nl;

		f->failed_rev = rev;
		f->need_whole = true;
		snprintf(f->error, sizeof(f->error), "revision %lld: %s: %s", (long long)rev,
			 rpc_status_name(f->job_status), f->job_details);
		nl = strchr(f->error, '\n');
		if (nl)
			*nl = 0;
		if (f->foreign)
			snprintf(f->error + strlen(f->error), sizeof(f->error) - strlen(f->error),
				 "; revision %lld in this node's store did not come from the datastore:"
				 " start the agent with a fresh --state to follow it",
				 (long long)f->applied_rev);
		log_error("datastore: %s (still enforcing revision %lld)", f->error,
			  (long long)f->applied_rev);
	}
	f->status_dirty = true;
}

/* A newer revision waits to be applied (lock held). */
static bool apply_pending(const struct follower *f)
{
	return f->m.policy_rev != f->attempted_rev &&
	       (f->m.policy_rev != f->applied_rev || f->foreign) && !f->busy;
}

static uint64_t earliest(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/*
 * Applies batches when their window has passed (batch_window.h), reports after each apply
 * (at most every FOLLOWER_STATUS_MIN_MS) and keeps the lease alive; sleeps until the next of
 * these is due or a first change arrives, so an idle agent wakes only for its keep-alives.
 */
static void *work_main(void *arg)
{
	struct follower *f = arg;
	uint64_t last_put = 0;

	pthread_mutex_lock(&f->lock);
	while (!f->stop) {
		uint64_t now = follower_now_usec(), wake = UINT64_MAX;
		uint64_t put_at = last_put + FOLLOWER_STATUS_MIN_MS * 1000ull;
		uint64_t alive_at = f->lease_alive_usec + FOLLOWER_KEEPALIVE_MS * 1000ull;
		uint64_t sync_at = f->unsynced_since_usec + FOLLOWER_SYNC_MS * 1000ull;
		bool dirty = f->status_dirty && atomic_load(&f->connected);
		bool pending = apply_pending(f);
		uint64_t apply_at;

		if (!pending) {
			f->pending_since_usec = 0;
			f->batch_deadline_usec = 0;
		} else if (!f->batch_deadline_usec) {
			note_pending(f);
		}
		/* at the window's end; a held one once the watch has read what arrived in it, or
		 * a little later whatever the watch does (it may be reconnecting) */
		apply_at = batch_held(f) ? f->batch_deadline_usec + FOLLOWER_DRAIN_WAIT_MS * 1000ull
					 : f->batch_deadline_usec;
		/* the status of an apply goes out before the next apply starts: under churn
		 * the node keeps reporting progress (the window bounds how often) */
		if (dirty && now >= put_at) {
			pthread_mutex_unlock(&f->lock);
			follower_write_status(f);
			last_put = now;
			pthread_mutex_lock(&f->lock);
			continue;
		}
		if (pending && now >= apply_at) {
			apply_mirror(f);
			continue;
		}
		if (f->unsynced_since_usec && now >= sync_at) {
			pthread_mutex_unlock(&f->lock);
			follower_sync_store(f);
			pthread_mutex_lock(&f->lock);
			if (f->unsynced_since_usec) /* it failed: not again at once */
				f->unsynced_since_usec = follower_now_usec();
			continue;
		}
		if (f->lease && now >= alive_at) {
			pthread_mutex_unlock(&f->lock);
			if (follower_keep_lease(f))
				last_put = now; /* unreachable: the next put waits its interval */
			pthread_mutex_lock(&f->lock);
			continue;
		}
		if (dirty)
			wake = put_at;
		if (pending)
			wake = earliest(wake, apply_at);
		if (f->lease)
			wake = earliest(wake, alive_at);
		if (f->unsynced_since_usec)
			wake = earliest(wake, sync_at);
		wait_until(f, wake);
	}
	pthread_mutex_unlock(&f->lock);
	if (follower_finish_put(f, false) == -EINPROGRESS) { /* stopping: not waited for */
		etcd_put_cancel(f->put);
		f->put = NULL;
	}
	return NULL;
}

int follower_start(struct agent *a, char *err, size_t err_len)
{
	struct rpc_tls tls = {a->cfg.etcd_ca, a->cfg.etcd_cert, a->cfg.etcd_key};
	struct follower *f;
	struct snapshot *s;
	const char *from; /* who sent the enforced revision */
	int r;

	if (!a->cfg.etcd_endpoints)
		return 0;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	a->follower = f;
	f->a = a;
	pthread_mutex_init(&f->lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&f->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	srandom((unsigned)(time(NULL) ^ getpid()));
	r = etcd_open(a->cfg.etcd_endpoints, &tls, &f->etcd, err, err_len);
	if (r)
		return r;
	f->prefix = strdup(a->cfg.etcd_prefix);
	if (cluster_mirror_init(&f->m, a->cfg.etcd_prefix))
		return -ENOMEM;
	f->head_key = cluster_key_head(f->prefix);
	if (asprintf(&f->status_key, "%s/status/%s", f->prefix, a->cfg.node) < 0)
		f->status_key = NULL;
	if (asprintf(&f->gen_root, "%s/gen/", f->prefix) < 0)
		f->gen_root = NULL;
	/* [PREFIX/gen/, PREFIX/head] and nothing else (status keys sort after "head") */
	if (asprintf(&f->watch_end, "%s/head\x01", f->prefix) < 0)
		f->watch_end = NULL;
	if (!f->prefix || !f->head_key || !f->status_key || !f->gen_root || !f->watch_end)
		return -ENOMEM;
	s = engine_current(a->engine);
	f->applied_rev = s ? (int64_t)snapshot_revision(s) : 0;
	from = s ? snapshot_source_name(s) : NULL;
	f->foreign = f->applied_rev && (!from || strcmp(from, FOLLOWER_SOURCE_NAME));
	f->attempted_rev = f->applied_rev;
	f->m.policy_rev = f->applied_rev;
	snapshot_unref(s);
	atomic_store(&f->disconnected_since, (long long)time(NULL));
	f->status_dirty = true; /* the node's key is written once connected */
	r = -pthread_create(&f->watch_thread, NULL, watch_main, f);
	f->watch_started = !r;
	if (!r)
		r = -pthread_create(&f->work_thread, NULL, work_main, f);
	f->work_started = !r;
	if (r)
		snprintf(err, err_len, "follower: %s", strerror(-r));
	else
		log_info("following the datastore at %s (prefix %s), enforcing revision %lld",
			 a->cfg.etcd_endpoints, f->prefix, (long long)f->applied_rev);
	return r;
}

void follower_stop(struct agent *a)
{
	struct follower *f = a->follower;

	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	f->stop = true;
	if (f->watch)
		etcd_watch_cancel(f->watch);
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	if (f->watch_started)
		pthread_join(f->watch_thread, NULL);
	if (f->work_started)
		pthread_join(f->work_thread, NULL);
	while (atomic_load(&f->completing)) /* the engine's thread still signalling */
		sched_yield();
	if (f->unsynced_since_usec) /* what was applied stays across a power loss after a stop */
		follower_sync_store(f);
	etcd_close(f->etcd);
	cluster_mirror_free(&f->m);
	free(f->prefix);
	free(f->head_key);
	free(f->status_key);
	free(f->gen_root);
	free(f->watch_end);
	pthread_mutex_destroy(&f->lock);
	pthread_cond_destroy(&f->cond);
	free(f);
	a->follower = NULL;
}
