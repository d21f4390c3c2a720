/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The engine (engine.c): the store, the datapath, the one apply worker and the published
 * snapshot. Other parts queue jobs, read the current snapshot, and learn of a new revision
 * through the publish subscribers they register before the worker starts. An apply's
 * document is read (parsed, validated) by the reader's threads (reader.h) before the worker
 * takes it, so a large or hostile document does not hold the applies queued behind it.
 */
#ifndef IOFENCE_IOFENCED_ENGINE_H
#define IOFENCE_IOFENCED_ENGINE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "job.h"
#include "snapshot.h"

struct engine;
struct datapath;
struct store_revision;

/* Apply latency histogram: buckets in seconds, non-cumulative counts. */
#define APPLY_BUCKETS 12
extern const double apply_bucket_le[APPLY_BUCKETS];

struct apply_stats {
	uint64_t ok, failed;
	uint64_t bucket[APPLY_BUCKETS];
	uint64_t usec_sum;
};

/* cfg outlives the engine. NULL on ENOMEM. */
struct engine *engine_new(const struct agent_config *cfg);
/* Locks the store file (before anything touches it): two agents never share one. */
int engine_lock_store(struct engine *e, char *err, size_t err_len);
/* Opens the store and the datapath and restores the latest revision. 0 or a ctl-style exit. */
int engine_start(struct engine *e);
/*
 * Calls fn(ctx) on the apply thread after each newly published revision. Register before
 * engine_run(): the list is not locked. -ENOSPC when full.
 */
int engine_on_publish(struct engine *e, void (*fn)(void *ctx), void *ctx);
/* Starts and stops the apply worker thread. */
int engine_run(struct engine *e);
void engine_stop(struct engine *e);
/* Closes the datapath (pins keep enforcing) and the store, unlocks it, frees e. */
void engine_free(struct engine *e);

/*
 * Queues a job for the apply worker (never blocks on an apply). The worker takes jobs in the
 * order they were queued, an apply once its document is read: an apply whose document is read
 * goes ahead of one still being read (their revisions checked when each is taken).
 */
void engine_submit(struct engine *e, struct job *job);
/*
 * Makes every revision committed so far durable. In cluster mode commits do not wait for the
 * disk (the follower calls this before it reports a revision); elsewhere each commit is
 * durable already. Any thread. 0 or -errno.
 */
int engine_sync(struct engine *e);
/* The applied revision (a reference, or NULL); release with snapshot_unref(). */
struct snapshot *engine_current(struct engine *e);
/* The current or previous revision if it has this number, else NULL. */
struct snapshot *engine_snapshot_of(struct engine *e, uint64_t revision);
/* The reconciler (guard.h). */
struct guard *engine_guard(struct engine *e);
/* NULL with --datapath=none. Reads (dp_read_*) are safe from any thread. */
struct datapath *engine_datapath(struct engine *e);
void engine_apply_stats(struct engine *e, struct apply_stats *ret);
/* A stored revision and the list of stored ones (free both); -errno. */
int engine_stored(struct engine *e, uint64_t revision, struct store_revision *ret,
		  uint64_t **ret_revisions, size_t *ret_n);

/*
 * The stored revisions, newest first: fn(ctx, revision) for at most *n of them (fn NULL: none),
 * under the store lock; *n is then the number stored. 0 or -errno.
 */
int engine_history(struct engine *e, void (*fn)(void *ctx, const struct store_revision *rev),
		   void *ctx, size_t *n);

#endif /* IOFENCE_IOFENCED_ENGINE_H */
