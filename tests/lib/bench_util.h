/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers shared by the benchmarks: a monotonic clock and a comparator for medians. */
#ifndef IOFENCE_TESTS_BENCH_UTIL_H
#define IOFENCE_TESTS_BENCH_UTIL_H

#include <time.h>

static inline double bench_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

#endif /* IOFENCE_TESTS_BENCH_UTIL_H */
