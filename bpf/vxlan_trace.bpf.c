// SPDX-License-Identifier: Apache-2.0
/*
 * vxlan-trace: a TC program pair for a node's underlay interfaces that counts VXLAN tunnels
 * ({outer src, outer dst, VNI} per direction) and their inner address pairs, plus malformed and
 * non-VXLAN packets to the VXLAN ports. It only reads: every packet goes on unchanged
 * (TC_ACT_UNSPEC, so other TC programs on the interface still run). Maps: vxlan_trace.h.
 *
 * Parsed: outer Ethernet with up to two VLAN tags, IPv4 with options (a later fragment has no
 * UDP header: ignored) or IPv6 with up to IOF_IPV6_EXT_MAX extension headers, UDP to a port of
 * vxt_ports, the 8-byte VXLAN header (I flag, VNI), the inner Ethernet frame with up to two
 * VLAN tags, inner IPv4/IPv6 and its L4 header (ports checked present, as the policy parser).
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "parse.h"
#include "vxlan_trace.h"

/* Headers beyond the linear area are pulled in, up to this many bytes (see tc.bpf.c). */
#define VXT_PULL_LEN 256
#define VXT_I_FLAG 0x08

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, VXT_TUNNELS_DEFAULT);
	__type(key, struct vxt_tunnel_key);
	__type(value, struct vxt_count);
} vxt_tunnels SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, VXT_INNER_DEFAULT);
	__type(key, struct vxt_inner_key);
	__type(value, struct vxt_count);
} vxt_inner SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VXT_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} vxt_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vxt_ports);
} vxt_ports SEC(".maps");

enum vxt_result {
	VXT_R_IGNORE = 0,	 /* not UDP to a VXLAN port (or cannot tell: cut before the port) */
	VXT_R_OK = 1,		 /* tunnel and inner key filled */
	VXT_R_INNER_BAD = 2,	 /* tunnel key filled, inner frame cut short or invalid */
	VXT_R_NON_VXLAN = 3,	 /* to a VXLAN port, no valid VXLAN header */
	VXT_R_MALFORMED = 4,	 /* to a VXLAN port, VXLAN header cut short */
	VXT_R_SHORT_OUTER = 5,	 /* outer headers cut before the UDP port */
};

static __always_inline void vxt_stat(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&vxt_stats, &idx);

	if (v)
		(*v)++;
}

static __always_inline int vxt_is_port(__be16 dport)
{
	__u32 zero = 0;
	struct vxt_ports *p = bpf_map_lookup_elem(&vxt_ports, &zero);
	__u16 d = bpf_ntohs(dport);

	if (!p || !d)
		return 0;
	return p->port[0] == d || p->port[1] == d || p->port[2] == d || p->port[3] == d;
}

/* Outer IPv4: the UDP header's position, or NULL (not UDP, a later fragment, cut short). */
static __always_inline void *vxt_outer_ipv4(void *pos, void *end, struct vxt_tunnel_key *k,
					    int *short_)
{
	struct iphdr *ip = pos;

	if ((void *)(ip + 1) > end) {
		*short_ = 1;
		return NULL;
	}
	if (ip->version != 4 || ip->ihl < 5 || ip->protocol != IPPROTO_UDP ||
	    (bpf_ntohs(ip->frag_off) & 0x1fff))
		return NULL;
	k->family = 4;
	__builtin_memcpy(k->src, &ip->saddr, 4);
	__builtin_memcpy(k->dst, &ip->daddr, 4);
	return pos + ip->ihl * 4;
}

/* Outer IPv6 through its extension headers, as iof_parse_ipv6 walks them. */
static __always_inline void *vxt_outer_ipv6(void *pos, void *end, struct vxt_tunnel_key *k,
					    int *short_)
{
	struct ipv6hdr *ip6 = pos;

	if ((void *)(ip6 + 1) > end) {
		*short_ = 1;
		return NULL;
	}
	if (ip6->version != 6)
		return NULL;
	__u8 nh = ip6->nexthdr;

	pos = ip6 + 1;
	for (int i = 0; i < IOF_IPV6_EXT_MAX; i++) {
		if (nh == IPPROTO_FRAGMENT) {
			struct iof_ipv6_frag *fh = pos;

			if ((void *)(fh + 1) > end) {
				*short_ = 1;
				return NULL;
			}
			if (bpf_ntohs(fh->frag_off) & 0xfff8)
				return NULL; /* a later fragment: no UDP header */
			nh = fh->nexthdr;
			pos = fh + 1;
		} else if (iof_ipv6_is_ext(nh)) {
			struct iof_ipv6_ext *ext = pos;

			if ((void *)(ext + 1) > end) {
				*short_ = 1;
				return NULL;
			}
			if (nh == IPPROTO_AH)
				pos += ((__u32)ext->hdrlen + 2) * 4;
			else
				pos += ((__u32)ext->hdrlen + 1) * 8;
			nh = ext->nexthdr;
		} else {
			break;
		}
	}
	if (nh != IPPROTO_UDP)
		return NULL;
	k->family = 6;
	__builtin_memcpy(k->src, &ip6->saddr, 16);
	__builtin_memcpy(k->dst, &ip6->daddr, 16);
	return pos;
}

/* The inner frame from its Ethernet header: family, protocol and addresses into k. */
static __always_inline int vxt_parse_inner(void *data, void *end, struct vxt_inner_key *k)
{
	struct iof_pkt p = {};
	void *l3 = data;
	__be16 proto = iof_skip_l2(data, end, &l3);
	int r;

	if (!proto)
		return VXT_R_INNER_BAD;
	if (proto == bpf_htons(ETH_P_IP))
		r = iof_parse_ipv4(l3, end, &p);
	else if (proto == bpf_htons(ETH_P_IPV6))
		r = iof_parse_ipv6(l3, end, &p);
	else
		return VXT_R_OK; /* ARP or another protocol: family 0 */
	if (r == IOF_PARSE_MALFORMED)
		return VXT_R_INNER_BAD;
	k->family = p.family;
	k->proto = p.proto;
	__builtin_memcpy(k->src, p.saddr, 16);
	__builtin_memcpy(k->dst, p.daddr, 16);
	return VXT_R_OK;
}

/*
 * Globals: the verifier checks each parser once, whichever hook calls it, and the outer and
 * inner walks (each with its IPv6 extension header loop) are checked apart, not as a product.
 */
#define VXT_OFF_MAX 511 /* bound of the inner frame's offset */

/* The outer headers up to the VXLAN header: the inner frame's offset (> 0) or -result. */
__noinline int vxt_parse_outer(struct __sk_buff *skb, struct vxt_tunnel_key *k)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	void *l3 = data, *l4 = NULL;
	int short_ = 0;

	if (!k)
		return -VXT_R_IGNORE;
	__be16 proto = iof_skip_l2(data, end, &l3);

	if (!proto)
		return -VXT_R_SHORT_OUTER;
	if (proto == bpf_htons(ETH_P_IP))
		l4 = vxt_outer_ipv4(l3, end, k, &short_);
	else if (proto == bpf_htons(ETH_P_IPV6))
		l4 = vxt_outer_ipv6(l3, end, k, &short_);
	if (!l4)
		return short_ ? -VXT_R_SHORT_OUTER : -VXT_R_IGNORE;
	struct udphdr *udp = l4;

	if ((void *)(udp + 1) > end)
		return -VXT_R_SHORT_OUTER;
	if (!vxt_is_port(udp->dest))
		return -VXT_R_IGNORE;
	__u8 *vx = (void *)(udp + 1);

	if ((void *)(vx + 8) > end)
		return -VXT_R_MALFORMED;
	if (!(vx[0] & VXT_I_FLAG))
		return -VXT_R_NON_VXLAN;
	k->vni = ((__u32)vx[4] << 16) | ((__u32)vx[5] << 8) | vx[6];
	long off = (long)(vx + 8) - (long)data;

	if (off > VXT_OFF_MAX)
		return -VXT_R_MALFORMED; /* more outer headers than we walk */
	return (int)off;
}

/* The inner frame at off: family, protocol and addresses into k. */
__noinline int vxt_parse_inner_at(struct __sk_buff *skb, __u32 off, struct vxt_inner_key *k)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;

	if (!k)
		return VXT_R_INNER_BAD;
	return vxt_parse_inner(data + (off & VXT_OFF_MAX), end, k);
}

/*
 * Adds one packet to this CPU's value of key's entry, inserting the entry (and counting the
 * insert) when new. Per-CPU values: no atomic operation and no cache line shared between
 * CPUs on the packet path; the reader sums them.
 */
static __always_inline void vxt_account(void *map, void *key, __u32 len, __u64 now,
					__u32 insert_stat)
{
	struct vxt_count *c = bpf_map_lookup_elem(map, key);

	if (!c) {
		struct vxt_count n = {.packets = 1, .bytes = len, .first_seen = now, .last_seen = now};

		if (bpf_map_update_elem(map, key, &n, BPF_NOEXIST) == 0) {
			vxt_stat(insert_stat);
			return;
		}
		c = bpf_map_lookup_elem(map, key); /* another CPU inserted it meanwhile */
		if (!c) {
			vxt_stat(VXT_STAT_UPDATE_ERRORS);
			return;
		}
	}
	if (!c->first_seen)
		c->first_seen = now; /* this CPU's first packet of an entry another CPU made */
	c->packets++;
	c->bytes += len;
	c->last_seen = now;
}

static __always_inline int vxt_parse(struct __sk_buff *skb, struct vxt_inner_key *k)
{
	int off = vxt_parse_outer(skb, &k->outer);

	if (off <= 0)
		return -off;
	return vxt_parse_inner_at(skb, (__u32)off, k);
}

static __always_inline int vxt_trace(struct __sk_buff *skb, __u8 dir)
{
	struct vxt_inner_key k = {};
	__u32 want = skb->len < VXT_PULL_LEN ? skb->len : VXT_PULL_LEN;
	int r = vxt_parse(skb, &k);

	/* Headers cut by the linear area: pull (reads only; the packet's bytes are unchanged). */
	if ((r == VXT_R_SHORT_OUTER || r == VXT_R_MALFORMED || r == VXT_R_INNER_BAD) &&
	    (long)skb->data_end - (long)skb->data < want) {
		bpf_skb_pull_data(skb, want);
		__builtin_memset(&k, 0, sizeof(k));
		r = vxt_parse(skb, &k);
	}
	switch (r) {
	case VXT_R_OK:
	case VXT_R_INNER_BAD: {
		__u64 now = bpf_ktime_get_coarse_ns(); /* a tick is precision enough; ~10 ns less */

		k.outer.dir = dir;
		vxt_stat(VXT_STAT_PACKETS);
		vxt_account(&vxt_tunnels, &k.outer, skb->len, now, VXT_STAT_TUNNEL_INSERTS);
		if (r == VXT_R_OK)
			vxt_account(&vxt_inner, &k, skb->len, now, VXT_STAT_INNER_INSERTS);
		else
			vxt_stat(VXT_STAT_MALFORMED);
		break;
	}
	case VXT_R_MALFORMED:
		vxt_stat(VXT_STAT_MALFORMED);
		break;
	case VXT_R_NON_VXLAN:
		vxt_stat(VXT_STAT_NON_VXLAN);
		break;
	default:
		break;
	}
	return TC_ACT_UNSPEC;
}

SEC("tc")
int vxt_ingress(struct __sk_buff *skb)
{
	return vxt_trace(skb, VXT_DIR_INGRESS);
}

SEC("tc")
int vxt_egress(struct __sk_buff *skb)
{
	return vxt_trace(skb, VXT_DIR_EGRESS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
