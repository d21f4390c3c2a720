/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The engine (engine.c): the store, the datapath, the one apply worker and the published
 * snapshot. Other parts queue jobs, read the current snapshot, and learn of a new revision
 * through the publish subscribers they register before the worker starts.
 */
#ifndef IOFENCE_IOFENCED_ENGINE_H
#define IOFENCE_IOFENCED_ENGINE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <iofence/v1/agent.pb-c.h>

#include "config.h"
#include "snapshot.h"

struct engine;
struct datapath;
struct store_revision;

enum job_kind { JOB_APPLY, JOB_CGROUP };

struct job {
	struct job *next;
	enum job_kind kind;
	/* JOB_APPLY */
	Iofence__V1__ApplyRequest *req;	   /* owned by the job */
	void (*complete)(struct job *job); /* called on the apply thread; frees the job */
	void *ctx;
	int status;    /* grpc_status_code */
	char *details; /* malloc'ed */
	void *errors;  /* packed ValidationErrors or NULL */
	size_t errors_len;
	Iofence__V1__ApplyResponse resp;
	char **warnings; /* malloc'ed lines resp.warnings points to */
	size_t n_warnings;
	uint64_t deadline_usec;	      /* the client's, CLOCK_MONOTONIC microseconds; 0: none */
	bool (*abandoned)(void *ctx); /* the client has cancelled (NULL: cannot tell) */
	bool dry_run;		      /* ApplyDryRun: validate, decide, warn; change nothing */
	/* JOB_CGROUP */
	bool up;      /* the cgroup exists */
	char *cgroup; /* malloc'ed path */
};

void job_free(struct job *job);

/*
 * What one apply may hold the worker for (docs/AGENT.md, "Bounds"): reading its document
 * (parse, validate, revision check, pack) stops at this budget, or at the client's deadline
 * when that comes first; compile and the datapath write are bounded by the maps' capacity.
 * An apply whose client has cancelled, or whose deadline has passed, is not started.
 */
#define APPLY_READ_BUDGET_MS 2000

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

/* Queues a job for the apply worker (never blocks on an apply). */
void engine_submit(struct engine *e, struct job *job);
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
