/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The new-flow verdict: the lookups policy_layout.h counts (at most IOF_NEW_FLOW_LOOKUPS_MAX,
 * whatever the rule count), in the order it lists them. policy_image_lookup() (policy/image.c)
 * walks the same maps, in the same order, over a compiled image.
 */
#ifndef IOFENCE_BPF_VERDICT_H
#define IOFENCE_BPF_VERDICT_H

#include "maps.h"

struct iof_decision {
	__u8 action; /* enum iof_action */
	__u8 flags;  /* IOF_F_* */
	__u16 endpoint_index;
	__u32 rule_id;
};

/* The active slot and its revision, read once per packet. */
struct iof_view {
	__u8 slot;
	__u64 revision;
};

static __always_inline int iof_view_read(struct iof_view *v)
{
	__u32 zero = 0;
	struct iof_state *st = bpf_map_lookup_elem(&iof_state, &zero);

	if (!st)
		return -1;
	v->slot = *(volatile __u32 *)&st->active_slot & (IOF_SLOTS - 1);
	v->revision = st->revision[v->slot];
	return 0;
}

/*
 * The remote's class among the profile's selectors (classes are per profile): the host cache
 * first (exact for addresses with a full-length entry), then the trie. pidx is the profile's
 * iof_profile_index().
 */
static __always_inline __u32 iof_remote_lookup(__u8 slot, __u32 profile, __u32 pidx, __u8 family,
					       const __u8 *remote, __u32 *ret_flags)
{
	struct iof_remote_val *rv;
	void *trie;

	if (family == 4) {
		struct iof_remote4_host_key hk = {.profile = profile, .slot = slot};
		struct iof_remote4_key k = {.prefixlen = 32};

		__builtin_memcpy(hk.addr, remote, 4);
		rv = bpf_map_lookup_elem(&iof_remote4_host, &hk);
		if (rv) {
			*ret_flags = rv->flags;
			return rv->remote_class;
		}
		trie = bpf_map_lookup_elem(&iof_remote4, &pidx);
		if (!trie)
			return IOF_CLASS_ANY;
		__builtin_memcpy(k.addr, remote, 4);
		rv = bpf_map_lookup_elem(trie, &k);
	} else {
		struct iof_remote6_host_key hk = {.profile = profile, .slot = slot};
		struct iof_remote6_key k = {.prefixlen = 128};

		__builtin_memcpy(hk.addr, remote, 16);
		rv = bpf_map_lookup_elem(&iof_remote6_host, &hk);
		if (rv) {
			*ret_flags = rv->flags;
			return rv->remote_class;
		}
		trie = bpf_map_lookup_elem(&iof_remote6, &pidx);
		if (!trie)
			return IOF_CLASS_ANY;
		__builtin_memcpy(k.addr, remote, 16);
		rv = bpf_map_lookup_elem(trie, &k);
	}
	if (!rv)
		return IOF_CLASS_ANY;
	*ret_flags = rv->flags;
	return rv->remote_class;
}

/* The class to look up first for direction dir (IOF_RC_* says whether the class has rules). */
static __always_inline __u32 iof_remote_class(__u8 slot, __u32 profile, __u32 pidx, __u8 dir,
					      __u8 family, const __u8 *remote)
{
	__u32 flags = 0;
	__u32 cls = iof_remote_lookup(slot, profile, pidx, family, remote, &flags);

	return flags & (1u << dir) ? cls : IOF_CLASS_ANY;
}

static __always_inline int iof_proto_has_ports(__u8 proto)
{
	return proto == 6 || proto == 17 || proto == 132;
}

/*
 * The any part's verdict for pk (remote class IOF_CLASS_ANY): in a listed group (policy_layout.h)
 * a port by exact match (iof_any_ports), the group's other ports by its iof_any_group entry;
 * otherwise the LPM walk.
 */
static __always_inline struct iof_policy_val *
iof_any_verdict(__u8 slot, const struct iof_endpoint_val *ep, struct iof_policy_key *pk)
{
	__u32 part = iof_policy_index(slot, ep->profile, IOF_POLICY_PART_ANY);
	int group = iof_any_group_of(pk->dir, pk->proto);
	void *trie;

	if (group >= 0 && (ep->any_ports & (1u << group))) {
		struct iof_any_port_key hk = {.profile = ep->profile,
					       .slot = slot,
					       .dir = pk->dir,
					       .proto = pk->proto,
					       .dport = pk->dport};
		__u32 idx = iof_any_group_index(slot, ep->profile, (__u32)group);
		struct iof_policy_val *v = bpf_map_lookup_elem(&iof_any_ports, &hk);

		return v ? v : bpf_map_lookup_elem(&iof_any_group, &idx);
	}
	trie = bpf_map_lookup_elem(&iof_policy, &part);
	return trie ? bpf_map_lookup_elem(trie, pk) : NULL;
}

/*
 * Judge a new flow at endpoint attach_id. dport is the destination port of the connection
 * (network order; ignored for protocols without ports). Return: 0 with d filled, or -1 when
 * the endpoint is unknown in this slot (the caller fails closed).
 */
static __always_inline int iof_judge(__u8 slot, __u32 attach_id, __u8 dir, __u8 family,
				     const __u8 *remote, __u8 proto, __be16 dport,
				     struct iof_decision *d)
{
	struct iof_endpoint_key ek = {.attach_id = attach_id, .slot = slot};
	struct iof_endpoint_val *ep = bpf_map_lookup_elem(&iof_endpoints, &ek);
	struct iof_policy_val *v = NULL, *any;
	__u32 pidx, part, cls;
	void *trie;

	if (!ep || ep->profile >= IOF_MAX_PROFILES)
		return -1;
	struct iof_policy_key pk = {
	    .prefixlen = IOF_POLICY_PLEN_MAX,
	    .dir = dir,
	    .proto = proto,
	    .dport = iof_proto_has_ports(proto) ? dport : 0,
	};

	d->endpoint_index = ep->endpoint_index;
	pidx = iof_profile_index(slot, ep->profile);
	cls = iof_remote_class(slot, ep->profile, pidx, dir, family, remote);
	if (cls != IOF_CLASS_ANY) {
		__builtin_memcpy(pk.remote_class, &cls, sizeof(cls));
		part = iof_policy_index(slot, ep->profile, IOF_POLICY_PART_CLASS);
		trie = bpf_map_lookup_elem(&iof_policy, &part);
		if (trie)
			v = bpf_map_lookup_elem(trie, &pk);
	}
	if (!v || !(v->flags & IOF_F_FINAL)) {
		__builtin_memset(pk.remote_class, 0, sizeof(pk.remote_class)); /* IOF_CLASS_ANY */
		any = iof_any_verdict(slot, ep, &pk);
		if (!any)
			return -1;
		if (!v || any->rank < v->rank)
			v = any;
	}
	d->action = v->action;
	d->flags = v->flags;
	d->rule_id = v->rule_id;
	return 0;
}

#endif /* IOFENCE_BPF_VERDICT_H */
