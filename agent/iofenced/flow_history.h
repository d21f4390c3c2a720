/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's recent verdict events (flow_history.c): the last N records read from the event
 * ring with their sequence numbers, oldest first, for `iofencectl flows` without --follow and
 * for a stream that reconnects. Not locked: flows.c holds its lock around every call.
 */
#ifndef IOFENCE_IOFENCED_FLOW_HISTORY_H
#define IOFENCE_IOFENCED_FLOW_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "bpf/datapath_maps.h"

struct flow_record {
	struct iof_event ev;
	uint64_t seq; /* dp_events_consume()'s: dense, increasing, survives agent restarts */
};

struct flow_history {
	struct flow_record *ring;
	size_t cap, first, count;
	uint64_t next_seq; /* of the next record read (1 before any is known) */
};

/* cap 0 keeps nothing (next_seq is still tracked). -ENOMEM or 0. */
int flow_history_init(struct flow_history *h, size_t cap);
void flow_history_free(struct flow_history *h);

/* The next record will have seq (at start: the ring's consumer position). */
void flow_history_set_next(struct flow_history *h, uint64_t seq);
/*
 * Appends a record. A seq below the last one means the event ring was created anew: what the
 * history held belongs to the old numbering and is dropped.
 */
void flow_history_push(struct flow_history *h, const struct iof_event *ev, uint64_t seq);

/* The i-th stored record, oldest first (i < h->count). */
const struct flow_record *flow_history_at(const struct flow_history *h, size_t i);
/* The position of the first stored record with a seq >= seq (h->count if none). */
size_t flow_history_find(const struct flow_history *h, uint64_t seq);
/* The seq of the oldest record held (next_seq when empty). */
uint64_t flow_history_oldest(const struct flow_history *h);

#endif /* IOFENCE_IOFENCED_FLOW_HISTORY_H */
