/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writing map images into one A/B slot of the policy maps, clearing a slot, and flipping the
 * active slot. The loader (dp_apply) calls these; the BPF tests and benchmarks use them
 * directly on an unattached skeleton. Functions return 0 or -errno.
 */
#ifndef IOFENCE_AGENT_DATAPATH_IMAGE_WRITE_H
#define IOFENCE_AGENT_DATAPATH_IMAGE_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "policy/image.h"

struct bpf_object;

/* File descriptors of the datapath maps, by name (bpf/datapath_maps.h); -1 if absent. */
struct dp_map_fds {
	int state, endpoints, remote4, remote6, policy;
	int remote4_host, remote6_host; /* host cache of the remote tries (datapath_maps.h) */
	int ct4, ct6, rule_counters, ep_counters, drops, events, events_lost;
	int prefilter4, prefilter6, failsafe, config;
	int prefilter4_host, prefilter6_host; /* host entries of the deny-lists (exact match) */
};

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
#define DP_SLOT_TRIES 0x1 /* iof_remote4/6, iof_policy (per-profile tries), the host cache */
#define DP_SLOT_ENDPOINTS 0x2 /* iof_endpoints */
#define DP_SLOT_PREFILTER 0x4 /* the prefilter tries and host hashes */
#define DP_SLOT_OTHER (DP_SLOT_ENDPOINTS | DP_SLOT_PREFILTER)

/*
 * dp_image_write_some() - dp_image_write() of the parts in what only (DP_SLOT_*).
 * dp_slot_clear_some() - dp_slot_clear() of the parts in what, zeroing the counters of the
 * first n_rules rules and n_endpoints endpoints only (those an image in the slot could touch).
 */
int dp_image_write_some(const struct dp_map_fds *fds, const struct policy_image *img,
			uint8_t slot, unsigned what, const uint32_t *attach_ids,
			const uint32_t *prefilter_ifindex, char *err, size_t err_len);
int dp_slot_clear_some(const struct dp_map_fds *fds, uint8_t slot, unsigned what,
		       uint32_t n_rules, uint32_t n_endpoints);

/*
 * Entries of slot in an array of per-profile tries (iof_policy, iof_remote4, iof_remote6), summed
 * over the inner tries: the fill level for metrics.
 */
int dp_slot_entry_count(int outer_fd, uint8_t slot, size_t *ret);

/*
 * dp_slot_activate() - make slot the active one: revision[slot] is written first, then
 * active_slot with one aligned 32-bit store (release) through the mmapped iof_state, so a
 * packet that reads the new slot also reads its revision.
 */
int dp_slot_activate(int state_fd, uint8_t slot, uint64_t revision);

#endif /* IOFENCE_AGENT_DATAPATH_IMAGE_WRITE_H */
