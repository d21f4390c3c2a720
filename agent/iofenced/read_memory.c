// SPDX-License-Identifier: Apache-2.0
/*
 * The read memory budget (read_memory.h): a count of reserved bytes under a lock, and a
 * condition the waiting reads sleep on until some is given back or their time is up.
 */
#include <errno.h>
#include <time.h>

#include "read_memory.h"

void read_memory_init(struct read_memory *m, size_t budget)
{
	pthread_condattr_t attr;

	pthread_mutex_init(&m->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&m->freed, &attr);
	pthread_condattr_destroy(&attr);
	m->budget = budget;
	m->held = 0;
}

void read_memory_destroy(struct read_memory *m)
{
	pthread_cond_destroy(&m->freed);
	pthread_mutex_destroy(&m->lock);
}

size_t read_memory_need(const struct read_memory *m, size_t request_bytes)
{
	size_t need = request_bytes * READ_MEMORY_PER_BYTE;

	return m->budget && need > m->budget ? m->budget : need;
}

int read_memory_take(struct read_memory *m, size_t bytes, uint64_t by_usec)
{
	struct timespec by = {.tv_sec = (time_t)(by_usec / 1000000u),
			      .tv_nsec = (long)(by_usec % 1000000u) * 1000};
	int r = 0;

	if (!m->budget)
		return 0;
	pthread_mutex_lock(&m->lock);
	while (m->held + bytes > m->budget && r != ETIMEDOUT)
		r = by_usec ? pthread_cond_timedwait(&m->freed, &m->lock, &by)
			    : pthread_cond_wait(&m->freed, &m->lock);
	if (m->held + bytes <= m->budget) {
		m->held += bytes;
		r = 0;
	}
	pthread_mutex_unlock(&m->lock);
	return r ? -ETIMEDOUT : 0;
}

void read_memory_give(struct read_memory *m, size_t bytes)
{
	if (!m->budget)
		return;
	pthread_mutex_lock(&m->lock);
	m->held -= bytes;
	pthread_cond_broadcast(&m->freed);
	pthread_mutex_unlock(&m->lock);
}
