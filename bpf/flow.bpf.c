// SPDX-License-Identifier: Apache-2.0
/*
 * The global functions of the enforcement pipeline (flow.h): a parsed packet judged, the
 * new-flow verdict and the event record. Linked into iofence.bpf.o beside the hooks that call
 * them.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "flow.h"

__noinline int iof_flow_enforce(struct iof_pkt *p, __u32 attach_id, __u32 dir, __u32 len)
{
	if (!p)
		return 0;
	return iof_enforce(p, attach_id, (__u8)dir, len);
}

__noinline int iof_flow_judge(const struct iof_ct_key *k, __u32 slot, __u32 dir, __u32 dport,
			      struct iof_decision *d)
{
	if (!k || !d)
		return -1;
	return iof_judge((__u8)slot, k->attach_id, (__u8)dir, k->family, k->remote, k->proto,
			 (__be16)dport, d);
}

__noinline int iof_flow_event(const struct iof_ct_key *k, const struct iof_event_info *info,
			      __u64 now, __u32 len)
{
	__u32 zero = 0;

	if (!k || !info)
		return 0;
	iof_event_emit(bpf_map_lookup_elem(&iof_config, &zero), now, k, info, len);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
