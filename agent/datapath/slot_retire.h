/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Retiring a slot after a flip. A packet reads iof_state.active_slot once and makes every
 * lookup of its verdict in that slot, within one BPF program run (one RCU read-side section).
 * After a flip, runs that read the old slot may still be going on, so the old slot must not be
 * written again until they have ended: one RCU grace period after the flip. Waiting for it
 * between the flip and the acknowledgement would put a grace period on every apply's path
 * (docs/BENCHMARKS.md, "one agent alone"); instead a thread of the datapath waits for it right
 * after the flip, and the next write into the retired slot (dp_retire_wait) waits only for what
 * is left of it: nothing when applies come a grace period apart.
 */
#ifndef IOFENCE_AGENT_DATAPATH_SLOT_RETIRE_H
#define IOFENCE_AGENT_DATAPATH_SLOT_RETIRE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "datapath.h"

struct dp_retire {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool running; /* the thread runs; else dp_retire_wait() waits for the grace period itself */
	bool stop;
	uint64_t flips; /* flips so far (the first is the one before this process started) */
	uint64_t quiet; /* of those, how many no program run can still be reading from */
	int barrier_fd, barrier_inner_fd; /* an array of maps whose update waits for readers */
	struct dp_retire_figures fig;
};

/* Starts the thread, and a wait for whatever read the inactive slot before this start. */
void dp_retire_start(struct dp_retire *r);
/* Stops the thread (after the grace period it may be waiting for). */
void dp_retire_stop(struct dp_retire *r);
/* A slot was just flipped away from: it is retired once a grace period has passed. */
void dp_retire_flipped(struct dp_retire *r);
/* Before writing the inactive slot: returns once no program run can still read it. */
void dp_retire_wait(struct dp_retire *r);
/* The figures so far (datapath.h). Any thread. */
void dp_retire_read(struct dp_retire *r, struct dp_retire_figures *ret);

#endif /* IOFENCE_AGENT_DATAPATH_SLOT_RETIRE_H */
