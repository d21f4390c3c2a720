/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-CPU map values summed over the CPUs. The values summed this way (counters, conntrack and
 * event statistics) are structs of __u64 fields, added field by field.
 */
#ifndef IOFENCE_DP_PERCPU_H
#define IOFENCE_DP_PERCPU_H

#include <stddef.h>
#include <stdint.h>

/*
 * Adds the ncpu values of value_size bytes at per_cpu (a per-CPU lookup's buffer) into ret,
 * one value of the same layout, field by field as __u64; value_size is a multiple of 8.
 */
void dp_percpu_fold(const void *per_cpu, int ncpu, size_t value_size, void *ret);

/*
 * ret (value_size bytes) = key's value in the per-CPU map fd, summed over the CPUs; zeroed
 * first. 0, or a negative errno (the lookup's; -ENOENT for fd < 0, -EINVAL for a value_size
 * that is not a multiple of 8).
 */
int dp_percpu_sum(int fd, const void *key, size_t value_size, void *ret);

#endif /* IOFENCE_DP_PERCPU_H */
