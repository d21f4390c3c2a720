/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Packet parsing for the datapath: Ethernet, 802.1Q/802.1ad, IPv4 (options, fragments), IPv6
 * with extension headers (bounded walk), TCP, UDP, SCTP, ICMP and ICMPv6, including the header
 * embedded in ICMP errors. Every access is bounds-checked against data_end; anything cut short
 * is IOF_PARSE_MALFORMED, never a pass.
 */
#ifndef IOFENCE_BPF_PARSE_H
#define IOFENCE_BPF_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif
/* ICMP types (linux/icmp.h pulls in libc headers, which -target bpf cannot use). */
#define ICMP_ECHOREPLY 0
#define ICMP_DEST_UNREACH 3
#define ICMP_ECHO 8
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAMETERPROB 12
#define ICMPV6_DEST_UNREACH 1
#define ICMPV6_PARAMPROB 4
#define ICMPV6_ECHO_REQUEST 128
#define ICMPV6_ECHO_REPLY 129

/* The first 8 bytes of an ICMP or ICMPv6 header. */
struct iof_icmp {
	__u8 type;
	__u8 code;
	__be16 checksum;
	__be16 id;
	__be16 seq;
};

#define IOF_VLAN_MAX 2
#define IOF_IPV6_EXT_MAX 8

enum iof_parse_result {
	IOF_PARSE_OK = 0,
	IOF_PARSE_PASS = 1,	 /* ARP, IPv6 neighbour discovery: never judged */
	IOF_PARSE_MALFORMED = 2, /* truncated, unknown L3 or unparsable */
};

enum iof_frag {
	IOF_FRAG_NONE = 0,
	IOF_FRAG_FIRST = 1,    /* offset 0, more fragments: carries the L4 header */
	IOF_FRAG_NONFIRST = 2, /* no L4 header */
};

/* A parsed packet in wire terms (source/destination); ct.h maps it to local/remote. */
struct iof_pkt {
	__u8 family;
	__u8 proto;
	__u8 frag; /* enum iof_frag */
	__u8 tcp_flags;
	__u8 is_echo;  /* ICMP(v6) echo request/reply: sport = dport = identifier */
	__u8 is_error; /* ICMP(v6) error whose embedded header was parsed into inner */
	__u8 inner_proto;
	__u8 inner_is_echo;
	__be16 sport, dport;
	__be16 inner_sport, inner_dport;
	__u8 saddr[16], daddr[16];
	__u8 inner_saddr[16], inner_daddr[16];
	__u8 icmp_type, icmp_code; /* ICMP(v6) packets: for flow events */
} __attribute__((aligned(8))); /* addresses copy as words, not bytes */

struct iof_vlan_hdr {
	__be16 tci;
	__be16 proto;
};

struct iof_ipv6_ext {
	__u8 nexthdr;
	__u8 hdrlen;
};

struct iof_ipv6_frag {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off; /* offset << 3 | M */
	__be32 id;
};

#define IOF_TCP_FIN 0x01
#define IOF_TCP_SYN 0x02
#define IOF_TCP_RST 0x04
#define IOF_TCP_ACK 0x10

/* iof_pkt.is_echo: an echo request or reply (a reply opens no flow). */
#define IOF_ECHO_REQUEST 1
#define IOF_ECHO_REPLY 2

/* Ports (or the echo identifier) of an L4 header at l4; 0 = ok, -1 = truncated. */
static __always_inline int iof_parse_ports(void *l4, void *end, __u8 family, __u8 proto,
					   __be16 *sport, __be16 *dport, __u8 *is_echo)
{
	*is_echo = 0;
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP) {
		__be16 *ports = l4;

		if ((void *)(ports + 2) > end)
			return -1;
		*sport = ports[0];
		*dport = ports[1];
	} else if ((family == 4 && proto == IPPROTO_ICMP) ||
		   (family == 6 && proto == IPPROTO_ICMPV6)) {
		struct iof_icmp *ic = l4;

		if ((void *)(ic + 1) > end)
			return -1;
		if ((family == 4 && (ic->type == ICMP_ECHO || ic->type == ICMP_ECHOREPLY)) ||
		    (family == 6 &&
		     (ic->type == ICMPV6_ECHO_REQUEST || ic->type == ICMPV6_ECHO_REPLY))) {
			*is_echo = (ic->type == ICMP_ECHOREPLY || ic->type == ICMPV6_ECHO_REPLY)
				       ? IOF_ECHO_REPLY
				       : IOF_ECHO_REQUEST;
			*sport = ic->id;
			*dport = ic->id;
		}
	}
	return 0;
}

/* The header embedded in an ICMP error: addresses, protocol and ports (first 8 bytes). */
static __always_inline void iof_parse_icmp_inner(void *pos, void *end, struct iof_pkt *p)
{
	if (p->family == 4) {
		struct iphdr *ip = pos;

		if ((void *)(ip + 1) > end || ip->version != 4 || ip->ihl < 5)
			return;
		void *l4 = pos + ip->ihl * 4;

		if (l4 > end)
			return;
		p->inner_proto = ip->protocol;
		__builtin_memcpy(p->inner_saddr, &ip->saddr, 4);
		__builtin_memcpy(p->inner_daddr, &ip->daddr, 4);
		if (iof_parse_ports(l4, end, 4, ip->protocol, &p->inner_sport, &p->inner_dport,
				    &p->inner_is_echo))
			return;
	} else {
		struct ipv6hdr *ip6 = pos;

		if ((void *)(ip6 + 1) > end || ip6->version != 6)
			return;
		p->inner_proto = ip6->nexthdr;
		__builtin_memcpy(p->inner_saddr, &ip6->saddr, 16);
		__builtin_memcpy(p->inner_daddr, &ip6->daddr, 16);
		if (iof_parse_ports(ip6 + 1, end, 6, ip6->nexthdr, &p->inner_sport, &p->inner_dport,
				    &p->inner_is_echo))
			return;
	}
	p->is_error = 1;
}

static __always_inline int iof_parse_l4(void *l4, void *end, struct iof_pkt *p)
{
	if (p->frag == IOF_FRAG_NONFIRST)
		return IOF_PARSE_OK;
	if (p->proto == IPPROTO_TCP) {
		struct tcphdr *th = l4;

		if ((void *)(th + 1) > end)
			return IOF_PARSE_MALFORMED;
		p->tcp_flags = ((__u8 *)th)[13];
	} else if (p->proto == IPPROTO_UDP) {
		if (l4 + sizeof(struct udphdr) > end)
			return IOF_PARSE_MALFORMED;
	} else if (p->proto == IPPROTO_SCTP) {
		if (l4 + 12 > end) /* common header: ports, verification tag, checksum */
			return IOF_PARSE_MALFORMED;
	}
	if (iof_parse_ports(l4, end, p->family, p->proto, &p->sport, &p->dport, &p->is_echo))
		return IOF_PARSE_MALFORMED;
	if (p->family == 4 && p->proto == IPPROTO_ICMP) {
		struct iof_icmp *ic = l4; /* bounds checked by iof_parse_ports */

		p->icmp_type = ic->type;
		p->icmp_code = ic->code;
		if (ic->type == ICMP_DEST_UNREACH || ic->type == ICMP_TIME_EXCEEDED ||
		    ic->type == ICMP_PARAMETERPROB)
			iof_parse_icmp_inner(ic + 1, end, p);
	} else if (p->family == 6 && p->proto == IPPROTO_ICMPV6) {
		struct iof_icmp *ic = l4;

		if (ic->type >= 133 && ic->type <= 137)
			return IOF_PARSE_PASS; /* neighbour discovery, router solicit/advert */
		p->icmp_type = ic->type;
		p->icmp_code = ic->code;
		if (ic->type >= ICMPV6_DEST_UNREACH && ic->type <= ICMPV6_PARAMPROB)
			iof_parse_icmp_inner(ic + 1, end, p);
	}
	return IOF_PARSE_OK;
}

static __always_inline int iof_parse_ipv4(void *pos, void *end, struct iof_pkt *p)
{
	struct iphdr *ip = pos;

	if ((void *)(ip + 1) > end || ip->version != 4 || ip->ihl < 5)
		return IOF_PARSE_MALFORMED;
	void *l4 = pos + ip->ihl * 4;

	if (l4 > end)
		return IOF_PARSE_MALFORMED;
	p->family = 4;
	p->proto = ip->protocol;
	__builtin_memcpy(p->saddr, &ip->saddr, 4);
	__builtin_memcpy(p->daddr, &ip->daddr, 4);
	__u16 fo = bpf_ntohs(ip->frag_off);

	if (fo & 0x1fff)
		p->frag = IOF_FRAG_NONFIRST;
	else if (fo & 0x2000)
		p->frag = IOF_FRAG_FIRST;
	return iof_parse_l4(l4, end, p);
}

/* Is nh an IPv6 extension header the parser walks (or stops at: a later fragment)? */
static __always_inline int iof_ipv6_is_ext(__u8 nh)
{
	return nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_DSTOPTS ||
	       nh == IPPROTO_AH || nh == IPPROTO_FRAGMENT;
}

static __always_inline int iof_parse_ipv6(void *pos, void *end, struct iof_pkt *p)
{
	struct ipv6hdr *ip6 = pos;

	if ((void *)(ip6 + 1) > end || ip6->version != 6)
		return IOF_PARSE_MALFORMED;
	p->family = 6;
	__builtin_memcpy(p->saddr, &ip6->saddr, 16);
	__builtin_memcpy(p->daddr, &ip6->daddr, 16);
	__u8 nh = ip6->nexthdr;

	pos = ip6 + 1;
	for (int i = 0; i < IOF_IPV6_EXT_MAX; i++) {
		if (iof_ipv6_is_ext(nh) && nh != IPPROTO_FRAGMENT) {
			struct iof_ipv6_ext *ext = pos;

			if ((void *)(ext + 1) > end)
				return IOF_PARSE_MALFORMED;
			nh = ext->nexthdr;
			if (nh == IPPROTO_AH) /* AH's length counts 4-byte words, minus 2 */
				pos += ((__u32)ext->hdrlen + 2) * 4;
			else
				pos += ((__u32)ext->hdrlen + 1) * 8;
			if (pos > end)
				return IOF_PARSE_MALFORMED;
		} else if (nh == IPPROTO_FRAGMENT) {
			struct iof_ipv6_frag *fh = pos;

			if ((void *)(fh + 1) > end)
				return IOF_PARSE_MALFORMED;
			nh = fh->nexthdr;
			__u16 fo = bpf_ntohs(fh->frag_off);

			if (fo & 0xfff8)
				p->frag = IOF_FRAG_NONFIRST;
			else if (fo & 1)
				p->frag = IOF_FRAG_FIRST;
			pos = fh + 1;
			if (p->frag == IOF_FRAG_NONFIRST)
				break;
		} else {
			break;
		}
	}
	p->proto = nh;
	if (p->frag != IOF_FRAG_NONFIRST && iof_ipv6_is_ext(nh))
		return IOF_PARSE_MALFORMED; /* more extension headers than we walk */
	return iof_parse_l4(pos, end, p);
}

/* From the IP header: skb->protocol (network order) names the family. */
static __always_inline int iof_parse_l3(void *pos, void *end, __be16 l3proto, struct iof_pkt *p)
{
	if (l3proto == bpf_htons(ETH_P_IP))
		return iof_parse_ipv4(pos, end, p);
	if (l3proto == bpf_htons(ETH_P_IPV6))
		return iof_parse_ipv6(pos, end, p);
	if (l3proto == bpf_htons(ETH_P_ARP))
		return IOF_PARSE_PASS;
	return IOF_PARSE_MALFORMED; /* no other L3 protocol reaches a workload */
}

/*
 * Past the Ethernet header and up to two VLAN tags: the L3 protocol (network order) with *l3 at
 * its header, or 0 when the frame is cut short.
 */
static __always_inline __be16 iof_skip_l2(void *data, void *end, void **l3)
{
	struct ethhdr *eth = data;
	void *pos = eth + 1;

	if (pos > end)
		return 0;
	__be16 proto = eth->h_proto;

	for (int i = 0; i < IOF_VLAN_MAX; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		struct iof_vlan_hdr *vh = pos;

		if ((void *)(vh + 1) > end)
			return 0;
		proto = vh->proto;
		pos = vh + 1;
	}
	*l3 = pos;
	return proto;
}

/* From the Ethernet header, through up to two VLAN tags. */
static __always_inline int iof_parse_eth(void *data, void *end, struct iof_pkt *p)
{
	void *l3 = data;
	__be16 proto = iof_skip_l2(data, end, &l3);

	if (!proto)
		return IOF_PARSE_MALFORMED;
	return iof_parse_l3(l3, end, proto, p);
}

#endif /* IOFENCE_BPF_PARSE_H */
