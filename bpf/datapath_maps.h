/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Datapath maps other than the policy image (those are in policy_maps.h): conntrack,
 * counters, verdict events, the XDP prefilter, the failsafe set and node configuration.
 * Shared by the BPF programs in bpf/ and user space (agent/datapath); uapi types only.
 *
 * Map names (pinned under <pin-dir>/maps/<name>, adopted by name on restart):
 *   iof_state         ARRAY[1] of iof_state, BPF_F_MMAPABLE      (policy_maps.h)
 *   iof_endpoints     HASH iof_endpoint_key -> iof_endpoint_val   (policy_maps.h)
 *   iof_remote4/6     LPM_TRIE                                    (policy_maps.h)
 *   iof_policy        LPM_TRIE                                    (policy_maps.h)
 *   iof_ct            LRU_HASH iof_ct_key -> iof_ct_val
 *   iof_rule_counters PERCPU_ARRAY[IOF_SLOTS * IOF_MAX_RULES] of iof_counter
 *   iof_ep_counters   PERCPU_ARRAY[IOF_SLOTS * IOF_MAX_ENDPOINTS * IOF_EP_COUNTER_KINDS]
 *   iof_drops         PERCPU_ARRAY[IOF_DROP_MAX] of iof_counter (by enum iof_drop_reason)
 *   iof_events        RINGBUF of iof_event
 *   iof_prefilter4/6  LPM_TRIE iof_prefilter4/6_key -> __u8 (1 = deny)
 *   iof_failsafe      ARRAY[IOF_FAILSAFE_MAX] of iof_failsafe
 *   iof_config        ARRAY[1] of iof_config
 */
#ifndef IOFENCE_BPF_DATAPATH_MAPS_H
#define IOFENCE_BPF_DATAPATH_MAPS_H

#include <linux/types.h>

#include "policy_maps.h"

#define IOF_CT_MAX 262144

/* Conntrack, from the endpoint's point of view: one entry per endpoint hook and flow. */
struct iof_ct_key {
	__u32 attach_id;   /* iof_endpoint_key.attach_id of the hook that admitted it */
	__u8 family;       /* 4 or 6 */
	__u8 proto;
	__be16 remote_port; /* ICMP echo: the identifier; 0 for other portless protocols */
	__be16 local_port;
	__u16 pad;
	__u8 remote[16];   /* IPv4 in the first 4 bytes */
	__u8 local[16];
};

enum iof_ct_state {
	IOF_CT_NEW = 0,         /* first packet seen (TCP: SYN) */
	IOF_CT_ESTABLISHED = 1, /* reply seen */
	IOF_CT_CLOSING = 2,     /* FIN seen */
	IOF_CT_CLOSED = 3,      /* RST or both FINs: short timeout */
};

struct iof_ct_val {
	__u64 last_seen_ns;  /* bpf_ktime_get_ns() */
	__u64 revision;      /* revision that admitted (or last re-checked) the flow */
	__u32 rule_id;       /* rule that admitted it; IOF_RULE_NONE: default */
	__u16 endpoint_index;
	__u8 dir;            /* enum iof_dir of the first packet: who opened the flow */
	__u8 state;          /* enum iof_ct_state */
	__u8 fin_seen;       /* bit 0: from the endpoint, bit 1: from the remote */
	__u8 audit;          /* admitted only because the endpoint is in audit mode */
	__u8 pad[6];
};

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

enum iof_drop_reason {
	IOF_DROP_NONE = 0,
	IOF_DROP_POLICY = 1,       /* a deny rule */
	IOF_DROP_DEFAULT = 2,      /* the endpoint default */
	IOF_DROP_PREFILTER = 3,    /* XDP deny-list */
	IOF_DROP_REVOKED = 4,      /* established flow no longer allowed by the new revision */
	IOF_DROP_MALFORMED = 5,    /* truncated or unparsable headers */
	IOF_DROP_FRAGMENT = 6,     /* non-first fragment without a flow */
	IOF_DROP_UNKNOWN_EP = 7,   /* hook on an interface/cgroup with no endpoint in this slot */
	IOF_DROP_AUDIT = 8,        /* audit-would-drop (passed, counted) */
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
	__u8 dir;      /* enum iof_dir */
	__u8 action;   /* enum iof_action as enforced (audit: allow) */
	__u8 reason;   /* enum iof_drop_reason; IOF_DROP_NONE for allows */
	__u8 flags;    /* IOF_EV_* */
	__be16 remote_port;
	__be16 local_port;
	__u8 remote[16];
	__u8 local[16];
	__u32 len;     /* packet length */
	__u32 pad;
};

#define IOF_EV_NEW_FLOW 0x01
#define IOF_EV_AUDIT 0x02

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

/* Failsafe (anti-lockout): traffic to these is never dropped by the prefilter. */
#define IOF_FAILSAFE_MAX 16

struct iof_failsafe {
	__u8 used;
	__u8 proto;     /* 6 or 17 */
	__be16 port;    /* destination port */
	__u8 family;    /* 4 or 6; with prefix_len 0: any address of that family */
	__u8 prefix_len;
	__u8 pad[2];
	__u8 addr[16];  /* remote (source) prefix */
};

struct iof_config {
	__u64 ct_timeout_tcp_ns;         /* established TCP idle timeout */
	__u64 ct_timeout_tcp_syn_ns;     /* half-open */
	__u64 ct_timeout_tcp_closing_ns; /* after FIN/RST */
	__u64 ct_timeout_udp_ns;
	__u64 ct_timeout_other_ns;
	__u32 events_per_sec;            /* ring buffer records per second per CPU; 0 = none */
	__u32 flags;                     /* IOF_CFG_* */
};

#define IOF_CFG_EVENT_ALLOWS 0x01 /* also report allowed new flows */

_Static_assert(sizeof(struct iof_ct_key) == 44, "iof_ct_key layout");
_Static_assert(sizeof(struct iof_ct_val) == 32, "iof_ct_val layout");
_Static_assert(sizeof(struct iof_event) == 80, "iof_event layout");
_Static_assert(sizeof(struct iof_prefilter4_key) == 16, "iof_prefilter4_key layout");
_Static_assert(sizeof(struct iof_prefilter6_key) == 28, "iof_prefilter6_key layout");
_Static_assert(sizeof(struct iof_failsafe) == 24, "iof_failsafe layout");

#endif /* IOFENCE_BPF_DATAPATH_MAPS_H */
