/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The follower's batch window (docs/CLUSTER.md, "Changes are batched"): how long the follower
 * waits after the first change it has not applied yet, so that what follows joins one apply.
 * A change that comes alone (more than BATCH_WINDOW_CHURN_GAP_MS after the last apply ended)
 * does not wait: it is applied on its first event (the leading edge). Under churn (the first
 * change of a batch arrived while the previous apply ran, or less than
 * BATCH_WINDOW_CHURN_GAP_MS after it ended) the batch waits BATCH_WINDOW_MIN_MS, and each
 * next one twice as long as the one before, up to BATCH_WINDOW_MAX_MS: however
 * fast changes come, an agent applies at most about 1000 / BATCH_WINDOW_MAX_MS times a second,
 * and no change waits longer than the maximum for its apply to start.
 */
#ifndef IOFENCE_AGENT_ETCD_BATCH_WINDOW_H
#define IOFENCE_AGENT_ETCD_BATCH_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

#define BATCH_WINDOW_MIN_MS 10
#define BATCH_WINDOW_MAX_MS 250
#define BATCH_WINDOW_CHURN_GAP_MS 100

struct batch_window {
	uint64_t last_end_usec; /* when the last apply ended (0: none yet) */
	uint32_t window_ms;	/* the window of the last batch (0: none, or a change alone) */
	bool applying;		/* an apply runs (a change now is churn) */
};

/*
 * batch_window_open() - the deadline of a batch whose first change arrived at first_usec
 * (microseconds, the clock of batch_window_applied()); call once per batch.
 */
uint64_t batch_window_open(struct batch_window *b, uint64_t first_usec);

/* The batch's apply starts, and ended at end_usec. */
void batch_window_applying(struct batch_window *b);
void batch_window_applied(struct batch_window *b, uint64_t end_usec);

#endif /* IOFENCE_AGENT_ETCD_BATCH_WINDOW_H */
