/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kernel layout of the policy image: every key and value of the policy maps, as the BPF
 * programs look them up and as user space writes them. One owner: the compiler emits entries
 * in exactly these keys (policy/layout.h: one record per map entry, slot 0), the datapath
 * writer batches them into the maps, the delta writer diffs them, and policy_image_lookup()
 * walks them as bpf/verdict.h does. Included by both sides: only uapi types, no libc.
 *
 * Maps (names as pinned; the struct definitions are in bpf/maps.h):
 *   iof_state         ARRAY[1] of iof_state, BPF_F_MMAPABLE
 *   iof_endpoints     HASH iof_endpoint_key -> iof_endpoint_val
 *   iof_remote4/6     ARRAY_OF_MAPS by iof_profile_index(): one LPM trie per {slot, profile} of
 *                     iof_remote4/6_key -> iof_remote_val (prefixes shorter than a host)
 *   iof_remote4/6_host HASH iof_remote4/6_host_key -> iof_remote_val (host addresses)
 *   iof_policy        ARRAY_OF_MAPS by iof_policy_index(): one LPM trie per {slot, profile,
 *                     part} of iof_policy_key -> iof_policy_val
 *   iof_any_ports     HASH iof_any_port_key -> iof_policy_val (listed any-remote ports)
 *   iof_any_group     ARRAY by iof_any_group_index() of iof_policy_val (their groups' verdict)
 *
 * What a new flow costs (the one statement of it; README and docs/BENCHMARKS.md say the same):
 * at most IOF_NEW_FLOW_LOOKUPS_MAX (six) map lookups, whatever the rule count, besides what
 * every packet reads (iof_state, conntrack):
 *   1. iof_endpoints: attach id -> profile, endpoint index, listed port groups (one);
 *   2. the remote's class: iof_remote4/6_host (exact), and on a miss the profile's remote trie
 *      (one or two);
 *   3. only for a class with rules in the packet's direction: the profile's class part of
 *      iof_policy (none or one); its verdict ends the search when it is IOF_F_FINAL;
 *   4. the any-remote verdict: in a listed group, iof_any_ports and on a miss the group's
 *      iof_any_group entry (one or two); otherwise the profile's any part of iof_policy (one).
 *      The lower rank of 3 and 4 wins.
 * (The arrays of maps are looked up too, but the verifier inlines those array lookups.)
 * Priorities and deny-over-allow are resolved by the compiler into one rank per rule, never by
 * a loop in the kernel.
 *
 * Atomic swap: every slotted key carries the A/B slot of its revision at IOF_KEY_SLOT_OFFSET,
 * every array of maps and array has a slot's range of indexes. A packet reads
 * iof_state.active_slot once and does all of its lookups in that slot; user space fills the
 * inactive slot, then flips active_slot with one aligned 32-bit store.
 */
#ifndef IOFENCE_BPF_POLICY_LAYOUT_H
#define IOFENCE_BPF_POLICY_LAYOUT_H

#include <linux/types.h>

#define IOF_SLOTS 2

/* Capacities (per slot). A policy whose image exceeds one is refused whole. */
#define IOF_MAX_ENDPOINTS 4096	      /* local endpoints of one node */
#define IOF_MAX_RULES 131072	      /* local rules (rules of groups used by local endpoints) */
#define IOF_MAX_REMOTE_ENTRIES 262144 /* remote prefixes, v4 and v6 each */
#define IOF_MAX_POLICY_ENTRIES 4194304
#define IOF_MAX_PREFILTER_ENTRIES 262144
#define IOF_MAX_PROFILES IOF_MAX_ENDPOINTS /* numbered densely from 0, at most one per endpoint */

/* Map lookups of a new flow's verdict at most (see above): 1 + 2 + 1 + 2. */
#define IOF_NEW_FLOW_LOOKUPS_MAX 6

/* Byte of every slotted hash key that holds the slot (asserted below for each). */
#define IOF_KEY_SLOT_OFFSET 4

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
#define IOF_F_FINAL 0x04   /* beats every any-remote rule: skip the any-remote lookup */

#define IOF_RULE_NONE 0xffffffffu    /* rule_id of a default verdict */
#define IOF_RANK_DEFAULT 0xffffffffu /* the endpoint default: loses to every rule */

/* ---- endpoints and node state ---- */

/*
 * attach_id: for TC the host-side ifindex, for cgroup endpoints IOF_EP_CGROUP_BIT | a
 * loader-assigned id kept in the cgroup's local storage.
 */
#define IOF_EP_CGROUP_BIT 0x80000000u

struct iof_endpoint_key {
	__u32 attach_id;
	__u8 slot;
	__u8 pad[3];
};

struct iof_endpoint_val {
	__u32 profile;	      /* the tries and table entries of the endpoint's profile */
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

/* ---- per-profile tries ---- */

/*
 * The outer arrays of tries are indexed by iof_profile_index() (iof_remote4/6) and
 * iof_policy_index() (iof_policy): the verifier inlines an array lookup. A trie's key has no
 * {slot, profile}: the trie stands for them. Each node of an LPM walk compares the key's data
 * from its first byte, a word at a time, so bytes that every entry of a trie shares would cost
 * a compare on every node; without them a policy key's data is 8 bytes, as is an IPv4 address
 * with its prefix length word.
 */
static inline __u32 iof_profile_index(__u8 slot, __u32 profile)
{
	return (__u32)slot * IOF_MAX_PROFILES + profile;
}

/*
 * Remote classes. A profile's remote selectors are the CIDRs and groups its rules name; an
 * address belongs to the set of those selectors that contain it, and each distinct set is one of
 * the profile's remote classes (the empty set is IOF_CLASS_ANY). The compiler gives every
 * selector prefix and every member address of a selector group the class of all the profile's
 * selectors containing it, so the longest match is exactly the address's class. Classes are per
 * profile: a rule is never copied into classes made by other profiles' CIDRs.
 * Host addresses (/32, /128: group members, host CIDRs) live only in the exact-match table
 * iof_remote4/6_host; the profile's trie holds the shorter prefixes and 0.0.0.0/0, ::/0 (so the
 * trie never misses). A host-table hit is the address's longest match; on a miss the longest
 * match is among the shorter prefixes, all in the trie.
 */
struct iof_remote4_key {
	__u32 prefixlen; /* CIDR length */
	__u8 addr[4];
};

struct iof_remote6_key {
	__u32 prefixlen;
	__u8 addr[16];
};

struct iof_remote4_host_key {
	__u32 profile;
	__u8 slot;
	__u8 pad[3];
	__u8 addr[4];
};

struct iof_remote6_host_key {
	__u32 profile;
	__u8 slot;
	__u8 pad[3];
	__u8 addr[16];
};

struct iof_remote_val {
	__u32 remote_class;
	__u32 flags; /* IOF_RC_*: directions in which the class has rules of its own */
};

/*
 * A class without rules of its own in the packet's direction can only yield the any-remote
 * verdict: the program then skips the class part (one policy lookup, not two).
 */
#define IOF_RC_HAS_INGRESS 0x01 /* 1 << IOF_DIR_INGRESS */
#define IOF_RC_HAS_EGRESS 0x02	/* 1 << IOF_DIR_EGRESS */

/* The class of addresses that match no CIDR or group selector: only any-remote rules. */
#define IOF_CLASS_ANY 0

/*
 * Policy tries: two per {slot, profile}. The class part (IOF_POLICY_PART_CLASS) holds the
 * entries of the profile's remote classes; the any part (IOF_POLICY_PART_ANY) those of
 * IOF_CLASS_ANY and the endpoint defaults. Splitting them keeps each walk to its own entries.
 * Key data in match order: dir(8) remote_class(32, host order) proto(8) dport(16, big endian).
 * Entries by prefixlen:
 *   IOF_POLICY_PLEN_ENDPOINT (8): the endpoint's default for the direction (always present,
 *                                 rank IOF_RANK_DEFAULT; any part)
 *   IOF_POLICY_PLEN_CLASS (40):   best rule with protocol any, for one remote class
 *   IOF_POLICY_PLEN_PROTO (48):   best rule for one protocol, every port
 *   48 + n (n = 1..16):           best rule for one protocol, a masked-port prefix of n bits
 * The longest match is the best rule of the class at that point: the compiler resolves each
 * more specific entry against the less specific ones, so falling back is always right. An any
 * part never misses (the defaults); a class-part miss means the any part decides.
 * profile: endpoints with the same groups, defaults and mode share one profile and so one set
 * of entries (the image stays linear in the rules, not rules x endpoints).
 */
#define IOF_POLICY_PART_CLASS 0
#define IOF_POLICY_PART_ANY 1
#define IOF_POLICY_PARTS 2

static inline __u32 iof_policy_index(__u8 slot, __u32 profile, __u32 part)
{
	return iof_profile_index(slot, profile) * IOF_POLICY_PARTS + part;
}

struct iof_policy_key {
	__u32 prefixlen;
	__u8 dir;
	__u8 remote_class[4]; /* the __u32 class in host order: every entry has all or none of it */
	__u8 proto;
	__be16 dport;
};

#define IOF_POLICY_PLEN_ENDPOINT 8
#define IOF_POLICY_PLEN_CLASS 40
#define IOF_POLICY_PLEN_PROTO 48
#define IOF_POLICY_PLEN_MAX 64

struct iof_policy_val {
	__u8 action; /* enum iof_action */
	__u8 flags;  /* IOF_F_* */
	__u16 pad;
	__u32 rule_id; /* local rule id: per-rule counters; IOF_RULE_NONE for defaults */
	__u32 rank;    /* precedence: lower wins (priority, deny first, document order) */
};

/* ---- listed any-remote ports ---- */

/*
 * For a profile, direction and port protocol (TCP, UDP, SCTP) whose any-part port entries
 * (prefixlen > IOF_POLICY_PLEN_PROTO) cover few ports (IOF_ANY_PORTS_GROUP_MAX, overlaps
 * counted), the compiler lists every covered port with its longest match among those entries
 * in iof_any_ports, and the group's other ports' verdict (its longest match at the protocol
 * level or above: the protocol entry, the class entry or the endpoint default) in iof_any_group;
 * it sets the group's bit (iof_any_ports_bit) in the endpoints' iof_endpoint_val.any_ports.
 * The program looks such a group's port up in iof_any_ports, and on a miss reads the group's
 * iof_any_group entry: neither walks the port entries, so the any-remote verdict costs the same
 * at any rule count. iof_any_group is read only for groups whose bit is set.
 */
struct iof_any_port_key {
	__u32 profile;
	__u8 slot;
	__u8 pad[3];
	__u8 dir;
	__u8 proto;
	__be16 dport;
};

#define IOF_ANY_GROUPS 6 /* {ingress, egress} x {TCP, UDP, SCTP} per {slot, profile} */
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

static inline __u32 iof_any_group_index(__u8 slot, __u32 profile, __u32 group)
{
	return iof_profile_index(slot, profile) * IOF_ANY_GROUPS + group;
}

/* ---- layouts, checked where both sides compile them ---- */

#define IOF_LAYOUT(type, size) _Static_assert(sizeof(struct type) == (size), #type " layout")
#define IOF_FIELD(type, field, off)                                                                \
	_Static_assert(__builtin_offsetof(struct type, field) == (off), #type "." #field)

IOF_LAYOUT(iof_endpoint_key, 8);
IOF_FIELD(iof_endpoint_key, slot, IOF_KEY_SLOT_OFFSET);
IOF_LAYOUT(iof_endpoint_val, 8);
IOF_FIELD(iof_endpoint_val, any_ports, 6);
IOF_LAYOUT(iof_state, 24);
IOF_FIELD(iof_state, revision, 8);
IOF_LAYOUT(iof_remote4_key, 8);
IOF_FIELD(iof_remote4_key, addr, 4);
IOF_LAYOUT(iof_remote6_key, 20);
IOF_FIELD(iof_remote6_key, addr, 4);
IOF_LAYOUT(iof_remote4_host_key, 12);
IOF_FIELD(iof_remote4_host_key, slot, IOF_KEY_SLOT_OFFSET);
IOF_FIELD(iof_remote4_host_key, addr, 8);
IOF_LAYOUT(iof_remote6_host_key, 24);
IOF_FIELD(iof_remote6_host_key, slot, IOF_KEY_SLOT_OFFSET);
IOF_FIELD(iof_remote6_host_key, addr, 8);
IOF_LAYOUT(iof_remote_val, 8);
IOF_LAYOUT(iof_policy_key, 12);
IOF_FIELD(iof_policy_key, dir, 4);
IOF_FIELD(iof_policy_key, remote_class, 5);
IOF_FIELD(iof_policy_key, proto, 9);
IOF_FIELD(iof_policy_key, dport, 10);
IOF_LAYOUT(iof_policy_val, 12);
IOF_FIELD(iof_policy_val, rank, 8);
IOF_LAYOUT(iof_any_port_key, 12);
IOF_FIELD(iof_any_port_key, slot, IOF_KEY_SLOT_OFFSET);
IOF_FIELD(iof_any_port_key, dir, 8);
IOF_FIELD(iof_any_port_key, dport, 10);
/* The prefix lengths cover the key data in order: dir, class, proto, port. */
_Static_assert(IOF_POLICY_PLEN_CLASS == IOF_POLICY_PLEN_ENDPOINT + 32, "class after dir");
_Static_assert(IOF_POLICY_PLEN_PROTO == IOF_POLICY_PLEN_CLASS + 8, "proto after class");
_Static_assert(IOF_POLICY_PLEN_MAX == 8 * (sizeof(struct iof_policy_key) - 4), "key data");

#endif /* IOFENCE_BPF_POLICY_LAYOUT_H */
