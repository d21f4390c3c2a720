// SPDX-License-Identifier: Apache-2.0
/*
 * Conntrack pressure from the programs' per-CPU counters (iof_ct_stats): one lookup, no walk
 * of the tables, so a scrape costs the same at any fill. The LRU evicts without a trace: what
 * inserts - deletes exceeds the capacity must have been evicted, a lower bound that is kept
 * as a running maximum here (it restarts with the process, as Prometheus counters may).
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "dp_internal.h"
#include "percpu.h"

int dp_read_ct_stats(struct datapath *dp, struct dp_ct_stats ret[2])
{
	struct iof_ct_stats sum;
	__u32 zero = 0;
	int r;

	memset(ret, 0, 2 * sizeof(*ret));
	r = dp_percpu_sum(dp->fds.ct_stats, &zero, sizeof(sum), &sum);
	if (r)
		return r;
	for (int f = 0; f < 2; f++) {
		struct dp_ct_stats *s = &ret[f];
		uint64_t live, ev;

		s->inserts = sum.inserts[f];
		s->deletes = sum.deletes[f];
		s->insert_failures = sum.insert_failures[f];
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
	return 0;
}
