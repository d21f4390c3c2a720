// SPDX-License-Identifier: Apache-2.0
/*
 * Dumps of one slot of the datapath's maps, straight from the kernel, and a second set of the
 * maps written whole as the reference: how the delta tests compare two ways of writing an
 * image (slot_dump.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "slot_dump.h"

static void dump_add(struct slot_dump *d, char map, const void *key, size_t ksz, const void *val,
		     size_t vsz)
{
	if (ksz > KEY_MAX || vsz > VAL_MAX)
		abort();
	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 1024;
		d->rec = realloc(d->rec, d->cap * sizeof(*d->rec));
		if (!d->rec)
			abort();
	}
	memset(d->rec[d->n], 0, sizeof(d->rec[d->n]));
	d->rec[d->n][0] = map;
	memcpy(d->rec[d->n] + 1, key, ksz);
	memcpy(d->rec[d->n] + 1 + KEY_MAX, val, vsz);
	d->n++;
}

static int rec_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(((struct slot_dump *)0)->rec[0]));
}

static struct bpf_map_info map_info(int fd)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		abort();
	return info;
}

/*
 * The inner map ids of slot's part of an array of tries, by index within the slot (0: none),
 * read in batches: the kernel skips empty indexes, where a lookup of each index of a slot
 * (8,192 for iof_policy) cost a system call each and made most of the test's time.
 */
static __u32 *slot_tries(int outer_fd, uint8_t slot, __u32 *ret_per_slot)
{
	__u32 max = map_info(outer_fd).max_entries, per_slot = max / IOF_SLOTS;
	__u32 *keys = calloc(max, sizeof(*keys)), *ids = calloc(max, sizeof(*ids));
	__u32 *ret = calloc(per_slot, sizeof(*ret)), in = 0, out = 0;
	bool started = false;

	if (!keys || !ids || !ret)
		abort();
	for (;;) {
		__u32 count = max;
		int e = bpf_map_lookup_batch(outer_fd, started ? &in : NULL, &out, keys, ids, &count,
					     NULL)
			    ? errno
			    : 0;

		for (__u32 i = 0; i < count; i++)
			if (keys[i] / per_slot == slot)
				ret[keys[i] % per_slot] = ids[i];
		if (e == ENOENT) /* the map's end */
			break;
		if (e)
			abort();
		in = out;
		started = true;
	}
	free(keys);
	free(ids);
	*ret_per_slot = per_slot;
	return ret;
}

/* Every entry of slot's inner tries of an array of tries (max_entries / IOF_SLOTS per slot). */
static void dump_outer(struct slot_dump *d, char map, int outer_fd, uint8_t slot)
{
	__u32 per_slot, *tries = slot_tries(outer_fd, slot, &per_slot);

	for (__u32 t = 0; t < per_slot; t++) {
		char key[KEY_MAX], ik[KEY_MAX], iprev[KEY_MAX], val[VAL_MAX];
		struct bpf_map_info info;
		void *q = NULL;
		int fd;

		if (!tries[t])
			continue;
		fd = bpf_map_get_fd_by_id(tries[t]);
		if (fd < 0)
			abort();
		info = map_info(fd);
		for (; !bpf_map_get_next_key(fd, q, ik); q = iprev) {
			memcpy(iprev, ik, info.key_size);
			if (bpf_map_lookup_elem(fd, ik, val))
				continue;
			memcpy(key, &t, sizeof(t));
			memcpy(key + sizeof(t), ik, info.key_size);
			dump_add(d, map, key, sizeof(t) + info.key_size, val, info.value_size);
		}
		close(fd);
	}
	free(tries);
}

/* Entries of slot in a slotted hash map. */
static void dump_hash(struct slot_dump *d, char map, int fd, uint8_t slot)
{
	struct bpf_map_info info = map_info(fd);
	char k[KEY_MAX], prev[KEY_MAX], val[VAL_MAX];
	void *p = NULL;

	for (; !bpf_map_get_next_key(fd, p, k); p = prev) {
		memcpy(prev, k, info.key_size);
		if ((uint8_t)k[IOF_KEY_SLOT_OFFSET] != slot || bpf_map_lookup_elem(fd, k, val))
			continue;
		k[IOF_KEY_SLOT_OFFSET] = 0;
		dump_add(d, map, k, info.key_size, val, info.value_size);
	}
}

void slot_dump_read(const struct dp_map_fds *fds, uint8_t slot, struct slot_dump *d)
{
	d->n = 0;
	dump_outer(d, 'r', fds->remote4, slot);
	dump_outer(d, 's', fds->remote6, slot);
	dump_outer(d, 'p', fds->policy, slot);
	dump_hash(d, 'h', fds->remote4_host, slot);
	dump_hash(d, 'i', fds->remote6_host, slot);
	dump_hash(d, 'a', fds->any_ports, slot);
	qsort(d->rec, d->n, sizeof(*d->rec), rec_cmp);
}

bool slot_dump_equal(const struct slot_dump *a, const struct slot_dump *b)
{
	return a->n == b->n && !memcmp(a->rec, b->rec, a->n * sizeof(*a->rec));
}

/* A second set of the maps: the object loaded again without its programs. */
struct iofence *slot_reference_open(struct dp_map_fds *fds)
{
	struct iofence *skel = iofence__open();
	struct bpf_program *prog;

	if (!skel)
		abort();
	bpf_object__for_each_program(prog, skel->obj) bpf_program__set_autoload(prog, false);
	if (iofence__load(skel))
		abort();
	dp_map_fds_from_skel(skel, fds);
	return skel;
}

/* Whole-image write of img into the reference set's slot. */
int slot_reference_write(const struct dp_map_fds *fds, const struct policy_image *img,
			   uint8_t slot, char *msg, size_t len)
{
	int err = dp_slot_clear_some(fds, slot, DP_SLOT_TRIES, 0, 0);

	return err ? err : dp_image_write_some(fds, img, slot, DP_SLOT_TRIES, NULL, NULL, msg, len);
}

/* Both sets' slot, map by map. */
bool slots_agree(const struct dp_map_fds *got_fds, const struct dp_map_fds *want_fds,
			uint8_t slot, struct slot_dump *got, struct slot_dump *want)
{
	slot_dump_read(got_fds, slot, got);
	slot_dump_read(want_fds, slot, want);
	return slot_dump_equal(got, want);
}

void slot_dump_free(struct slot_dump *d)
{
	free(d->rec);
	memset(d, 0, sizeof(*d));
}
