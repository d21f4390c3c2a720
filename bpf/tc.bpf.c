// SPDX-License-Identifier: Apache-2.0
/*
 * TC hooks on an endpoint's host-side interface. Its tc ingress sees what leaves the workload
 * (IOF_DIR_EGRESS), its tc egress what enters it (IOF_DIR_INGRESS); in both skb->ifindex is
 * the host-side interface, the endpoint's attach id. iof_tc_empty is the benchmarks' baseline.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "flow.h"

/* Headers beyond the linear area are pulled in, up to this many bytes. */
#define IOF_PULL_LEN 256

/*
 * Parsing and judging (iof_flow_enforce, flow.bpf.c) are global functions: the verifier checks
 * each once, whatever path led to the call, instead of every combination of parse outcome and
 * verdict path.
 */
__noinline int iof_tc_parse(struct __sk_buff *skb, struct iof_pkt *p)
{
	if (!p)
		return IOF_PARSE_MALFORMED;
	return iof_parse_eth((void *)(long)skb->data, (void *)(long)skb->data_end, p);
}

static __always_inline int tc_enforce(struct __sk_buff *skb, __u8 dir)
{
	struct iof_pkt p = {};
	__u32 want = skb->len < IOF_PULL_LEN ? skb->len : IOF_PULL_LEN;
	int r;

	/*
	 * Parse what is linear first: large TCP segments carry all their headers there, and
	 * pulling payload into the head costs microseconds. Pull only when the headers were cut.
	 */
	r = iof_tc_parse(skb, &p);
	if (r == IOF_PARSE_MALFORMED && (long)skb->data_end - (long)skb->data < want) {
		bpf_skb_pull_data(skb, want);
		__builtin_memset(&p, 0, sizeof(p));
		r = iof_tc_parse(skb, &p);
	}
	if (r == IOF_PARSE_PASS)
		return TC_ACT_OK;
	if (r != IOF_PARSE_OK) {
		iof_count_drop(IOF_DROP_MALFORMED, skb->len);
		return TC_ACT_SHOT;
	}
	return iof_flow_enforce(&p, skb->ifindex, dir, skb->len) ? TC_ACT_OK : TC_ACT_SHOT;
}

SEC("tc")
int iof_tc_from_ep(struct __sk_buff *skb)
{
	return tc_enforce(skb, IOF_DIR_EGRESS);
}

SEC("tc")
int iof_tc_to_ep(struct __sk_buff *skb)
{
	return tc_enforce(skb, IOF_DIR_INGRESS);
}

SEC("tc")
int iof_tc_empty(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
