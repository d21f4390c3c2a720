// SPDX-License-Identifier: Apache-2.0
/*
 * XDP prefilter on uplinks: drop packets whose source is in the node's deny-list for the
 * receiving interface (iof_prefilter4/6 of the active slot), before any other work. Traffic
 * matching an iof_failsafe entry (protocol, destination port, source prefix) always passes,
 * so a bad deny-list cannot lock the operator out.
 */
#include <linux/bpf.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "counters.h"
#include "parse.h"
#include "verdict.h"

/* Does the prefix (addr, len bits) contain addr? Word by word, without data-dependent loops. */
static __always_inline int prefix_contains(const __u8 *prefix, __u8 len, const __u8 *addr)
{
	__u32 pw[4], aw[4];

	__builtin_memcpy(pw, prefix, 16);
	__builtin_memcpy(aw, addr, 16);
#pragma unroll
	for (int w = 0; w < 4; w++) {
		int bits = (int)len - 32 * w;
		__u64 mask;

		bits = bits < 0 ? 0 : bits > 32 ? 32 : bits;
		mask = (0xffffffffull << (32 - bits)) & 0xffffffffull;
		if ((bpf_ntohl(pw[w]) ^ bpf_ntohl(aw[w])) & mask)
			return 0;
	}
	return 1;
}

static __always_inline int failsafe_match(const struct iof_pkt *p)
{
	if (p->frag == IOF_FRAG_NONFIRST)
		return 0; /* no ports to match */
	for (__u32 i = 0; i < IOF_FAILSAFE_MAX; i++) {
		__u32 idx = i;
		struct iof_failsafe *fs = bpf_map_lookup_elem(&iof_failsafe, &idx);

		if (!fs || !fs->used)
			break; /* the loader packs the used entries first */
		if (fs->family != p->family || fs->proto != p->proto || fs->port != p->dport)
			continue;
		if (fs->prefix_len <= (p->family == 4 ? 32 : 128) &&
		    prefix_contains(fs->addr, fs->prefix_len, p->saddr))
			return 1;
	}
	return 0;
}

static __always_inline int prefilter_denies(__u8 slot, __u32 ifindex, const struct iof_pkt *p)
{
	__u8 *deny;

	if (p->family == 4) {
		struct iof_prefilter4_key k = {
		    .prefixlen = IOF_PREFILTER_PREFIX_BASE + 32, .slot = slot, .ifindex = ifindex};

		__builtin_memcpy(k.addr, p->saddr, 4);
		deny = bpf_map_lookup_elem(&iof_prefilter4_host, &k);
		if (!deny)
			deny = bpf_map_lookup_elem(&iof_prefilter4, &k);
	} else {
		struct iof_prefilter6_key k = {
		    .prefixlen = IOF_PREFILTER_PREFIX_BASE + 128, .slot = slot, .ifindex = ifindex};

		__builtin_memcpy(k.addr, p->saddr, 16);
		deny = bpf_map_lookup_elem(&iof_prefilter6_host, &k);
		if (!deny)
			deny = bpf_map_lookup_elem(&iof_prefilter6, &k);
	}
	return deny && *deny;
}

SEC("xdp")
int iof_xdp_prefilter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct iof_pkt p = {};
	struct iof_view view;

	/* Unparsable traffic is the TC and cgroup hooks' business, not the deny-list's. */
	if (iof_parse_eth(data, end, &p) != IOF_PARSE_OK || iof_view_read(&view))
		return XDP_PASS;
	if (!prefilter_denies(view.slot, ctx->ingress_ifindex, &p) || failsafe_match(&p))
		return XDP_PASS;
	iof_count_drop(IOF_DROP_PREFILTER, (__u32)(end - data));
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
