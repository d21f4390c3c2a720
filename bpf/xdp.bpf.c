// SPDX-License-Identifier: Apache-2.0
/*
 * XDP prefilter on uplinks: drop packets whose source is in the node's deny-list for the
 * receiving interface (iof_prefilter4/6 of the active slot, host maps before tries), before
 * any other work. Traffic matching an iof_failsafe entry (protocol, destination port, source
 * prefix) always passes, so a bad deny-list cannot lock the operator out.
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

/* Is the source denied: the slot's host map first (hk), then the trie (k)? */
static __always_inline int prefilter_denies(void *host_maps, void *trie, __u32 slot, const void *hk,
					    const void *k)
{
	void *hosts = bpf_map_lookup_elem(host_maps, &slot);
	__u8 *deny = hosts ? bpf_map_lookup_elem(hosts, hk) : NULL;

	if (!deny)
		deny = bpf_map_lookup_elem(trie, k);
	return deny && *deny;
}

static __always_inline int prefilter4_denies(__u32 slot, __u32 ifindex, const __be32 *saddr)
{
	struct iof_prefilter4_host_key hk = {.ifindex = ifindex};
	struct iof_prefilter4_key k = {
	    .prefixlen = IOF_PREFILTER_PREFIX_BASE + 32, .slot = (__u8)slot, .ifindex = ifindex};

	__builtin_memcpy(hk.addr, saddr, 4);
	__builtin_memcpy(k.addr, saddr, 4);
	return prefilter_denies(&iof_prefilter4_host, &iof_prefilter4, slot, &hk, &k);
}

static __always_inline int prefilter6_denies(__u32 slot, __u32 ifindex, const void *saddr)
{
	struct iof_prefilter6_host_key hk = {.ifindex = ifindex};
	struct iof_prefilter6_key k = {
	    .prefixlen = IOF_PREFILTER_PREFIX_BASE + 128, .slot = (__u8)slot, .ifindex = ifindex};

	__builtin_memcpy(hk.addr, saddr, 16);
	__builtin_memcpy(k.addr, saddr, 16);
	return prefilter_denies(&iof_prefilter6_host, &iof_prefilter6, slot, &hk, &k);
}

/*
 * May a failsafe entry match a packet of this family whose IP header names next (the L4
 * protocol, or for IPv6 possibly an extension header)? Only then are its ports read.
 */
static __always_inline int failsafe_possible(__u8 family, __u8 next)
{
	__u32 zero = 0;
	struct iof_config *cfg = bpf_map_lookup_elem(&iof_config, &zero);
	__u32 bits = iof_failsafe_bit(family, next);

	if (!cfg)
		return 1;
	if (family == 6 && iof_ipv6_is_ext(next))
		bits = IOF_CFG_FAILSAFE_TCP6 | IOF_CFG_FAILSAFE_UDP6;
	return (cfg->flags & bits) != 0;
}

/* The whole parse, for a denied packet the failsafe set might let through. */
static __always_inline int failsafe_passes(void *data, void *end)
{
	struct iof_pkt p = {};

	return iof_parse_eth(data, end, &p) == IOF_PARSE_OK && failsafe_match(&p);
}

/*
 * Only the source address decides, so only the IP header is read: a packet from a denied
 * source is dropped whatever follows, unless the failsafe set may let it through. Frames that
 * are not IP, or are cut short before the source address, are the TC and cgroup hooks' business.
 */
SEC("xdp")
int iof_xdp_prefilter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	void *l3 = data;
	__be16 l3proto = iof_skip_l2(data, end, &l3);
	struct iof_view view;
	__u8 family, next;

	if (iof_view_read(&view))
		return XDP_PASS;
	if (l3proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = l3;

		if ((void *)(ip + 1) > end ||
		    !prefilter4_denies(view.slot, ctx->ingress_ifindex, &ip->saddr))
			return XDP_PASS;
		family = 4;
		next = ip->protocol;
	} else if (l3proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = l3;

		if ((void *)(ip6 + 1) > end ||
		    !prefilter6_denies(view.slot, ctx->ingress_ifindex, &ip6->saddr))
			return XDP_PASS;
		family = 6;
		next = ip6->nexthdr;
	} else {
		return XDP_PASS;
	}
	if (failsafe_possible(family, next) && failsafe_passes(data, end))
		return XDP_PASS;
	iof_count_drop(IOF_DROP_PREFILTER, (__u32)(end - data));
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
