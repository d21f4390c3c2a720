/* SPDX-License-Identifier: Apache-2.0 */
/* Per-CPU counters: per rule and per endpoint of the active slot, and drops by reason. */
#ifndef IOFENCE_BPF_COUNTERS_H
#define IOFENCE_BPF_COUNTERS_H

#include "maps.h"

static __always_inline void iof_count(void *map, __u32 idx, __u32 len)
{
	struct iof_counter *c = bpf_map_lookup_elem(map, &idx);

	if (c) {
		c->packets++;
		c->bytes += len;
	}
}

static __always_inline void iof_count_drop(enum iof_drop_reason reason, __u32 len)
{
	iof_count(&iof_drops, reason, len);
}

static __always_inline void iof_count_rule(__u8 slot, __u32 rule_id, __u32 len)
{
	if (rule_id < IOF_MAX_RULES)
		iof_count(&iof_rule_counters, (__u32)slot * IOF_MAX_RULES + rule_id, len);
}

static __always_inline void iof_count_ep(__u8 slot, __u16 ep_index, __u32 kind, __u32 len)
{
	if (ep_index < IOF_MAX_ENDPOINTS)
		iof_count(&iof_ep_counters,
			  ((__u32)slot * IOF_MAX_ENDPOINTS + ep_index) * IOF_EP_COUNTER_KINDS +
			      kind,
			  len);
}

/* The endpoint counter of a packet that passed (allow) or was dropped (deny). */
static __always_inline void iof_count_ep_verdict(__u8 slot, __u16 ep_index, __u8 dir, int pass,
						 __u32 len)
{
	__u32 kind = dir == IOF_DIR_INGRESS ? IOF_EPC_INGRESS_ALLOW : IOF_EPC_EGRESS_ALLOW;

	iof_count_ep(slot, ep_index, kind + (pass ? 0 : 1), len);
}

#endif /* IOFENCE_BPF_COUNTERS_H */
