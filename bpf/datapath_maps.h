/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Datapath maps other than the policy image (whose keys and values are in policy_layout.h):
 * conntrack, counters, verdict events, the XDP prefilter, the failsafe set and node
 * configuration. Shared by the BPF programs in bpf/ and user space (agent/datapath); uapi
 * types only.
 *
 * Map names (pinned under <pin-dir>/maps/<name>, adopted by name on restart; the policy maps
 * are listed in policy_layout.h):
 *   iof_ct4           LRU_HASH iof_ct4_key -> iof_ct_val (IPv4 flows)
 *   iof_ct6           LRU_HASH iof_ct_key -> iof_ct_val (IPv6 flows)
 *   iof_ct_stats      PERCPU_ARRAY[1] of iof_ct_stats: conntrack inserts, deletes, failures
 *   iof_ep_ifnames    HASH iof_ifname_key -> iof_endpoint_val: each slot's endpoints by
 *                     interface name (read by user space only: a starting agent attaches
 *                     the interfaces that appeared while it was down before anything else)
 *   iof_ep_settle     HASH __u32 attach id -> __u64 ktime (ns) until which the endpoint's
 *                     egress-opened flows are provisional (IOF_CT_F_PROVISIONAL)
 *   iof_rule_counters PERCPU_ARRAY[IOF_SLOTS * IOF_MAX_RULES] of iof_counter
 *   iof_ep_counters   PERCPU_ARRAY[IOF_SLOTS * IOF_MAX_ENDPOINTS * IOF_EP_COUNTER_KINDS]
 *   iof_drops         PERCPU_ARRAY[IOF_DROP_MAX] of iof_counter (by enum iof_drop_reason)
 *   iof_rule_owner    ARRAY[IOF_SLOTS * IOF_MAX_RULES] of __u64: the counter identity of each
 *                     slot's rule ids (0: none); user space only (see "Counter identities")
 *   iof_ep_owner      ARRAY[IOF_SLOTS * IOF_MAX_ENDPOINTS] of __u64: the same for endpoints
 *   iof_count_base    HASH iof_count_base_key -> iof_counter: what retired slots counted, per
 *                     identity; user space only
 *   iof_events        RINGBUF of iof_event (IOF_EVENTS_RING_BYTES)
 *   iof_events_lost   PERCPU_ARRAY[IOF_EVLOST_MAX] of __u64: records not written, by cause
 *   iof_event_bucket  PERCPU_ARRAY[1]: the events' token bucket (BPF-private state)
 *   iof_prefilter4/6  LPM_TRIE iof_prefilter4/6_key -> __u8 (1 = deny), shorter prefixes
 *   iof_prefilter4/6_host ARRAY_OF_MAPS[IOF_SLOTS] of HASH, keys iof_prefilter4/6_host_key:
 *                     the /32 and /128 entries, looked up first
 *   iof_failsafe      ARRAY[IOF_FAILSAFE_MAX] of iof_failsafe
 *   iof_config        ARRAY[1] of iof_config
 *   iof_cg_ids        CGROUP_STORAGE, key __u64 (cgroup id, shared by all attach types of
 *                     one cgroup), value __u32: the cgroup endpoint's id. After attaching the
 *                     cgroup hooks the loader writes the id with bpf_map_update_elem(key =
 *                     cgroup inode id); the hooks use IOF_EP_CGROUP_BIT | id as attach id.
 *                     While it is still 0 (between attach and write) the hooks fail closed
 *                     (IOF_DROP_UNKNOWN_EP; connect/sendmsg get EPERM).
 *
 * Programs (all in iofence.bpf.o):
 *   iof_tc_from_ep     tc ingress of the host-side interface: leaves the workload (egress)
 *   iof_tc_to_ep       tc egress of the host-side interface: enters the workload (ingress)
 *   iof_tc_empty       returns TC_ACT_OK: the benchmarks' baseline
 *   iof_xdp_prefilter  xdp on uplinks: iof_prefilter4/6 by source, iof_failsafe exempt
 *   iof_cg_connect4/6, iof_cg_sendmsg4/6   cgroup sock_addr: EPERM for denied destinations
 *   iof_cg_skb_ingress, iof_cg_skb_egress  cgroup_skb: the same enforcement as tc
 * The attach id of a TC endpoint is skb->ifindex (the host-side interface, in both hooks).
 * An attach id with no iof_endpoints entry in the active slot fails closed.
 */
#ifndef IOFENCE_BPF_DATAPATH_MAPS_H
#define IOFENCE_BPF_DATAPATH_MAPS_H

#include <linux/types.h>

#include "policy_layout.h"

#define IOF_CT_MAX 262144 /* per family: iof_ct4 and iof_ct6 each */

/*
 * Conntrack, from the endpoint's point of view: one entry per endpoint hook and flow. A flow is
 * described by iof_ct_key (also what events report); IPv6 flows are kept in iof_ct6 under that
 * key (family 6), IPv4 flows in iof_ct4 under its compact form iof_ct4_key. Two maps, because
 * the hash map hashes and compares the whole key on every lookup: 20 bytes take one jhash
 * round where 44 take three.
 */
struct iof_ct_key {
	__u32 attach_id; /* iof_endpoint_key.attach_id of the hook that admitted it */
	__u8 family;	 /* 4 or 6 */
	__u8 proto;
	__be16 remote_port; /* ICMP echo: the identifier; 0 for other portless protocols */
	__be16 local_port;
	__u16 pad;
	__u8 remote[16]; /* IPv4 in the first 4 bytes */
	__u8 local[16];
};

/* The key of an IPv4 flow in iof_ct4: iof_ct_key's fields without family and IPv6 room. */
struct iof_ct4_key {
	__u32 attach_id;
	__u8 remote[4];
	__u8 local[4];
	__be16 remote_port;
	__be16 local_port;
	__u8 proto;
	__u8 pad[3];
};

enum iof_ct_state {
	IOF_CT_NEW = 0,		/* first packet seen (TCP: SYN) */
	IOF_CT_ESTABLISHED = 1, /* reply seen */
	IOF_CT_CLOSING = 2,	/* FIN seen */
	IOF_CT_CLOSED = 3,	/* RST or both FINs: short timeout */
};

struct iof_ct_val {
	__u64 last_seen_ns; /* bpf_ktime_get_coarse_ns() (CLOCK_MONOTONIC_COARSE) */
	__u64 revision;	    /* revision that admitted (or last re-checked) the flow */
	__u32 rule_id;	    /* rule that admitted it; IOF_RULE_NONE: default */
	__u16 endpoint_index;
	__u8 dir;      /* enum iof_dir of the first packet: who opened the flow */
	__u8 state;    /* enum iof_ct_state */
	__u8 fin_seen; /* bit 0: from the endpoint, bit 1: from the remote */
	__u8 audit;    /* admitted only because the endpoint is in audit mode */
	__u8 flags;    /* IOF_CT_F_* */
	__u8 pad[5];
};

/*
 * A companion entry with both ports 0, made when a first fragment (MF set) of an admitted
 * flow passes: the non-first fragments of that datagram (no L4 header) pass by it. Non-first
 * fragments without one are dropped (IOF_DROP_FRAGMENT). It is never re-checked: after a new
 * revision it is removed and the fragments are dropped until a first fragment renews it.
 */
#define IOF_CT_F_FRAG 0x01

/*
 * Conntrack pressure, counted by the programs per CPU (one element: a reader sums the CPUs'
 * copies with one lookup, never walks the tables). Index [0] is iof_ct4, [1] iof_ct6. The
 * LRU evicts silently: user space derives evictions as what inserts - deletes exceeds the
 * capacity (a lower bound) and the fill as the rest (agent/datapath/read.c).
 */
struct iof_ct_stats {
	__u64 inserts[2];	  /* new entries stored */
	__u64 deletes[2];	  /* entries the programs removed: expired, revoked, reused */
	__u64 insert_failures[2]; /* a new entry the map refused: the flow passed untracked */
};

/*
 * Fail-closed start. An interface that was already up when its hooks were attached may have
 * delivered packets to the workload unjudged; the workload's replies to them would open flows
 * at its egress hook, and the denied inbound flow would then pass as their "replies". So for
 * IOF_SETTLE_NS after such an attach (iof_ep_settle) a flow opened by the endpoint other than
 * with a TCP SYN or an ICMP echo request (packets that cannot answer one: UDP, other
 * protocols) is provisional: a packet entering the workload on it
 * is judged by the ingress policy as a new flow would be, for the flow's whole life. An
 * interface attached while down (the orchestrator waited for enforcement before bringing the
 * link up) has no such window and no settle entry.
 */
#define IOF_CT_F_PROVISIONAL 0x02

/* iof_ep_ifnames key: an endpoint's interface name in one slot. */
struct iof_ifname_key {
	char name[16]; /* IFNAMSIZ, NUL-padded */
	__u8 slot;
	__u8 pad[3];
};
#define IOF_SETTLE_NS (2ull * 1000000000)

/* Default timeouts, used when an iof_config field is 0. */
#define IOF_CT_DEFAULT_TCP_NS (6ull * 3600 * 1000000000)
#define IOF_CT_DEFAULT_TCP_SYN_NS (60ull * 1000000000)
#define IOF_CT_DEFAULT_TCP_CLOSING_NS (10ull * 1000000000)
#define IOF_CT_DEFAULT_UDP_NS (60ull * 1000000000)
#define IOF_CT_DEFAULT_OTHER_NS (60ull * 1000000000)

struct iof_counter {
	__u64 packets;
	__u64 bytes;
};

/* iof_ep_counters index: ((slot * IOF_MAX_ENDPOINTS) + endpoint_index) * KINDS + kind */
enum iof_ep_counter_kind {
	IOF_EPC_INGRESS_ALLOW = 0,
	IOF_EPC_INGRESS_DENY = 1,
	IOF_EPC_EGRESS_ALLOW = 2,
	IOF_EPC_EGRESS_DENY = 3,
	IOF_EPC_AUDIT_WOULD_DROP = 4,
	IOF_EP_COUNTER_KINDS = 5,
};

/*
 * Counter identities. The programs count per slot and rule id (or endpoint index), and a slot's
 * counters start from zero when an image is written into it; a rule or endpoint keeps its
 * counters across applies through its identity: a 64-bit hash of its label ("group/name" for a
 * named rule, so it survives reordering; "group[index]" otherwise; the endpoint's name). The
 * agent records each slot's identities (iof_rule_owner, iof_ep_owner) and, before an image
 * overwrites a slot, adds what the slot counted into iof_count_base. An identity's total is
 * its base plus what both slots count under it now (agent/datapath/counter_ledger.c). All
 * three maps are pinned with the others, so totals survive agent restarts.
 */
#define IOF_COUNT_BASE_RULE 0xff /* iof_count_base_key.kind of a rule; else iof_ep_counter_kind */

struct iof_count_base_key {
	__u64 identity;
	__u32 kind;
	__u32 pad;
};

#define IOF_COUNT_BASE_MAX                                                                         \
	(IOF_SLOTS * IOF_MAX_RULES + IOF_SLOTS * IOF_MAX_ENDPOINTS * IOF_EP_COUNTER_KINDS)

enum iof_drop_reason {
	IOF_DROP_NONE = 0,
	IOF_DROP_POLICY = 1,	 /* a deny rule */
	IOF_DROP_DEFAULT = 2,	 /* the endpoint default */
	IOF_DROP_PREFILTER = 3,	 /* XDP deny-list */
	IOF_DROP_REVOKED = 4,	 /* established flow no longer allowed by the new revision */
	IOF_DROP_MALFORMED = 5,	 /* truncated or unparsable headers */
	IOF_DROP_FRAGMENT = 6,	 /* non-first fragment without a flow */
	IOF_DROP_UNKNOWN_EP = 7, /* hook on an interface/cgroup with no endpoint in this slot */
	IOF_DROP_AUDIT = 8,	 /* audit-would-drop: passed, counted apart from real drops */
	IOF_DROP_MAX = 9,
};

/* Ring buffer record: every deny, and every allow of a new flow (rate-limited). */
struct iof_event {
	__u64 ts_ns;
	__u64 revision;
	__u32 attach_id;
	__u32 rule_id;
	__u16 endpoint_index;
	__u8 family;
	__u8 proto;
	__u8 dir;    /* enum iof_dir */
	__u8 action; /* enum iof_action as enforced (audit: allow) */
	__u8 reason; /* enum iof_drop_reason; IOF_DROP_NONE for allows */
	__u8 flags;  /* IOF_EV_* */
	__be16 remote_port;
	__be16 local_port;
	__u8 remote[16];
	__u8 local[16];
	__u32 len;	/* packet length */
	__u8 icmp_type; /* with IOF_EV_ICMP: the ICMP(v6) type and code of the packet */
	__u8 icmp_code;
	__u16 pad;
};

#define IOF_EV_NEW_FLOW 0x01 /* judged as a new flow (or re-checked after a flip) */
#define IOF_EV_AUDIT 0x02    /* endpoint in audit mode; reason IOF_DROP_AUDIT: would drop */
#define IOF_EV_ICMP 0x04     /* icmp_type and icmp_code are set (ports are 0, or the echo id) */

#define IOF_EVENTS_RING_BYTES (4u << 20)
/* A record in the ring: the kernel's 8-byte header, then the event (8-byte aligned). */
#define IOF_EVENT_RECORD_BYTES (8 + sizeof(struct iof_event))

/* iof_events_lost index */
enum iof_events_lost_cause {
	IOF_EVLOST_RINGBUF = 0,	  /* bpf_ringbuf_reserve failed: the consumer is too slow */
	IOF_EVLOST_RATELIMIT = 1, /* over iof_config.events_per_sec on that CPU */
	IOF_EVLOST_MAX = 2,
};

/* XDP prefilter: deny-list per uplink. prefixlen = 64 + CIDR length. */
struct iof_prefilter4_key {
	__u32 prefixlen;
	__u8 slot;
	__u8 pad[3];
	__u32 ifindex;
	__u8 addr[4];
};

struct iof_prefilter6_key {
	__u32 prefixlen;
	__u8 slot;
	__u8 pad[3];
	__u32 ifindex;
	__u8 addr[16];
};

#define IOF_PREFILTER_PREFIX_BASE 64

/*
 * Host entries (/32, /128) of the deny-lists: exact-match maps, one per slot (the outer arrays
 * iof_prefilter4_host and iof_prefilter6_host), each created at the size its image needs.
 */
struct iof_prefilter4_host_key {
	__u32 ifindex;
	__u8 addr[4];
};

struct iof_prefilter6_host_key {
	__u32 ifindex;
	__u8 addr[16];
};

/*
 * Failsafe (anti-lockout): traffic to these is never dropped by the prefilter. The used
 * entries come first: the prefilter stops at the first unused one.
 */
#define IOF_FAILSAFE_MAX 16

struct iof_failsafe {
	__u8 used;
	__u8 proto;  /* 6 or 17 (see IOF_CFG_FAILSAFE_*) */
	__be16 port; /* destination port */
	__u8 family; /* 4 or 6; with prefix_len 0: any address of that family */
	__u8 prefix_len;
	__u8 pad[2];
	__u8 addr[16]; /* remote (source) prefix */
};

struct iof_config {
	__u64 ct_timeout_tcp_ns;	 /* established TCP idle timeout */
	__u64 ct_timeout_tcp_syn_ns;	 /* half-open */
	__u64 ct_timeout_tcp_closing_ns; /* after FIN/RST */
	__u64 ct_timeout_udp_ns;
	__u64 ct_timeout_other_ns;
	__u32 events_per_sec; /* ring buffer records per second per CPU; 0 = none */
	__u32 flags;	      /* IOF_CFG_* */
};

#define IOF_CFG_EVENT_ALLOWS 0x01 /* also report allowed new flows */
/* Tests and benchmarks: never insert into iof_ct4/6, so every packet takes the new-flow path. */
#define IOF_CFG_BENCH_NO_CT_INSERT 0x02
/*
 * Which families and protocols iof_failsafe has entries for: the XDP prefilter reads a denied
 * packet's ports only when one could match. The loader keeps these bits a superset of the table
 * while it rewrites it.
 */
#define IOF_CFG_FAILSAFE_TCP4 0x10
#define IOF_CFG_FAILSAFE_UDP4 0x20
#define IOF_CFG_FAILSAFE_TCP6 0x40
#define IOF_CFG_FAILSAFE_UDP6 0x80
#define IOF_CFG_FAILSAFE_ALL 0xf0

/* The IOF_CFG_FAILSAFE_* bit of a family and protocol; 0 when no failsafe entry can match. */
static inline __u32 iof_failsafe_bit(__u8 family, __u8 proto)
{
	__u32 shift = family == 6 ? 2 : 0;

	if (proto == 6)
		return IOF_CFG_FAILSAFE_TCP4 << shift;
	if (proto == 17)
		return IOF_CFG_FAILSAFE_UDP4 << shift;
	return 0;
}

_Static_assert(sizeof(struct iof_ct_key) == 44, "iof_ct_key layout");
_Static_assert(sizeof(struct iof_ct4_key) == 20, "iof_ct4_key layout");
_Static_assert(sizeof(struct iof_ct_val) == 32, "iof_ct_val layout");
_Static_assert(sizeof(struct iof_ct_stats) == 48, "iof_ct_stats layout");
_Static_assert(sizeof(struct iof_ifname_key) == 20, "iof_ifname_key layout");
_Static_assert(sizeof(struct iof_event) == 80, "iof_event layout");
/* fixed-size records: the ring position of a record is its sequence number (flows history) */
_Static_assert(sizeof(struct iof_event) % 8 == 0, "iof_event: ring records of one size");
_Static_assert(sizeof(struct iof_count_base_key) == 16, "iof_count_base_key layout");
_Static_assert(sizeof(struct iof_prefilter4_key) == 16, "iof_prefilter4_key layout");
_Static_assert(sizeof(struct iof_prefilter6_key) == 28, "iof_prefilter6_key layout");
IOF_FIELD(iof_prefilter4_key, slot, IOF_KEY_SLOT_OFFSET);
IOF_FIELD(iof_prefilter6_key, slot, IOF_KEY_SLOT_OFFSET);
_Static_assert(sizeof(struct iof_prefilter4_host_key) == 8, "iof_prefilter4_host_key layout");
_Static_assert(sizeof(struct iof_prefilter6_host_key) == 20, "iof_prefilter6_host_key layout");
_Static_assert(sizeof(struct iof_failsafe) == 24, "iof_failsafe layout");

#endif /* IOFENCE_BPF_DATAPATH_MAPS_H */
