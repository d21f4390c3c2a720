/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside the follower (follower.h): its state, shared by follower.c (the watch, batching and
 * applies) and follower_status.c (the status key, its lease, the metrics).
 */
#ifndef IOFENCE_IOFENCED_FOLLOWER_INTERNAL_H
#define IOFENCE_IOFENCED_FOLLOWER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/etcd/batch_window.h"
#include "agent/etcd/mirror.h"

#define DELAY_BUCKETS 12

struct follower {
	struct agent *a;
	struct etcd *etcd;
	char *prefix, *head_key, *status_key, *gen_root, *watch_end;
	pthread_t watch_thread, work_thread;
	bool watch_started, work_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	atomic_bool stop;

	/* the mirror (lock) */
	struct cluster_mirror m;
	int64_t attempted_rev;	 /* newest revision submitted (applied or failed) */
	int64_t applied_rev;	 /* enforced */
	int64_t failed_rev;	 /* newest refused revision (0: none since the last good) */
	char error[512];
	bool busy;		 /* a job is with the engine */
	uint64_t pending_since_usec; /* the first change not applied yet arrived (0: none) */
	bool need_whole;	 /* the next apply sends the whole document, no delta */
	bool status_dirty;
	uint64_t unsynced_since_usec; /* a revision applied then is not on disk yet (0: none) */
	/* the enforced revision came from elsewhere (a direct push): not one of this datastore's,
	 * so the status key reports none enforced until a datastore revision is */
	bool foreign;
	struct etcd_watch *watch; /* to cancel it at stop */

	/* connection state and metrics */
	atomic_bool connected;
	atomic_llong disconnected_since;
	atomic_uint_fast64_t delay_bucket[DELAY_BUCKETS];
	atomic_uint_fast64_t delay_count;
	atomic_uint_fast64_t delay_usec_sum;
	double last_delay;

	/* job completion (lock) */
	atomic_bool completing; /* the engine's thread is in job_done() (f must stay) */
	bool job_done;
	int job_status;
	char job_details[512];

	/* the status key's lease and its last put, answer not taken yet (work thread only) */
	struct etcd_pending_put *put;
	uint64_t put_started_usec;
	int64_t lease;
	uint64_t lease_alive_usec; /* granted or last kept alive */

	/* batching (lock) */
	struct batch_window batch;
	uint64_t batch_deadline_usec; /* the open batch's window ends then (0: none open) */
	uint64_t drained_usec;	      /* the watch read all that came until this deadline */
};

/* CLOCK_MONOTONIC in microseconds (the clock of f->cond). */
uint64_t follower_now_usec(void);
/* One implementation delay (controller's stamp to enforced) into the histogram. */
void follower_observe_delay(struct follower *f, double seconds);
/* Writes the status key (under a lease, granted first when there is none). Lock not held. */
int follower_write_status(struct follower *f);
/* Makes the store's commits durable (one fsync of its WAL). Lock not held. */
void follower_sync_store(struct follower *f);
/*
 * Takes the answer of the last status put, waiting at most what is left of its 3 s; a
 * failed one lets the lease go (the key is written again under a new one). Work thread. 0,
 * -EINPROGRESS (wait_for_it false and no answer yet) or -errno.
 */
int follower_finish_put(struct follower *f, bool wait_for_it);
/* Keeps the status key's lease alive (a lost one is let go). Lock not held. 0 or -errno. */
int follower_keep_lease(struct follower *f);

#endif /* IOFENCE_IOFENCED_FOLLOWER_INTERNAL_H */
