/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the engine's files share (engine*.c): the engine's state and the steps of an apply.
 * Not for other parts: they use engine.h.
 */
#ifndef IOFENCE_IOFENCED_ENGINE_INTERNAL_H
#define IOFENCE_IOFENCED_ENGINE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "engine.h"
#include "journal.h"
#include "job.h"
#include "snapshot.h"
#include <iofence/v1/agent.pb-c.h>

/* The publish subscribers a list holds at most. */
#define MAX_SUBSCRIBERS 8

struct engine {
	const struct agent_config *cfg;
	int store_lock_fd; /* flock of <state>.lock, -1 when not held */
	struct store *store;
	pthread_mutex_t store_mutex; /* store handle: apply thread and readers */
	uint64_t store_latest;	     /* newest stored revision (apply thread) */
	struct journal_chain chain;  /* deltas stored since the last whole document */
	struct datapath *dp;	     /* NULL with --datapath=none */

	pthread_mutex_t snap_lock;
	struct snapshot *current;  /* NULL: nothing applied */
	struct snapshot *previous; /* the revision before (slim), for events of the old slot */
	struct {
		void (*fn)(void *ctx);
		void *ctx;
	} subscribers[MAX_SUBSCRIBERS];
	size_t n_subscribers;

	pthread_mutex_t q_lock;
	pthread_cond_t q_cond;
	struct job *q_head, *q_tail;
	bool q_stop;
	struct reader *reader; /* reads applies' documents (NULL: not running) */
	bool reader_stopped;   /* an apply queued now is refused at once */
	bool trim_pending;     /* an apply left heap to give back (apply thread only) */
	pthread_t apply_thread;
	bool running;

	atomic_uint_fast64_t apply_ok, apply_failed;
	atomic_uint_fast64_t apply_bucket[APPLY_BUCKETS]; /* non-cumulative */
	atomic_uint_fast64_t apply_usec_sum;
	struct guard *guard; /* the reconciler (guard.h), runs on the apply thread */
};

static inline uint64_t engine_now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* engine_publish.c */
/*
 * Makes s current and a slim copy of the current one previous. Returns the snapshot the caller
 * unrefs when it has time (with readers gone, freeing a large document takes milliseconds).
 */
struct snapshot *engine_publish(struct engine *e, struct snapshot *s);
/* Tells the subscribers a new revision is current (apply thread). */
void engine_announce(struct engine *e);

/* engine.c */
void engine_observe_apply(struct engine *e, uint64_t usec, bool ok);

/* engine_apply.c */
/* Compiles doc and swaps it into the datapath. grpc status; message in err. */
int engine_compile_and_swap(struct engine *e, struct policy_document *doc,
			    struct policy_image **ret_img, uint64_t *compile_usec,
			    uint64_t *dp_usec, char *err, size_t len);
/* The image of a revision just enforced, for its snapshot: entries kept in cluster mode. */
void engine_keep_image(struct engine *e, struct policy_image *img);
/* A commit failed after the swap: put the enforced revision's image back. */
void engine_swap_back(struct engine *e);
/* Map entries an image wrote (the Apply response's and the CLI's figure). */
uint64_t engine_image_entries(const struct policy_image *img);
/* Applies the document the reader read for job; returns the retired snapshot. */
struct snapshot *engine_apply_document(struct engine *e, struct job *job);

/* engine_delta.c */
/* Applies a JOB_DELTA; returns the retired snapshot. */
struct snapshot *engine_apply_delta(struct engine *e, struct job *job);

/* engine_store.c */
/* The revision can be stored as its delta (journal.h) rather than as the whole document. */
bool engine_journal_fits(const struct engine *e, const Iofence__V1__PolicyDelta *delta);
/* Packs msg (a PolicyDocument or PolicyDelta) for the store. */
uint8_t *engine_pack_message(const ProtobufCMessage *msg, size_t *len);
/* Commits rev (whole or as its delta); err says why not. 0 or -errno. */
int engine_store_revision(struct engine *e, uint64_t rev, bool journal, uint64_t base,
			  const uint8_t *packed, size_t packed_len, const char *name,
			  const char *source, char *err, size_t len);
/* After an ack: a journal chain past its due length is stored whole again. */
void engine_rebase_journal(struct engine *e);
/* Restores the store's latest revision into the datapath. 0 or a ctl-style exit. */
int engine_restore(struct engine *e);

#endif /* IOFENCE_IOFENCED_ENGINE_INTERNAL_H */
