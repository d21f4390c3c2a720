/* SPDX-License-Identifier: Apache-2.0 */
/*
 * When a read stops: the clocks a parse (parse_tree.c), a message-to-model read (pb.c) and
 * the agent's request decode (agent/rpc/decode.c) look at, in one place, so that the three
 * stop for the same reasons.
 */
#ifndef IOFENCE_POLICY_READ_CLOCK_H
#define IOFENCE_POLICY_READ_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/*
 * A read stops at the first of: CLOCK_MONOTONIC past deadline_usec (the caller's, e.g. a
 * client's deadline); the calling thread's CPU clock past cpu_by_usec (what a read may cost);
 * CLOCK_MONOTONIC past wall_by_usec once the thread's CPU clock is also past wall_cpu_usec
 * (a wall-clock budget that stops only a read that has had that much CPU time, so that a node
 * short of CPU does not refuse a cheap document). 0: that clock never stops the read.
 */
struct read_clock {
	uint64_t deadline_usec;
	uint64_t cpu_by_usec;
	uint64_t wall_by_usec;
	uint64_t wall_cpu_usec;
};

static inline uint64_t read_clock_usec(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The read has no clock that could stop it. */
static inline bool read_clock_unbounded(const struct read_clock *c)
{
	return !c || (!c->deadline_usec && !c->cpu_by_usec && !c->wall_by_usec);
}

/* The read on the calling thread is past its time. */
static inline bool read_clock_passed(const struct read_clock *c)
{
	uint64_t now = 0, cpu = 0;

	if (read_clock_unbounded(c))
		return false;
	if (c->deadline_usec || c->wall_by_usec)
		now = read_clock_usec(CLOCK_MONOTONIC);
	if (c->deadline_usec && now >= c->deadline_usec)
		return true;
	if (c->cpu_by_usec || (c->wall_by_usec && now >= c->wall_by_usec))
		cpu = read_clock_usec(CLOCK_THREAD_CPUTIME_ID);
	if (c->cpu_by_usec && cpu >= c->cpu_by_usec)
		return true;
	return c->wall_by_usec && now >= c->wall_by_usec && cpu >= c->wall_cpu_usec;
}

#endif /* IOFENCE_POLICY_READ_CLOCK_H */
