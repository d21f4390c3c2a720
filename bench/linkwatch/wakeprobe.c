// SPDX-License-Identifier: Apache-2.0
/*
 * The scheduler's floor for an event-driven thread (a cyclictest-like probe): a thread sleeps
 * until an absolute time every INTERVAL and records how late it ran (timer expiry to the
 * thread on a CPU). Run beside a load, at SCHED_OTHER and at SCHED_FIFO, it says what
 * wake-up latency the kernel gives a thread such as the agent's link watcher.
 *   wakeprobe [--fifo PRIO] [--samples N] [--interval-us US]
 * Prints one line: policy, samples, p50/p99/max in microseconds.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"

static int64_t ns_of(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"fifo", required_argument, NULL, 'f'},
					     {"samples", required_argument, NULL, 'n'},
					     {"interval-us", required_argument, NULL, 'i'},
					     {0}};
	int prio = 0, samples = 2000, interval_us = 2000, c;
	struct timespec next, now;
	struct bench_spread spread;
	int64_t *late;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'f')
			prio = atoi(optarg);
		else if (c == 'n')
			samples = atoi(optarg);
		else if (c == 'i')
			interval_us = atoi(optarg);
		else
			return 2;
	}
	if (samples < 1 || interval_us < 1 || prio < 0 || prio > 99) {
		fprintf(stderr, "wakeprobe: --samples and --interval-us > 0, --fifo 0-99\n");
		return 2;
	}
	if (prio) {
		struct sched_param sp = {.sched_priority = prio};

		if (sched_setscheduler(0, SCHED_FIFO, &sp)) {
			fprintf(stderr, "wakeprobe: SCHED_FIFO %d: %s\n", prio, strerror(errno));
			return 1;
		}
	}
	late = calloc((size_t)samples, sizeof(*late));
	if (!late)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (int i = 0; i < samples; i++) {
		next.tv_nsec += interval_us * 1000L;
		while (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		clock_gettime(CLOCK_MONOTONIC, &now);
		late[i] = ns_of(&now) - ns_of(&next);
	}
	spread = bench_spread_ns(late, (size_t)samples, 1e3);
	printf("wake-up latency %s: %d samples every %d us: p50 %.0f us, p99 %.0f us, max %.0f "
	       "us\n",
	       prio ? "SCHED_FIFO" : "SCHED_OTHER", samples, interval_us, spread.p50, spread.p99,
	       spread.max);
	free(late);
	return 0;
}
