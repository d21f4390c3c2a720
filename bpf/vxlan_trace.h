/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The vxlan-trace module's maps, shared by bpf/vxlan_trace.bpf.c and the agent. The module is
 * a TC program pair on a node's underlay interfaces that counts VXLAN traffic and never
 * changes or drops a packet (it always returns TC_ACT_UNSPEC).
 *
 * vxt_tunnels  per-CPU LRU hash {outer src, outer dst, VNI, outer family, direction}
 *                       -> vxt_count
 * vxt_inner    per-CPU LRU hash {that tunnel key, inner src, inner dst, inner family, protocol}
 *                       -> vxt_count
 * vxt_stats    per-CPU array of __u64 indexed by enum vxt_stat
 * vxt_ports    array of one struct vxt_ports: the UDP destination ports that mean VXLAN
 *
 * Capacities are the maps' max_entries, set by the loader before load (vxt_tunnels default
 * VXT_TUNNELS_DEFAULT, vxt_inner VXT_INNER_DEFAULT). Each CPU adds to its own value of an
 * entry (no atomic operation on the packet path); a reader sums packets and bytes over CPUs
 * and takes the earliest first_seen and the latest last_seen (bpf_ktime_get_coarse_ns():
 * CLOCK_MONOTONIC to a tick; 0 on a CPU that never saw the entry).
 *
 * Evictions: the program counts every new key it inserts (VXT_STAT_*_INSERTS, counted only
 * when the BPF_NOEXIST update succeeds, so a key raced in by two CPUs counts once). Nothing
 * else ever deletes entries while the module is enabled, so
 *     evictions = inserts - entries now in the map
 * and a reader knows the inner table is incomplete (some pairs were pushed out by the LRU and
 * their counts lost) exactly when this is > 0. The reader takes the insert count before and
 * after walking the map and retries while they differ, so a concurrent insert is not
 * mistaken for an eviction.
 */
#ifndef IOFENCE_BPF_VXLAN_TRACE_H
#define IOFENCE_BPF_VXLAN_TRACE_H

#include <linux/types.h>

#define VXT_TUNNELS_DEFAULT 4096
#define VXT_INNER_DEFAULT 16384
#define VXT_CAPACITY_MAX (1u << 22)
#define VXT_PORTS_MAX 4
#define VXT_DEFAULT_PORT 4789

enum vxt_dir {
	VXT_DIR_INGRESS = 0, /* tc ingress of the underlay interface: arriving at this node */
	VXT_DIR_EGRESS = 1,  /* tc egress: leaving this node */
};

enum vxt_stat {
	VXT_STAT_PACKETS = 0,	     /* VXLAN packets counted */
	VXT_STAT_MALFORMED = 1,	     /* to a VXLAN port, cut short: UDP, VXLAN or inner headers */
	VXT_STAT_NON_VXLAN = 2,	     /* to a VXLAN port without a valid VXLAN header (I flag) */
	VXT_STAT_TUNNEL_INSERTS = 3, /* new keys inserted into vxt_tunnels */
	VXT_STAT_INNER_INSERTS = 4,  /* new keys inserted into vxt_inner */
	VXT_STAT_UPDATE_ERRORS = 5,  /* a new key could not be inserted (should stay 0) */
	VXT_STAT_MAX = 8,
};

/* An address of either family: IPv4 in the first 4 bytes, the rest zero. */
struct vxt_tunnel_key {
	__u8 src[16]; /* outer source */
	__u8 dst[16]; /* outer destination */
	__u32 vni;    /* host order, 24 bits */
	__u8 family;  /* outer: 4 or 6 */
	__u8 dir;     /* enum vxt_dir */
	__u16 pad;    /* zero */
};

struct vxt_inner_key {
	struct vxt_tunnel_key outer;
	__u8 src[16];  /* inner source (zero for a non-IP inner frame) */
	__u8 dst[16];  /* inner destination */
	__u8 family;   /* inner: 4, 6, or 0 = not IP (ARP and others) */
	__u8 proto;    /* inner IP protocol (after IPv6 extension headers); 0 if not IP */
	__u16 pad[3];  /* zero */
};

struct vxt_count {
	__u64 packets;
	__u64 bytes; /* skb->len on the underlay: the whole frame, outer headers included */
	__u64 first_seen;
	__u64 last_seen;
};

struct vxt_ports {
	__u16 port[VXT_PORTS_MAX]; /* host order; 0 = unused slot */
};

_Static_assert(sizeof(struct vxt_tunnel_key) == 40, "vxt_tunnel_key layout");
_Static_assert(sizeof(struct vxt_inner_key) == 80, "vxt_inner_key layout");
_Static_assert(__builtin_offsetof(struct vxt_inner_key, src) == 40, "vxt_inner_key layout");
_Static_assert(__builtin_offsetof(struct vxt_inner_key, family) == 72, "vxt_inner_key layout");
_Static_assert(sizeof(struct vxt_count) == 32, "vxt_count layout");
_Static_assert(sizeof(struct vxt_ports) == 2 * VXT_PORTS_MAX, "vxt_ports layout");

#endif /* IOFENCE_BPF_VXLAN_TRACE_H */
