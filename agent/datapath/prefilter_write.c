// SPDX-License-Identifier: Apache-2.0
/*
 * The prefilter's deny-lists in the maps (image_write.h). Prefixes shorter than a host go into
 * the tries under {slot, uplink}. Host prefixes, most of a long deny-list, go into one
 * exact-match map per slot and family, made anew at the size it needs whenever the slot's
 * list changes: the XDP program looks one up per packet, and a hash map sized for the largest
 * list would spread every lookup over megabytes of buckets. They are preallocated: at their
 * exact size that costs nothing, and the entries sit together.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "bpf/datapath_maps.h"
#include "image_write.h"
#include "policy/prefix.h"

int dp_prefilter_entry(const struct dp_map_fds *fds, const struct policy_prefix *p, uint8_t slot,
		       uint32_t ifindex, bool del)
{
	/* iof_prefilter4_key and iof_prefilter6_key differ only in the address's length */
	struct iof_prefilter6_key k = {
	    .prefixlen = IOF_PREFILTER_PREFIX_BASE + p->len, .slot = slot, .ifindex = ifindex};
	int fd = p->family == 4 ? fds->prefilter4 : fds->prefilter6;
	const uint8_t deny = 1;
	int r;

	_Static_assert(offsetof(struct iof_prefilter4_key, addr) ==
			   offsetof(struct iof_prefilter6_key, addr),
		       "prefilter keys share their head");
	if (prefix_is_host(p))
		return 0;
	memcpy(k.addr, p->addr, p->family == 4 ? 4 : 16);
	r = del ? bpf_map_delete_elem(fd, &k) : bpf_map_update_elem(fd, &k, &deny, BPF_ANY);
	return r && !(del && errno == ENOENT) ? -errno : 0;
}

/* Host keys in memcmp order (the two families' keys differ in size). */
static int cmp_host4(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct iof_prefilter4_host_key));
}

static int cmp_host6(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct iof_prefilter6_host_key));
}

typedef int (*cmp_fn)(const void *, const void *);

static cmp_fn host_cmp(size_t key_size)
{
	return key_size == sizeof(struct iof_prefilter4_host_key) ? cmp_host4 : cmp_host6;
}

/*
 * Whether map fd holds exactly the n keys (sorted, distinct) and nothing else: made at size n
 * (a preallocated hash map of n entries holds n keys at most) and every key it holds one of
 * them, read in batches. Reading costs less than a replacement's grace period.
 */
static bool hosts_hold(int fd, const void *sorted, size_t key_size, size_t n)
{
	struct bpf_map_info info = {0};
	__u32 info_len = sizeof(info), in = 0, out = 0;
	/* room for the whole map in one batch: a batch never splits a hash bucket */
	char *keys = calloc(n, key_size);
	uint8_t *vals = calloc(n, 1);
	size_t found = 0;
	bool started = false, same = keys && vals;

	if (bpf_obj_get_info_by_fd(fd, &info, &info_len) || info.max_entries != n ||
	    info.key_size != key_size)
		same = false;
	while (same) {
		__u32 count = (__u32)n;
		int e = bpf_map_lookup_batch(fd, started ? &in : NULL, &out, keys, vals, &count, NULL)
			    ? -errno
			    : 0;

		for (__u32 i = 0; i < count && same; i++) {
			const char *key = keys + i * key_size;

			same = vals[i] == 1 &&
			       bsearch(key, sorted, n, key_size, host_cmp(key_size)) != NULL;
		}
		found += count;
		if (e == -ENOENT) /* the map's end */
			break;
		same = same && !e;
		in = out;
		started = true;
	}
	free(keys);
	free(vals);
	return same && found == n;
}

/*
 * Puts n host keys (sorted in place) in a map at outer[slot]; none: the slot's entry is
 * removed. A map already there that holds exactly them is kept: every update or delete of an
 * array of maps waits for an RCU grace period, and a prefilter's list seldom changes between
 * two applies.
 */
static int install_hosts(int outer_fd, uint8_t slot, const char *name, void *keys,
			 size_t key_size, size_t n)
{
	uint32_t idx = slot, id = 0;
	uint8_t *vals;
	int fd, err;

	if (outer_fd < 0)
		return 0;
	if (!n)
		return bpf_map_delete_elem(outer_fd, &idx) && errno != ENOENT ? -errno : 0;
	qsort(keys, n, key_size, host_cmp(key_size));
	if (!bpf_map_lookup_elem(outer_fd, &idx, &id) && (fd = bpf_map_get_fd_by_id(id)) >= 0) {
		bool same = hosts_hold(fd, keys, key_size, n);

		close(fd);
		if (same)
			return 0;
	}
	vals = malloc(n);
	if (!vals)
		return -ENOMEM;
	memset(vals, 1, n);
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, name, (uint32_t)key_size, 1, (uint32_t)n, NULL);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	err = dp_update_many(fd, keys, key_size, vals, 1, n);
	if (!err && bpf_map_update_elem(outer_fd, &idx, &fd, BPF_ANY))
		err = -errno;
	close(fd); /* the outer map holds it now */
out:
	free(vals);
	return err;
}

int dp_prefilter_hosts_write(const struct dp_map_fds *fds, uint8_t slot, const void *list, size_t n,
			     dp_prefilter_item_fn item)
{
	struct iof_prefilter4_host_key *k4 = calloc(n + 1, sizeof(*k4));
	struct iof_prefilter6_host_key *k6 = calloc(n + 1, sizeof(*k6));
	size_t n4 = 0, n6 = 0;
	int err = -ENOMEM;

	if (!k4 || !k6)
		goto out;
	for (size_t i = 0; i < n; i++) {
		uint32_t ifindex = 0;
		const struct policy_prefix *p = item(list, i, &ifindex);

		if (!ifindex || !prefix_is_host(p))
			continue;
		if (p->family == 4) {
			k4[n4].ifindex = ifindex;
			memcpy(k4[n4++].addr, p->addr, 4);
		} else {
			k6[n6].ifindex = ifindex;
			memcpy(k6[n6++].addr, p->addr, 16);
		}
	}
	err = install_hosts(fds->prefilter4_host, slot, "iof_pf4_hosts", k4, sizeof(*k4), n4);
	if (!err)
		err =
		    install_hosts(fds->prefilter6_host, slot, "iof_pf6_hosts", k6, sizeof(*k6), n6);
out:
	free(k4);
	free(k6);
	return err;
}

int dp_prefilter_hosts_clear(const struct dp_map_fds *fds, uint8_t slot)
{
	int err = install_hosts(fds->prefilter4_host, slot, NULL, NULL, 0, 0);

	return err ? err : install_hosts(fds->prefilter6_host, slot, NULL, NULL, 0, 0);
}

/* An image's prefilter entries with the ifindex of their uplinks (dp_prefilter_write). */
struct image_uplinks {
	const struct policy_image *img;
	const uint32_t *ifindex;
};

static const struct policy_prefix *image_item(const void *list, size_t i, uint32_t *ifindex)
{
	const struct image_uplinks *u = list;

	*ifindex = u->ifindex[i];
	return &u->img->prefilter[i].prefix;
}

int dp_prefilter_write(const struct dp_map_fds *fds, const struct policy_image *img, uint8_t slot,
		       const uint32_t *ifindex)
{
	struct image_uplinks list = {.img = img, .ifindex = ifindex};

	if (!ifindex)
		return dp_prefilter_hosts_clear(fds, slot);
	for (size_t i = 0; i < img->n_prefilter; i++) {
		int r = ifindex[i] ? dp_prefilter_entry(fds, &img->prefilter[i].prefix, slot,
							ifindex[i], false)
				   : 0;

		if (r)
			return r;
	}
	return dp_prefilter_hosts_write(fds, slot, &list, img->n_prefilter, image_item);
}
