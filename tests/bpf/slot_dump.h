/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One slot of the datapath's maps dumped from the kernel (outer maps, every inner trie, the
 * host tables and listed ports; keys with their slot byte cleared), and a reference set of
 * the maps (the object loaded again, its programs not) that images are written into whole.
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
/* A second set of the maps: the object loaded again without its programs. */
struct iofence *slot_reference_open(struct dp_map_fds *fds);
/* Whole-image write of img into the reference set's slot. */
int slot_reference_write(const struct dp_map_fds *fds, const struct policy_image *img,
			 uint8_t slot, char *msg, size_t len);
/* Both sets' slot, map by map (dumps left in got and want). */
bool slots_agree(const struct dp_map_fds *got_fds, const struct dp_map_fds *want_fds,
		 uint8_t slot, struct slot_dump *got, struct slot_dump *want);

#endif /* IOFENCE_TESTS_BPF_SLOT_DUMP_H */
