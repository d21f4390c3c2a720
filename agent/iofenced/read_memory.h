/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The memory the reads in progress may hold together (read_memory.c): each read reserves
 * what its request may grow to before it starts, and waits while the others hold the rest,
 * so that sixteen large requests at once cannot take gigabytes (docs/AGENT.md, "Bounds").
 */
#ifndef IOFENCE_IOFENCED_READ_MEMORY_H
#define IOFENCE_IOFENCED_READ_MEMORY_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/*
 * What a read may hold for each byte of its request: the message (1), the decoded text (1)
 * and the parse tree (up to ~14 times the text, docs/BENCHMARKS.md "Hostile requests"). A
 * decoded PolicyDocument message has its own bound (agent/rpc/decode.h).
 */
#define READ_MEMORY_PER_BYTE 16

struct read_memory {
	pthread_mutex_t lock;
	pthread_cond_t freed; /* on CLOCK_MONOTONIC */
	size_t budget;	      /* bytes; 0: no bound */
	size_t held;
};

void read_memory_init(struct read_memory *m, size_t budget);
void read_memory_destroy(struct read_memory *m);

/*
 * What a read of a request_bytes request reserves: READ_MEMORY_PER_BYTE times it, but never
 * more than the whole budget (a read alone always runs).
 */
size_t read_memory_need(const struct read_memory *m, size_t request_bytes);

/*
 * Reserves bytes (read_memory_need), waiting while the reads in progress hold too much of the
 * budget, until CLOCK_MONOTONIC by_usec (0: as long as it takes). 0, or -ETIMEDOUT.
 */
int read_memory_take(struct read_memory *m, size_t bytes, uint64_t by_usec);

/* Gives back what read_memory_take reserved. */
void read_memory_give(struct read_memory *m, size_t bytes);

#endif /* IOFENCE_IOFENCED_READ_MEMORY_H */
