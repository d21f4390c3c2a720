// SPDX-License-Identifier: Apache-2.0
/*
 * Conntrack pressure from the programs' per-CPU counters (iof_ct_stats): one lookup, no walk
 * of the tables, so a scrape costs the same at any fill. The LRU evicts without a trace: what
 * inserts - deletes exceeds the capacity must have been evicted, a lower bound that is kept
 * as a running maximum here (it restarts with the process, as Prometheus counters may).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp_internal.h"

int dp_read_ct_stats(struct datapath *dp, struct dp_ct_stats ret[2])
{
	int ncpu = libbpf_num_possible_cpus();
	struct iof_ct_stats *vals;
	__u32 zero = 0;

	memset(ret, 0, 2 * sizeof(*ret));
	if (dp->fds.ct_stats < 0)
		return -ENOENT;
	if (ncpu < 0)
		return ncpu;
	vals = calloc((size_t)ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_elem(dp->fds.ct_stats, &zero, vals)) {
		int r = -errno;

		free(vals);
		return r;
	}
	for (int f = 0; f < 2; f++) {
		struct dp_ct_stats *s = &ret[f];
		uint64_t live, ev;

		for (int c = 0; c < ncpu; c++) {
			s->inserts += vals[c].inserts[f];
			s->deletes += vals[c].deletes[f];
			s->insert_failures += vals[c].insert_failures[f];
		}
		s->capacity = IOF_CT_MAX;
		live = s->inserts > s->deletes ? s->inserts - s->deletes : 0;
		ev = atomic_load(&dp->ct_evicted[f]);
		while (live > ev + s->capacity &&
		       !atomic_compare_exchange_weak(&dp->ct_evicted[f], &ev,
						     live - s->capacity))
			;
		ev = atomic_load(&dp->ct_evicted[f]);
		s->evictions = ev;
		s->entries = live > ev ? live - ev : 0;
		if (s->entries > s->capacity)
			s->entries = s->capacity;
	}
	free(vals);
	return 0;
}
