/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Delta writes of the tables of policy/layout.h (the per-profile tries iof_remote4/6 and
 * iof_policy, the remote host tables, the listed ports).
 *
 * A one-rule change to a large policy changes a handful of map entries, but writing the whole
 * image into the inactive slot costs one LPM insertion per entry (see docs/BENCHMARKS.md). So the
 * datapath remembers the entries of the active slot ("cur") and how the inactive slot differs
 * from them ("back": key -> value or absent), and brings the inactive slot to a new image by
 * writing only the entries whose values differ and deleting the ones that went. After the flip
 * the roles turn: the new image becomes cur and back records how the now-inactive slot (the
 * previous image) differs from it.
 *
 * Memory: cur keeps each entry once (key, value and 8-16 bytes of index, about 50 bytes per
 * policy entry); back holds only the entries the last apply changed.
 */
#ifndef IOFENCE_AGENT_DATAPATH_IMAGE_DELTA_H
#define IOFENCE_AGENT_DATAPATH_IMAGE_DELTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image_write.h"

/*
 * Map entries by identity: records of identity (a layout record's trie number and key, slot 0)
 * and value, with a hash index.
 */
struct dp_entry_set {
	size_t key_size, val_size, rec_size; /* rec_size = key_size + val_size + 1 (present) */
	size_t n, cap;
	char *recs;
	uint64_t *index; /* open addressing, power-of-two size: hash tag | record number + 1 */
	size_t index_size;
};

struct dp_delta {
	struct dp_entry_set cur[LAYOUT_TABLES];	 /* the active slot's entries */
	struct dp_entry_set back[LAYOUT_TABLES]; /* inactive slot = cur overridden by these */
	bool cur_valid;				 /* cur describes the active slot */
	bool back_valid;			 /* cur + back describe the inactive slot */
	uint32_t rules_used[2], eps_used[2];	 /* counter ranges each slot may have touched */
	bool prefilter_used[2];			 /* the slot may hold prefilter entries */
	struct dp_entry_set next[LAYOUT_TABLES]; /* the image last written, until activated */
	const struct policy_image *next_img;
	/*
	 * The identities the last delta write touched (written or deleted), id_size bytes each:
	 * with back's, the only ones where the image written can differ from cur, so the back
	 * of the next activation is found among them, not by comparing the whole images.
	 */
	struct dp_ids {
		char *ids;
		size_t n, cap;
	} touched[LAYOUT_TABLES];
	bool touched_valid; /* they belong to next_img's delta write */
};

void dp_delta_init(struct dp_delta *d);
void dp_delta_free(struct dp_delta *d);

/*
 * Brings the tries of inactive slot `slot` to img by writing only what differs from what the
 * slot holds (requires back_valid). Sets *ret_written to the number of map operations. Returns
 * 0, -E2BIG when the difference is so large that a full write is cheaper (nothing written), or
 * -errno (the slot is then half written: the caller clears it).
 */
int dp_delta_write_tries(struct dp_delta *d, const struct dp_map_fds *fds,
			 const struct policy_image *img, uint8_t slot, size_t *ret_written);

/*
 * Record that img is now active: back becomes how the previous active image (cur, if valid)
 * differs from img, and cur becomes img. When the previous image is unknown (first apply,
 * adopted pins), back is invalid and the next apply writes the whole image.
 * Returns 0 or -ENOMEM (then both are invalid: the next applies write whole images).
 */
int dp_delta_activated(struct dp_delta *d, const struct policy_image *img);

/*
 * dp_delta_verify_slot() - compare slot's tries with what d says it holds (active: cur;
 * inactive: cur overridden by back). Returns 0 when they match, 1 when they differ (what
 * says how), -ENODATA when d does not know the slot, or -errno. stop (NULL: never): a count
 * that moves from stop_at when the slot may change under the reading, which then ends at the
 * next batch with -EAGAIN.
 */
int dp_delta_verify_slot(const struct dp_delta *d, const struct dp_map_fds *fds, uint8_t slot,
			 bool active, const _Atomic uint64_t *stop, uint64_t stop_at, char *what,
			 size_t len);

/*
 * dp_delta_copy_slots() - a copy of what d says the slots hold (cur, back and their validity;
 * nothing of a write in progress), for a verification that reads the maps while an apply may
 * change d. Free it with dp_delta_free(). Returns 0 or -ENOMEM.
 */
int dp_delta_copy_slots(const struct dp_delta *d, struct dp_delta *ret);

#endif /* IOFENCE_AGENT_DATAPATH_IMAGE_DELTA_H */
