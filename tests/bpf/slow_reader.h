/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What slow_reader.bpf.c reports of its run (its slow_result map), for bpf_slot_retire.
 * Included by both sides: uapi types only.
 */
#ifndef IOFENCE_TESTS_BPF_SLOW_READER_H
#define IOFENCE_TESTS_BPF_SLOW_READER_H

#include <linux/types.h>

struct slow_read {
	__u32 started; /* set before the wait, so the test flips meanwhile */
	__u32 slot;    /* the slot the run picked, as a packet does */
	__u32 flipped; /* the run saw that slot flipped away from */
	__u32 pad;
	__u64 rev_start, rev_end; /* the slot's revision at the run's start and end */
	__u64 after;		  /* loop iterations the run went on after the flip */
};

_Static_assert(sizeof(struct slow_read) == 40, "struct slow_read: 40 bytes on both sides");

#endif
