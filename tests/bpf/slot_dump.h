/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One slot of the datapath's maps dumped from the kernel (outer maps, every inner trie, the
 * host tables and listed ports; keys with their slot byte cleared), and the check of a slot
 * against a reference set of the maps that images are written into whole.
 */
#ifndef IOFENCE_TESTS_BPF_SLOT_DUMP_H
#define IOFENCE_TESTS_BPF_SLOT_DUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/datapath/image_write.h"
#include "bpf/datapath_maps.h"
#include "policy/image.h"
#include "iofence.skel.h"

#define KEY_MAX 64
#define VAL_MAX 16

/*
 * Sorted "map | key | value" records of one slot of one map set. Trie entries are keyed by
 * their trie's index within the slot and their key ({u32 trie, key}), hash entries by their key
 * with the slot byte 0.
 */
struct slot_dump {
	char (*rec)[1 + KEY_MAX + VAL_MAX];
	size_t n, cap;
};

/* Slot's entries of every policy map of fds into d (sorted). */
void slot_dump_read(const struct dp_map_fds *fds, uint8_t slot, struct slot_dump *d);
bool slot_dump_equal(const struct slot_dump *a, const struct slot_dump *b);
void slot_dump_free(struct slot_dump *d);

/*
 * What the delta tests check a slot against: a second set of the maps (the object loaded
 * again, its programs not) that images are written into whole, and the two dumps compared.
 */
struct slot_check {
	struct iofence *ref;
	struct dp_map_fds ref_fds;
	struct slot_dump got, want; /* the last comparison's: the slot checked, the reference */
};

/* Loads the reference set; aborts when it cannot (the harness has loaded the same object). */
void slot_check_open(struct slot_check *c);
/* Frees the set and the dumps; accepts a zeroed check. */
void slot_check_close(struct slot_check *c);
/* Writes img whole into the reference set's slot: 0, or -errno with msg. */
int slot_check_write(struct slot_check *c, const struct policy_image *img, uint8_t slot,
		     char *msg, size_t len);
/* Whether slot of fds holds what the reference's slot holds, map by map. */
bool slot_check_agree(struct slot_check *c, const struct dp_map_fds *fds, uint8_t slot);

#endif /* IOFENCE_TESTS_BPF_SLOT_DUMP_H */
