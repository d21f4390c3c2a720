/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Policy maps shared by the BPF programs and user space (compiler, loader, tests).
 * The compiler (policy/compile.c) fills exactly these keys and values; the BPF programs in
 * bpf/ look them up. Included by both sides: only uapi types, no libc.
 *
 * Every packet first resolves its endpoint (iof_endpoints, hash: attach id -> profile and
 * counter index) and its conntrack entry. A new flow is then judged with at most three
 * lookups, however many rules there are:
 *   1. iof_remote4 / iof_remote6 (LPM trie): {slot, profile, remote address} -> remote class
 *   2. iof_policy (LPM trie): {slot, dir, profile, class, proto, dport} -> verdict of the
 *      rules whose remote selector (CIDR or group) is in the class
 *   3. only if that verdict is not IOF_F_FINAL: iof_policy again with class IOF_CLASS_ANY,
 *      the verdict of the rules with any remote (and the endpoint default); the lower rank
 *      wins. This is Cilium's "specific identity, then wildcard" pair of lookups; it keeps
 *      the image linear in the rule count (any-remote rules are not copied into every class).
 * The datapath stores each trie as one inner LPM trie per {slot, profile} behind an array of
 * maps (datapath_maps.h), plus an exact-match cache of host remotes; the results are exactly
 * those of the single tries described here, which the compiler and policy_image_lookup() use.
 * The count is independent of the rule count; priorities and deny-over-allow are resolved by
 * the compiler into one rank per rule, never by a loop in the kernel.
 *
 * Atomic swap: every key carries the A/B slot of the revision it belongs to. A packet reads
 * iof_state.active_slot once and does all of its lookups in that slot; user space fills the
 * inactive slot, then flips active_slot with one aligned 32-bit store.
 */
#ifndef IOFENCE_BPF_POLICY_MAPS_H
#define IOFENCE_BPF_POLICY_MAPS_H

#include <linux/types.h>

#define IOF_SLOTS 2

/* Capacities (per slot). A policy whose image exceeds one is refused whole. */
#define IOF_MAX_ENDPOINTS 4096	      /* local endpoints of one node */
#define IOF_MAX_RULES 131072	      /* local rules (rules of groups used by local endpoints) */
#define IOF_MAX_REMOTE_ENTRIES 262144 /* remote prefixes, v4 and v6 each */
#define IOF_MAX_POLICY_ENTRIES 4194304
#define IOF_MAX_PREFILTER_ENTRIES 262144

enum iof_dir {
	IOF_DIR_INGRESS = 0,
	IOF_DIR_EGRESS = 1,
};

enum iof_action {
	IOF_ACT_NONE = 0, /* no entry (never stored) */
	IOF_ACT_ALLOW = 1,
	IOF_ACT_DENY = 2,
};

/* iof_policy_val.flags */
#define IOF_F_AUDIT 0x01   /* endpoint in audit mode: a deny passes, counted as would-drop */
#define IOF_F_DEFAULT 0x02 /* verdict is the endpoint default (no rule matched) */
#define IOF_F_FINAL 0x04   /* beats every any-remote rule: skip the IOF_CLASS_ANY lookup */

#define IOF_RULE_NONE 0xffffffffu /* rule_id of a default verdict */

/*
 * Remote class tries, one per family, keyed by profile. Data bytes after prefixlen:
 * slot(8) pad(24) profile(32) addr(32 or 128); prefixlen = IOF_REMOTE_PREFIX_BASE + CIDR
 * length, so a lookup only ever matches entries of its own slot and profile.
 * A profile's remote selectors are the CIDRs and groups its rules name; an address belongs
 * to the set of those selectors that contain it, and each distinct set is one of the
 * profile's remote classes (the empty set is IOF_CLASS_ANY). The compiler gives every
 * selector prefix and every member address of a selector group the class of all the
 * profile's selectors containing it, so the longest match is exactly the address's class.
 * Classes are per profile: a rule is never copied into classes made by other profiles'
 * CIDRs. Every profile holds 0.0.0.0/0 and ::/0, so a lookup never misses.
 */
struct iof_remote4_key {
	__u32 prefixlen;
	__u8 slot;
	__u8 pad[3];
	__u32 profile;
	__u8 addr[4];
};

struct iof_remote6_key {
	__u32 prefixlen;
	__u8 slot;
	__u8 pad[3];
	__u32 profile;
	__u8 addr[16];
};

struct iof_remote_val {
	__u32 remote_class;
	__u32 flags; /* IOF_RC_*: directions in which the class has rules of its own */
};

/*
 * A class without rules of its own in the packet's direction can only yield the any-remote
 * verdict: the program then looks up IOF_CLASS_ANY directly (one policy lookup, not two).
 */
#define IOF_RC_HAS_INGRESS 0x01 /* 1 << IOF_DIR_INGRESS */
#define IOF_RC_HAS_EGRESS 0x02	/* 1 << IOF_DIR_EGRESS */

/* The class of addresses that match no CIDR or group selector: only any-remote rules. */
#define IOF_CLASS_ANY 0

#define IOF_REMOTE_PREFIX_BASE 64 /* bits of slot, pad and profile before the address */

/*
 * Policy trie. Data bytes after prefixlen, in match order:
 *   slot(8) dir(8) pad(16) profile(32) remote_class(32) proto(8) pad2(8) dport(16, big endian)
 * Entries the compiler emits, by prefixlen:
 *   IOF_POLICY_PLEN_ENDPOINT (64): the endpoint's default for the direction (always present,
 *                                  rank IOF_RANK_DEFAULT)
 *   IOF_POLICY_PLEN_CLASS (96):    best rule with protocol any, for one remote class
 *   IOF_POLICY_PLEN_PROTO (112):   best rule for one protocol, every port
 *   112 + n (n = 1..16):           best rule for one protocol, a masked-port prefix of n bits
 * The longest match is the best rule of the class at that point: the compiler resolves each
 * more specific entry against the less specific ones, so falling back is always right.
 * A miss means the endpoint is unknown in this slot: the program fails closed.
 *
 * profile: endpoints with the same groups, defaults and mode share one profile and so one
 * set of entries (the image stays linear in the rules, not rules x endpoints).
 */
struct iof_policy_key {
	__u32 prefixlen;
	__u8 slot;
	__u8 dir;
	__u8 pad[2];
	__u32 profile;
	__u32 remote_class;
	__u8 proto;
	__u8 pad2;
	__be16 dport;
};

#define IOF_POLICY_PLEN_ENDPOINT 64
#define IOF_POLICY_PLEN_CLASS 96
#define IOF_POLICY_PLEN_PROTO 112
#define IOF_POLICY_PLEN_MAX 128

struct iof_policy_val {
	__u8 action; /* enum iof_action */
	__u8 flags;  /* IOF_F_* */
	__u16 pad;
	__u32 rule_id; /* local rule id: per-rule counters; IOF_RULE_NONE for defaults */
	__u32 rank;    /* precedence: lower wins (priority, deny first, document order) */
};

#define IOF_RANK_DEFAULT 0xffffffffu /* the endpoint default: loses to every rule */

/*
 * Any-remote verdicts by exact port. For a profile, direction and port protocol (TCP, UDP,
 * SCTP) whose IOF_CLASS_ANY port entries (prefixlen > IOF_POLICY_PLEN_PROTO) cover few ports
 * (IOF_ANY_PORTS_GROUP_MAX, overlaps counted), the compiler lists every covered port with its
 * longest match among those entries and sets the group's bit (iof_any_ports_bit) in the
 * endpoints' iof_endpoint_val.any_ports. The program looks such a group's port up here first: a
 * listed port has its verdict at once, and any other port's longest match is at the protocol
 * level or above, the group's iof_any_group entry (below). Neither walks the port entries, so
 * the any-remote verdict costs the same at any rule count.
 * The key starts like the slotted trie keys (prefixlen always IOF_ANY_PORT_PLEN) and the
 * datapath stores it as it stores remote hosts, in an exact-match table.
 */
struct iof_any_port_key {
	__u32 prefixlen;
	__u8 slot;
	__u8 pad[3];
	__u32 profile;
	__u8 dir;
	__u8 proto;
	__be16 dport;
};

/*
 * The verdict of a listed group's unlisted ports (its longest match at the protocol level or
 * above: the protocol entry, the class entry or the endpoint default), in the array
 * iof_any_group at iof_any_group_index(); it is read only for groups whose bit is set.
 */
#define IOF_ANY_GROUPS 6 /* {ingress, egress} x {TCP, UDP, SCTP} per {slot, profile} */

#define IOF_ANY_PORT_PLEN 96
#define IOF_ANY_PORTS_GROUP_MAX 1024 /* ports listed for one {profile, dir, protocol} */
#define IOF_MAX_ANY_PORTS 262144     /* per slot; groups beyond it keep the LPM walk */

/* The group number of {dir, proto} (0..IOF_ANY_GROUPS - 1), or -1 for a protocol without ports. */
static inline int iof_any_group_of(__u8 dir, __u8 proto)
{
	int i = proto == 6 ? 0 : proto == 17 ? 1 : proto == 132 ? 2 : -1;

	return i < 0 ? -1 : (int)(dir & 1) * 3 + i;
}

/* The any_ports bit of {dir, proto}, or 0 for a protocol without ports. */
static inline __u16 iof_any_ports_bit(__u8 dir, __u8 proto)
{
	int g = iof_any_group_of(dir, proto);

	return g < 0 ? 0 : (__u16)(1u << g);
}

/*
 * Endpoints (hash). attach_id: for TC the host-side ifindex, for cgroup endpoints
 * IOF_EP_CGROUP_BIT | a loader-assigned id kept in the cgroup's local storage.
 */
#define IOF_EP_CGROUP_BIT 0x80000000u

struct iof_endpoint_key {
	__u32 attach_id;
	__u8 slot;
	__u8 pad[3];
};

struct iof_endpoint_val {
	__u32 profile;	      /* key part of iof_policy entries */
	__u16 endpoint_index; /* per-endpoint counters */
	__u16 any_ports;      /* iof_any_ports_bit()s of the profile's listed port groups */
};

/*
 * Node state, one element of a BPF_F_MMAPABLE array. active_slot is the only field a
 * packet must read consistently: it is written last, with one aligned store.
 */
struct iof_state {
	__u32 active_slot;
	__u32 pad;
	__u64 revision[IOF_SLOTS]; /* revision held by each slot */
};

_Static_assert(sizeof(struct iof_remote4_key) == 16, "iof_remote4_key layout");
_Static_assert(sizeof(struct iof_remote6_key) == 28, "iof_remote6_key layout");
_Static_assert(sizeof(struct iof_remote_val) == 8, "iof_remote_val layout");
_Static_assert(sizeof(struct iof_policy_key) == 20, "iof_policy_key layout");
_Static_assert(sizeof(struct iof_policy_val) == 12, "iof_policy_val layout");
_Static_assert(sizeof(struct iof_state) == 24, "iof_state layout");
_Static_assert(sizeof(struct iof_any_port_key) == 16, "iof_any_port_key layout");
_Static_assert(sizeof(struct iof_endpoint_key) == 8, "iof_endpoint_key layout");
_Static_assert(sizeof(struct iof_endpoint_val) == 8, "iof_endpoint_val layout");

#endif /* IOFENCE_BPF_POLICY_MAPS_H */
