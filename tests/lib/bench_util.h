/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers shared by the benchmarks: a monotonic clock, comparators and percentiles. */
#ifndef IOFENCE_TESTS_BENCH_UTIL_H
#define IOFENCE_TESTS_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static inline double bench_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline int64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int bench_cmp_int64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* The median, p99 and maximum of n > 0 samples in ns (sorted in place), in ns / unit. */
struct bench_spread {
	double p50, p99, max;
};

static inline struct bench_spread bench_spread_ns(int64_t *v, size_t n, double unit)
{
	qsort(v, n, sizeof(*v), bench_cmp_int64);
	return (struct bench_spread){(double)v[n / 2] / unit, (double)v[(size_t)(0.99 * n)] / unit,
				     (double)v[n - 1] / unit};
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

#endif /* IOFENCE_TESTS_BENCH_UTIL_H */
