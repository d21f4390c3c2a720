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
#include <string.h>

#include "bpf/datapath_maps.h"
#include "policy/image.h"

struct bpf_object;

/* File descriptors of the datapath maps, by name (bpf/datapath_maps.h); -1 if absent. */
struct dp_map_fds {
	int state, endpoints, remote4, remote6, policy;
	int remote4_host, remote6_host; /* host table of the remote tries (datapath_maps.h) */
	int ct4, ct6, rule_counters, ep_counters, drops, events, events_lost;
	int prefilter4, prefilter6, failsafe, config;
	int prefilter4_host, prefilter6_host; /* host entries of the deny-lists (exact match) */
	int any_ports, any_group; /* listed any-remote ports and their groups (policy_maps.h) */
	int ct_stats;		  /* conntrack counters (datapath_maps.h) */
	int ep_settle;		  /* fail-closed start: provisional flows (datapath_maps.h) */
	int ep_ifnames;		  /* endpoints by interface name, for a starting agent */
};

/* Every slotted key: __u32 prefixlen or attach_id, then the __u8 slot; a trie key then has 3
 * pad bytes and its __u32 profile. */
#define DP_KEY_SLOT_OFFSET 4
#define DP_KEY_PROFILE_OFFSET 8

/* The profile of a trie key. */
static inline uint32_t dp_key_profile(const void *key)
{
	uint32_t profile;

	memcpy(&profile, (const char *)key + DP_KEY_PROFILE_OFFSET, sizeof(profile));
	return profile;
}

/* The per-profile tries (bpf/datapath_maps.h). */
enum dp_trie_kind {
	DP_TRIE_REMOTE4,
	DP_TRIE_REMOTE6,
	DP_TRIE_POLICY,
	DP_TRIE_ANY_PORTS, /* no tries: every entry is full length, in the table iof_any_ports */
	DP_TRIE_KINDS
};

/* One kind of per-profile trie, and an image's entries of it ({key, val} structs). */
struct dp_trie_entries {
	const char *map;	 /* outer map name, for errors */
	int outer_fd;		 /* the array of tries; -1 for a kind without tries */
	int host_fd;		 /* the exact-match table of the full-length keys, else -1 */
	uint32_t full_prefixlen; /* keys of this length live in that table only; 0: none */
	uint32_t parts;		 /* tries per {slot, profile}: IOF_POLICY_PARTS for iof_policy */
	size_t inner_key_size;	 /* iof_*_trie_key: the inner tries' keys (datapath_maps.h) */
	const char *inner_name;
	uint32_t inner_max;
	const char *base;
	size_t n, entry_size, key_size, val_off, val_size;
};

/* img's entries of kind; fds may be NULL (fds -1) when no map is touched. */
struct dp_trie_entries dp_trie_entries_of(const struct policy_image *img,
					  const struct dp_map_fds *fds, enum dp_trie_kind kind);

/* Keys of hash map fd whose slot byte (DP_KEY_SLOT_OFFSET) is slot (-1: all); 0 if fd < 0. */
size_t dp_count_slot_keys(int fd, size_t key_size, int slot);

/* Inner tries per slot of e's kind: its outer map holds IOF_SLOTS times as many. */
static inline uint32_t dp_tries_per_slot(const struct dp_trie_entries *e)
{
	return IOF_MAX_PROFILES * e->parts;
}

/*
 * The inner trie that holds `key` of e's kind, numbered within its slot (profile * parts +
 * part: the slot's outer index minus slot * dp_tries_per_slot()), or DP_TRIE_NONE for a
 * full-length key (a remote host, a listed port), which only the kind's exact-match table holds.
 */
#define DP_TRIE_NONE UINT32_MAX
uint32_t dp_entry_trie(const struct dp_trie_entries *e, const void *key);

/* The inner-trie key (iof_*_trie_key) of image key `key` of e's kind into out: its size. */
size_t dp_inner_key(const struct dp_trie_entries *e, const void *key, void *out);

static inline uint32_t dp_trie_index(const struct dp_trie_entries *e, uint8_t slot, uint32_t t)
{
	return (uint32_t)slot * dp_tries_per_slot(e) + t;
}

/* A new, empty inner trie of e's kind: its fd, or -errno. */
int dp_trie_create(const struct dp_trie_entries *e);
/*
 * The exact-match key (iof_remote4/6_host_key, iof_any_port_hkey; slot set) of image key `key`
 * into hk (32 bytes): its size, or 0 when the key is not of full length or e has no table.
 */
size_t dp_host_key(const struct dp_trie_entries *e, const void *key, uint8_t slot, void *hk);

/* Bytes of an exact-match key of e's kind: {__u32 profile, __u8 slot, 3 pad, what follows}. */
static inline size_t dp_host_key_size(const struct dp_trie_entries *e)
{
	return 8 + e->key_size - DP_KEY_PROFILE_OFFSET - 4;
}

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
 * whose uplink is present: new maps of the size needed, each put in place with one store (a
 * packet sees the old map or the new one). 0 or -errno.
 */
int dp_prefilter_hosts_write(const struct dp_map_fds *fds, uint8_t slot, const void *list, size_t n,
			     dp_prefilter_item_fn item);
/* Removes slot's host maps: nothing of the slot is denied by host. 0 or -errno. */
int dp_prefilter_hosts_clear(const struct dp_map_fds *fds, uint8_t slot);
/* img's prefilter entries with a non-zero ifindex[i] into slot (its tries must hold none). */
int dp_prefilter_write(const struct dp_map_fds *fds, const struct policy_image *img, uint8_t slot,
		       const uint32_t *ifindex);

/* Fills fds from a loaded object's maps (missing maps: -1). Return 0 or -ENOENT. */
int dp_map_fds_from_object(struct bpf_object *obj, struct dp_map_fds *fds);

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
#define DP_SLOT_TRIES 0x1     /* the per-profile tries, the remote hosts, the listed ports */
#define DP_SLOT_ENDPOINTS 0x2 /* iof_endpoints */
#define DP_SLOT_PREFILTER 0x4 /* the prefilter tries and host maps */
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
 * Entries of slot in e's array of per-profile tries (e->outer_fd), summed over the inner tries,
 * and in its host table: the fill level for metrics.
 */
int dp_slot_entry_count(const struct dp_trie_entries *e, uint8_t slot, size_t *ret);

/*
 * dp_slot_activate() - make slot the active one: revision[slot] is written first, then
 * active_slot with one aligned 32-bit store (release) through the mmapped iof_state, so a
 * packet that reads the new slot also reads its revision.
 */
int dp_slot_activate(int state_fd, uint8_t slot, uint64_t revision);

#endif /* IOFENCE_AGENT_DATAPATH_IMAGE_WRITE_H */
