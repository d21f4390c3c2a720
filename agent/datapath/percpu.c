// SPDX-License-Identifier: Apache-2.0
/*
 * The one per-CPU sum of the datapath's readers (percpu.h): counters, drops, conntrack and
 * event statistics, the vxlan-trace module's statistics and the counter ledger's ranges.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "percpu.h"

void dp_percpu_fold(const void *per_cpu, int ncpu, size_t value_size, void *ret)
{
	size_t words = value_size / sizeof(uint64_t);
	const uint8_t *v = per_cpu;

	for (int c = 0; c < ncpu; c++, v += value_size) {
		for (size_t w = 0; w < words; w++) {
			uint64_t add, sum;

			/* memcpy: the buffer's alignment is the allocator's, the fields' are not asked */
			memcpy(&add, v + w * sizeof(uint64_t), sizeof(add));
			memcpy(&sum, (uint8_t *)ret + w * sizeof(uint64_t), sizeof(sum));
			sum += add;
			memcpy((uint8_t *)ret + w * sizeof(uint64_t), &sum, sizeof(sum));
		}
	}
}

int dp_percpu_sum(int fd, const void *key, size_t value_size, void *ret)
{
	int ncpu = libbpf_num_possible_cpus();
	void *vals;
	int r = 0;

	memset(ret, 0, value_size);
	if (value_size % sizeof(uint64_t))
		return -EINVAL;
	if (fd < 0)
		return -ENOENT;
	if (ncpu < 0)
		return ncpu;
	vals = calloc((size_t)ncpu, value_size);
	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, key, vals))
		r = -errno;
	else
		dp_percpu_fold(vals, ncpu, value_size, ret);
	free(vals);
	return r;
}
