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

static __always_inline int tc_enforce(struct __sk_buff *skb, __u8 dir)
{
	struct iof_pkt p = {};
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	__u32 want = skb->len < IOF_PULL_LEN ? skb->len : IOF_PULL_LEN;
	int r;

	if (end - data < want) {
		bpf_skb_pull_data(skb, want);
		data = (void *)(long)skb->data;
		end = (void *)(long)skb->data_end;
	}
	r = iof_parse_eth(data, end, &p);
	if (r == IOF_PARSE_PASS)
		return TC_ACT_OK;
	if (r != IOF_PARSE_OK) {
		iof_count_drop(IOF_DROP_MALFORMED, skb->len);
		return TC_ACT_SHOT;
	}
	return iof_enforce(&p, skb->ifindex, dir, skb->len) ? TC_ACT_OK : TC_ACT_SHOT;
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
