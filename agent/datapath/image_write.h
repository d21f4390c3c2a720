/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writing map images into one A/B slot of the policy maps, clearing a slot, and flipping the
 * active slot. The loader (dp_apply) calls these; the BPF tests and benchmarks use them
 * directly on an unattached skeleton. Functions return 0 or -errno.
 */
#ifndef IOFENCE_AGENT_DATAPATH_IMAGE_WRITE_H
#define IOFENCE_AGENT_DATAPATH_IMAGE_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/datapath_maps.h"
#include "policy/image.h"

struct iofence;

/* File descriptors of the datapath maps (bpf/policy_layout.h, bpf/datapath_maps.h). */
struct dp_map_fds {
	int state, endpoints, remote4, remote6, policy;
	int remote4_host, remote6_host; /* host table of the remote tries */
	int ct4, ct6, rule_counters, ep_counters, drops, events, events_lost;
	int prefilter4, prefilter6, failsafe, config;
	int prefilter4_host, prefilter6_host; /* host entries of the deny-lists (exact match) */
	int any_ports, any_group; /* listed any-remote ports and their groups */
	int cg_ids;
	int ct_stats;   /* conntrack counters (datapath_maps.h) */
	int ep_settle;  /* fail-closed start: provisional flows (datapath_maps.h) */
	int ep_ifnames; /* endpoints by interface name, for a starting agent */
	int rule_owner, ep_owner, count_base; /* counter identities (counter_ledger.h) */
};

/* The fds of a loaded skeleton's maps. */
void dp_map_fds_from_skel(const struct iofence *skel, struct dp_map_fds *fds);

/* The map of table t (policy/layout.h): an outer array of tries or a hash map; -1 if absent. */
int dp_table_fd(const struct dp_map_fds *fds, enum layout_table_id t);

/* The outer index of trie number `trie` of slot (tries per slot: t->tries_per_slot). */
static inline uint32_t dp_trie_index(const struct layout_table *t, uint8_t slot, uint32_t trie)
{
	return (uint32_t)slot * t->tries_per_slot + trie;
}

/* A new, empty inner trie of t's map: its fd, or -errno. */
int dp_trie_create(const struct layout_table *t);

/* Keys of hash map fd whose slot byte (IOF_KEY_SLOT_OFFSET) is slot (-1: all); 0 if fd < 0. */
size_t dp_count_slot_keys(int fd, size_t key_size, int slot);

/* Zeroes elements [first, first + n) of a per-CPU array of struct iof_counter. */
int dp_zero_counters(int fd, uint32_t first, uint32_t n);

/* Updates n entries (keys and values packed) in batches; one by one if batches fail. */
int dp_update_many(int fd, const void *keys, size_t key_size, const void *vals, size_t val_size,
		   size_t n);

/*
 * The prefilter (prefilter_write.c). Host prefixes (/32, /128) live in exact-match maps of their
 * own per slot (iof_prefilter4/6_host[slot]), the others in the tries.
 *
 * dp_prefilter_entry() writes (or with del, deletes) the trie entry of prefix p for an uplink;
 * a host prefix is left to dp_prefilter_hosts_write(). 0 (a missing entry to delete
 * included) or -errno.
 */
int dp_prefilter_entry(const struct dp_map_fds *fds, const struct policy_prefix *p, uint8_t slot,
		       uint32_t ifindex, bool del);

/* The i-th of a list of prefilter entries: its prefix, and its uplink's ifindex (0: absent). */
typedef const struct policy_prefix *(*dp_prefilter_item_fn)(const void *list, size_t i,
							    uint32_t *ifindex);

/*
 * dp_prefilter_hosts_write() - slot's host maps from the host prefixes of the n entries of list
 * whose uplink is present: a map the slot has that holds exactly them is kept (read back in
 * batches), else a new one of the size needed is put in place with one store (a packet sees
 * the old map or the new one; the store waits for an RCU grace period). 0 or -errno.
 */
int dp_prefilter_hosts_write(const struct dp_map_fds *fds, uint8_t slot, const void *list, size_t n,
			     dp_prefilter_item_fn item);
/* Removes slot's host maps: nothing of the slot is denied by host. 0 or -errno. */
int dp_prefilter_hosts_clear(const struct dp_map_fds *fds, uint8_t slot);
/* img's prefilter entries with a non-zero ifindex[i] into slot (its tries must hold none). */
int dp_prefilter_write(const struct dp_map_fds *fds, const struct policy_image *img, uint8_t slot,
		       const uint32_t *ifindex);

/**
 * dp_image_write() - write img into slot of the policy maps: one iof_endpoints entry per
 * image endpoint with a non-zero attach id (attach_ids[i] for img->endpoints[i]), the remote
 * tries and their host cache (full-length entries), the policy trie and the prefilter entries whose
 * prefilter_ifindex is non-zero. The slot must be empty (dp_slot_clear) and must not be the active
 * one. Batched: millions of entries take seconds at most. attach_ids and prefilter_ifindex may be
 * NULL (none).
 *
 * Return: 0, or -errno with the map and the cause in err.
 */
int dp_image_write(const struct dp_map_fds *fds, const struct policy_image *img, uint8_t slot,
		   const uint32_t *attach_ids, const uint32_t *prefilter_ifindex, char *err,
		   size_t err_len);

/*
 * dp_slot_clear() - delete every key of slot from every slotted map (iof_endpoints, the
 * remote, policy and prefilter tries, the remote host cache) and zero the slot's rule and endpoint
 * counters.
 */
int dp_slot_clear(const struct dp_map_fds *fds, uint8_t slot);

/* Parts of a slot, for the partial variants below. */
#define DP_SLOT_TRIES 0x1     /* the tables of policy/layout.h: tries, remote hosts, listed ports */
#define DP_SLOT_ENDPOINTS 0x2 /* iof_endpoints */
#define DP_SLOT_PREFILTER 0x4 /* the prefilter tries and host maps */
/* the prefilter tries alone: the host maps are kept or replaced by dp_prefilter_hosts_write() */
#define DP_SLOT_PREFILTER_TRIES 0x8
#define DP_SLOT_OTHER (DP_SLOT_ENDPOINTS | DP_SLOT_PREFILTER)

/*
 * dp_image_write_some() - dp_image_write() of the parts in what only (DP_SLOT_*).
 * dp_slot_clear_some() - dp_slot_clear() of the parts in what, zeroing the counters of the
 * first n_rules rules and n_endpoints endpoints only (those an image in the slot could touch).
 */
int dp_image_write_some(const struct dp_map_fds *fds, const struct policy_image *img, uint8_t slot,
			unsigned what, const uint32_t *attach_ids,
			const uint32_t *prefilter_ifindex, char *err, size_t err_len);
int dp_slot_clear_some(const struct dp_map_fds *fds, uint8_t slot, unsigned what, uint32_t n_rules,
		       uint32_t n_endpoints);

/*
 * Entries of slot in table t's map (summed over the inner tries of an array of tries): the fill
 * level for metrics.
 */
int dp_slot_entry_count(const struct dp_map_fds *fds, enum layout_table_id t, uint8_t slot,
			size_t *ret);

/*
 * dp_slot_activate() - make slot the active one: revision[slot] is written first, then
 * active_slot with one aligned 32-bit store (release) through the mmapped iof_state, so a
 * packet that reads the new slot also reads its revision.
 */
int dp_slot_activate(int state_fd, uint8_t slot, uint64_t revision);

#endif /* IOFENCE_AGENT_DATAPATH_IMAGE_WRITE_H */
