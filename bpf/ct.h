/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Conntrack from the endpoint's point of view: keys {attach id, local, remote, ports}, so a
 * packet and its reply find the same entry. TCP state from SYN/FIN/RST, idle timeouts from
 * iof_config (defaults in datapath_maps.h when a field is 0). An expired entry is deleted
 * on the lookup that finds it; the LRU evicts the rest.
 */
#ifndef IOFENCE_BPF_CT_H
#define IOFENCE_BPF_CT_H

#include "maps.h"
#include "parse.h"

/*
 * A whole address field, as words: both sides are 4-byte aligned (iof_pkt, iof_ct_key), and
 * an IPv4 address in an iof_pkt is followed by zeros (the packet starts zeroed).
 */
static __always_inline void iof_addr_copy(__u8 *dst, const __u8 *src)
{
	__builtin_memcpy(__builtin_assume_aligned(dst, 4), __builtin_assume_aligned(src, 4), 16);
}

/*
 * Key of a packet travelling in direction dir (EGRESS: source is local). saddr and daddr are
 * an iof_pkt's address fields (16 bytes, zero after an IPv4 address).
 */
static __always_inline void iof_ct_key_make(struct iof_ct_key *k, __u32 attach_id, __u8 dir,
					    __u8 family, __u8 proto, const __u8 *saddr,
					    const __u8 *daddr, __be16 sport, __be16 dport,
					    __u8 is_echo)
{
	k->attach_id = attach_id;
	k->family = family;
	k->proto = proto;
	k->pad = 0;
	if (dir == IOF_DIR_EGRESS) {
		iof_addr_copy(k->local, saddr);
		iof_addr_copy(k->remote, daddr);
		k->local_port = sport;
		k->remote_port = dport;
	} else {
		iof_addr_copy(k->local, daddr);
		iof_addr_copy(k->remote, saddr);
		k->local_port = dport;
		k->remote_port = sport;
	}
	if (is_echo) { /* one entry per echo identifier, whichever side sent the request */
		k->remote_port = sport;
		k->local_port = 0;
	}
}

/* IPv4 flows live in iof_ct4 under the compact key (datapath_maps.h), IPv6 in iof_ct6. */
static __always_inline void iof_ct4_key_of(struct iof_ct4_key *k4, const struct iof_ct_key *k)
{
	k4->attach_id = k->attach_id;
	__builtin_memcpy(k4->remote, __builtin_assume_aligned(k->remote, 4), 4);
	__builtin_memcpy(k4->local, __builtin_assume_aligned(k->local, 4), 4);
	k4->remote_port = k->remote_port;
	k4->local_port = k->local_port;
	k4->proto = k->proto;
	k4->pad[0] = 0;
	k4->pad[1] = 0;
	k4->pad[2] = 0;
}

static __always_inline struct iof_ct_val *iof_ct_lookup(const struct iof_ct_key *k)
{
	if (k->family == 4) {
		struct iof_ct4_key k4;

		iof_ct4_key_of(&k4, k);
		return bpf_map_lookup_elem(&iof_ct4, &k4);
	}
	return bpf_map_lookup_elem(&iof_ct6, k);
}

/* The family's iof_ct_stats counters ([0] IPv4, [1] IPv6); NULL if the map is missing. */
static __always_inline struct iof_ct_stats *iof_ct_stats_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&iof_ct_stats, &zero);
}

static __always_inline void iof_ct_delete(const struct iof_ct_key *k)
{
	struct iof_ct_stats *st;
	long r;

	if (k->family == 4) {
		struct iof_ct4_key k4;

		iof_ct4_key_of(&k4, k);
		r = bpf_map_delete_elem(&iof_ct4, &k4);
	} else {
		r = bpf_map_delete_elem(&iof_ct6, k);
	}
	st = iof_ct_stats_get();
	if (!r && st)
		st->deletes[k->family == 6]++;
}

/*
 * A new entry (counted), or a rewrite of one that exists (a fragment companion renewed).
 * BPF_NOEXIST first: only a store that adds a key counts as an insert.
 */
static __always_inline void iof_ct_store(const struct iof_ct_key *k, const struct iof_ct_val *v)
{
	struct iof_ct_stats *st;
	long r;

	if (k->family == 4) {
		struct iof_ct4_key k4;

		iof_ct4_key_of(&k4, k);
		r = bpf_map_update_elem(&iof_ct4, &k4, v, BPF_NOEXIST);
		if (r == -17 /* EEXIST */) {
			bpf_map_update_elem(&iof_ct4, &k4, v, BPF_ANY);
			return;
		}
	} else {
		r = bpf_map_update_elem(&iof_ct6, k, v, BPF_NOEXIST);
		if (r == -17) {
			bpf_map_update_elem(&iof_ct6, k, v, BPF_ANY);
			return;
		}
	}
	st = iof_ct_stats_get();
	if (!st)
		return;
	if (r)
		st->insert_failures[k->family == 6]++;
	else
		st->inserts[k->family == 6]++;
}

static __always_inline __u64 iof_cfg_or(__u64 v, __u64 dflt)
{
	return v ? v : dflt;
}

static __always_inline __u64 iof_ct_timeout_default(__u8 proto, __u8 state)
{
	if (proto == IPPROTO_TCP) {
		if (state == IOF_CT_NEW)
			return IOF_CT_DEFAULT_TCP_SYN_NS;
		if (state == IOF_CT_ESTABLISHED)
			return IOF_CT_DEFAULT_TCP_NS;
		return IOF_CT_DEFAULT_TCP_CLOSING_NS;
	}
	return proto == IPPROTO_UDP ? IOF_CT_DEFAULT_UDP_NS : IOF_CT_DEFAULT_OTHER_NS;
}

static __always_inline __u64 iof_ct_timeout(const struct iof_config *cfg, __u8 proto, __u8 state)
{
	if (!cfg)
		return iof_ct_timeout_default(proto, state);
	if (proto == IPPROTO_TCP) {
		if (state == IOF_CT_NEW)
			return iof_cfg_or(cfg->ct_timeout_tcp_syn_ns, IOF_CT_DEFAULT_TCP_SYN_NS);
		if (state == IOF_CT_ESTABLISHED)
			return iof_cfg_or(cfg->ct_timeout_tcp_ns, IOF_CT_DEFAULT_TCP_NS);
		return iof_cfg_or(cfg->ct_timeout_tcp_closing_ns, IOF_CT_DEFAULT_TCP_CLOSING_NS);
	}
	if (proto == IPPROTO_UDP)
		return iof_cfg_or(cfg->ct_timeout_udp_ns, IOF_CT_DEFAULT_UDP_NS);
	return iof_cfg_or(cfg->ct_timeout_other_ns, IOF_CT_DEFAULT_OTHER_NS);
}

static __always_inline int iof_ct_expired(const struct iof_config *cfg, const struct iof_ct_val *ct,
					  __u8 proto, __u64 now)
{
	return now - ct->last_seen_ns > iof_ct_timeout(cfg, proto, ct->state);
}

/* Advance the entry for a packet in direction dir (TCP flags in tcp_flags). */
static __always_inline void iof_ct_update(struct iof_ct_val *ct, __u8 proto, __u8 dir,
					  __u8 tcp_flags, __u64 now)
{
	if (ct->last_seen_ns != now)
		ct->last_seen_ns = now;
	if (proto != IPPROTO_TCP) {
		if (dir != ct->dir && ct->state == IOF_CT_NEW)
			ct->state = IOF_CT_ESTABLISHED;
		return;
	}
	if (tcp_flags & IOF_TCP_RST) {
		ct->state = IOF_CT_CLOSED;
		return;
	}
	if (tcp_flags & IOF_TCP_FIN) {
		ct->fin_seen |= dir == IOF_DIR_EGRESS ? 1 : 2;
		ct->state = ct->fin_seen == 3 ? IOF_CT_CLOSED : IOF_CT_CLOSING;
		return;
	}
	if (ct->state == IOF_CT_NEW && dir != ct->dir)
		ct->state = IOF_CT_ESTABLISHED;
}

#endif /* IOFENCE_BPF_CT_H */
