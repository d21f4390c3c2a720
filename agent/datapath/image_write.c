// SPDX-License-Identifier: Apache-2.0
/*
 * Map image writer (image_write.h): batched updates of one A/B slot, slot clearing, and the
 * atomic flip of iof_state.active_slot through the mmapped array.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/datapath_maps.h"
#include "image_write.h"
#include "iofence.skel.h"

#define BATCH 65536
#ifndef ENOTSUPP
#define ENOTSUPP 524 /* kernel-internal "operation not supported" */
#endif

static void set_err(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

void dp_map_fds_from_skel(const struct iofence *skel, struct dp_map_fds *fds)
{
	const typeof(skel->maps) *m = &skel->maps;

	*fds = (struct dp_map_fds){
	    .state = bpf_map__fd(m->iof_state),
	    .endpoints = bpf_map__fd(m->iof_endpoints),
	    .remote4 = bpf_map__fd(m->iof_remote4),
	    .remote6 = bpf_map__fd(m->iof_remote6),
	    .policy = bpf_map__fd(m->iof_policy),
	    .remote4_host = bpf_map__fd(m->iof_remote4_host),
	    .remote6_host = bpf_map__fd(m->iof_remote6_host),
	    .ct4 = bpf_map__fd(m->iof_ct4),
	    .ct6 = bpf_map__fd(m->iof_ct6),
	    .rule_counters = bpf_map__fd(m->iof_rule_counters),
	    .ep_counters = bpf_map__fd(m->iof_ep_counters),
	    .drops = bpf_map__fd(m->iof_drops),
	    .events = bpf_map__fd(m->iof_events),
	    .events_lost = bpf_map__fd(m->iof_events_lost),
	    .prefilter4 = bpf_map__fd(m->iof_prefilter4),
	    .prefilter6 = bpf_map__fd(m->iof_prefilter6),
	    .failsafe = bpf_map__fd(m->iof_failsafe),
	    .config = bpf_map__fd(m->iof_config),
	    .prefilter4_host = bpf_map__fd(m->iof_prefilter4_host),
	    .prefilter6_host = bpf_map__fd(m->iof_prefilter6_host),
	    .any_ports = bpf_map__fd(m->iof_any_ports),
	    .any_group = bpf_map__fd(m->iof_any_group),
	    .cg_ids = bpf_map__fd(m->iof_cg_ids),
	    .ct_stats = bpf_map__fd(m->iof_ct_stats),
	    .ep_settle = bpf_map__fd(m->iof_ep_settle),
	    .ep_ifnames = bpf_map__fd(m->iof_ep_ifnames),
	    .rule_owner = bpf_map__fd(m->iof_rule_owner),
	    .ep_owner = bpf_map__fd(m->iof_ep_owner),
	    .count_base = bpf_map__fd(m->iof_count_base),
	};
}

int dp_table_fd(const struct dp_map_fds *fds, enum layout_table_id t)
{
	const int fd[LAYOUT_TABLES] = {
	    [LAYOUT_REMOTE4] = fds->remote4,	[LAYOUT_REMOTE6] = fds->remote6,
	    [LAYOUT_POLICY] = fds->policy,	[LAYOUT_HOST4] = fds->remote4_host,
	    [LAYOUT_HOST6] = fds->remote6_host, [LAYOUT_ANY_PORTS] = fds->any_ports,
	};

	return (unsigned)t < LAYOUT_TABLES ? fd[t] : -1;
}

int dp_update_many(int fd, const void *keys, size_t key_size, const void *vals, size_t val_size,
		   size_t n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = BPF_ANY);
	const char *k = keys, *v = vals;
	size_t done = 0;

	while (done < n) {
		__u32 count = (__u32)(n - done < BATCH ? n - done : BATCH);
		int err = bpf_map_update_batch(fd, k + done * key_size, v + done * val_size, &count,
					       &opts);

		if (err == -EINVAL || err == -ENOTSUPP || err == -EOPNOTSUPP) {
			for (size_t i = done; i < n; i++)
				if (bpf_map_update_elem(fd, k + i * key_size, v + i * val_size,
							BPF_ANY))
					return -errno;
			return 0;
		}
		if (err)
			return err;
		done += count;
	}
	return 0;
}

int dp_trie_create(const struct layout_table *t)
{
	LIBBPF_OPTS(bpf_map_create_opts, copts, .map_flags = BPF_F_NO_PREALLOC);
	int fd =
	    bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, t->trie_name, (uint32_t)(t->id_size - t->key_off),
			   (uint32_t)t->val_size, t->trie_max, &copts);

	return fd < 0 ? -errno : fd;
}

/* t's records into its hash map, slot set. */
static int write_table(const struct layout_table *t, int fd, uint8_t slot)
{
	char *keys = malloc(t->n * t->id_size + 1), *vals = malloc(t->n * t->val_size + 1);
	int err = -ENOMEM;

	if (keys && vals) {
		for (size_t i = 0; i < t->n; i++) {
			const char *rec = layout_record(t, i);

			memcpy(keys + i * t->id_size, rec, t->id_size);
			layout_set_slot(keys + i * t->id_size, slot);
			memcpy(vals + i * t->val_size, rec + t->id_size, t->val_size);
		}
		err = dp_update_many(fd, keys, t->id_size, vals, t->val_size, t->n);
	}
	free(keys);
	free(vals);
	return err;
}

/*
 * An array of tries (iof_policy, iof_remote4/6): the records bucketed by trie, one inner LPM trie
 * created and filled in batches per bucket, then all of them published at their indexes in the
 * slot with one batched update: every update of an array of maps waits for an RCU grace period,
 * a batch once. A packet sees a trie only once it is complete.
 */
static int write_tries(const struct layout_table *t, int outer_fd, uint8_t slot)
{
	size_t ksz = t->id_size - t->key_off, *start = NULL, n_made = 0;
	uint32_t n_tries = 0, *idx = NULL;
	char *keys = NULL, *vals = NULL;
	int err = -ENOMEM, *fds = NULL;

	for (size_t i = 0; i < t->n; i++) {
		uint32_t trie = layout_record_trie(layout_record(t, i));

		if (trie >= t->tries_per_slot)
			return -E2BIG;
		if (trie >= n_tries)
			n_tries = trie + 1;
	}
	start = calloc(n_tries + 2, sizeof(*start));
	idx = malloc((n_tries + 1) * sizeof(*idx));
	fds = malloc((n_tries + 1) * sizeof(*fds));
	keys = malloc((t->n + 1) * ksz);
	vals = malloc((t->n + 1) * t->val_size);
	if (!start || !idx || !fds || !keys || !vals)
		goto out;
	for (size_t i = 0; i < t->n; i++) /* counting sort by trie */
		start[layout_record_trie(layout_record(t, i)) + 2]++;
	for (size_t k = 2; k < n_tries + 2; k++)
		start[k] += start[k - 1];
	for (size_t i = 0; i < t->n; i++) {
		const char *rec = layout_record(t, i);
		size_t at = start[layout_record_trie(rec) + 1]++;

		memcpy(keys + at * ksz, rec + t->key_off, ksz);
		memcpy(vals + at * t->val_size, rec + t->id_size, t->val_size);
	}
	err = 0;
	for (uint32_t k = 0; k < n_tries && !err; k++) {
		size_t n = start[k + 1] - start[k];
		int fd;

		if (!n)
			continue;
		fd = dp_trie_create(t);
		if (fd < 0) {
			err = fd;
			break;
		}
		idx[n_made] = dp_trie_index(t, slot, k);
		fds[n_made++] = fd;
		err = dp_update_many(fd, keys + start[k] * ksz, ksz, vals + start[k] * t->val_size,
				     t->val_size, n);
	}
	if (!err)
		err = dp_update_many(outer_fd, idx, sizeof(*idx), fds, sizeof(*fds), n_made);
out:
	for (size_t i = 0; i < n_made; i++)
		close(fds[i]); /* the outer map holds them now */
	free(start);
	free(idx);
	free(fds);
	free(keys);
	free(vals);
	return err;
}

size_t dp_count_slot_keys(int fd, size_t key_size, int slot)
{
	unsigned char cur[64], next[64];
	size_t n = 0;
	void *prev = NULL;

	if (fd < 0 || key_size > sizeof(cur))
		return 0;
	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		if (slot < 0 || next[IOF_KEY_SLOT_OFFSET] == slot)
			n++;
		memcpy(cur, next, key_size);
		prev = cur;
	}
	return n;
}

int dp_slot_entry_count(const struct dp_map_fds *fds, enum layout_table_id table, uint8_t slot,
			size_t *ret)
{
	struct layout_table t = layout_table_of(NULL, table);
	int outer = dp_table_fd(fds, table);
	char ik[64], iprev[64];
	size_t n = 0;

	if (!t.tries) {
		*ret = dp_count_slot_keys(outer, t.id_size, slot);
		return 0;
	}
	for (uint32_t k = 0; outer >= 0 && k < t.tries_per_slot; k++) {
		__u32 idx = dp_trie_index(&t, slot, k), id;
		int fd;

		if (bpf_map_lookup_elem(outer, &idx, &id))
			continue; /* no such trie */
		fd = bpf_map_get_fd_by_id(id);
		if (fd < 0)
			return -errno;
		for (void *q = NULL; !bpf_map_get_next_key(fd, q, ik); q = iprev) {
			memcpy(iprev, ik, sizeof(ik));
			n++;
		}
		close(fd);
	}
	*ret = n;
	return 0;
}

static int write_endpoints(int fd, const struct policy_image *img, uint8_t slot,
			   const uint32_t *attach_ids)
{
	struct iof_endpoint_key *keys = calloc(img->n_endpoints + 1, sizeof(*keys));
	struct iof_endpoint_val *vals = calloc(img->n_endpoints + 1, sizeof(*vals));
	size_t n = 0;
	int err;

	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; attach_ids && i < img->n_endpoints; i++) {
		if (!attach_ids[i])
			continue;
		keys[n].attach_id = attach_ids[i];
		keys[n].slot = slot;
		vals[n].profile = img->endpoints[i].profile;
		vals[n].endpoint_index = (uint16_t)i;
		vals[n].any_ports = img->endpoints[i].any_ports;
		n++;
	}
	err = dp_update_many(fd, keys, sizeof(*keys), vals, sizeof(*vals), n);
out:
	free(keys);
	free(vals);
	return err;
}

/* The unlisted-port verdicts of the listed groups (read only where an endpoint's bit is set). */
static int write_any_groups(int fd, const struct policy_image *img, uint8_t slot)
{
	__u32 *keys = calloc(img->n_any_groups + 1, sizeof(*keys));
	struct iof_policy_val *vals = calloc(img->n_any_groups + 1, sizeof(*vals));
	int err = -ENOMEM;

	if (keys && vals) {
		for (size_t i = 0; i < img->n_any_groups; i++) {
			/* the records' indexes are slot 0's */
			keys[i] = iof_any_group_index(slot, 0, 0) + img->any_groups[i].index;
			vals[i] = img->any_groups[i].val;
		}
		err =
		    dp_update_many(fd, keys, sizeof(*keys), vals, sizeof(*vals), img->n_any_groups);
	}
	free(keys);
	free(vals);
	return err;
}

int dp_image_write_some(const struct dp_map_fds *fds, const struct policy_image *img, uint8_t slot,
			unsigned what, const uint32_t *attach_ids,
			const uint32_t *prefilter_ifindex, char *err, size_t err_len)
{
	const char *map = "";
	int ret = 0;

	if (slot >= IOF_SLOTS) {
		set_err(err, err_len, "slot %u: only %u slots", slot, IOF_SLOTS);
		return -EINVAL;
	}
	for (int k = 0; k < LAYOUT_TABLES && !ret && (what & DP_SLOT_TRIES); k++) {
		struct layout_table t = layout_table_of(img, (enum layout_table_id)k);
		int fd = dp_table_fd(fds, (enum layout_table_id)k);

		map = t.map;
		ret = fd < 0	? -EBADF
		      : t.tries ? write_tries(&t, fd, slot)
				: write_table(&t, fd, slot);
	}
	if (!ret && (what & DP_SLOT_OTHER)) {
		map = "iof_prefilter";
		ret = dp_prefilter_write(fds, img, slot, prefilter_ifindex);
		if (!ret) {
			map = "iof_any_group";
			ret = write_any_groups(fds->any_group, img, slot);
		}
		if (!ret) { /* last: an endpoint entry makes the slot's entries reachable */
			map = "iof_endpoints";
			ret = write_endpoints(fds->endpoints, img, slot, attach_ids);
		}
	}
	if (ret)
		set_err(err, err_len, "%s: writing slot %u: %s", map, slot, strerror(-ret));
	return ret;
}

int dp_image_write(const struct dp_map_fds *fds, const struct policy_image *img, uint8_t slot,
		   const uint32_t *attach_ids, const uint32_t *prefilter_ifindex, char *err,
		   size_t err_len)
{
	return dp_image_write_some(fds, img, slot, DP_SLOT_TRIES | DP_SLOT_OTHER, attach_ids,
				   prefilter_ifindex, err, err_len);
}

/* Collects the keys of one slot (key byte IOF_KEY_SLOT_OFFSET == slot) and deletes them. */
static int clear_map(int fd, size_t key_size, uint8_t slot)
{
	size_t cap = 4096, n = 0;
	char *keys = malloc(cap * key_size), *prev = NULL, *cur = malloc(key_size);
	int err = 0;

	if (!keys || !cur) {
		err = -ENOMEM;
		goto out;
	}
	while (!bpf_map_get_next_key(fd, prev, cur)) {
		if ((uint8_t)cur[IOF_KEY_SLOT_OFFSET] == slot) {
			if (n == cap) {
				char *grown = realloc(keys, 2 * cap * key_size);

				if (!grown) {
					err = -ENOMEM;
					goto out;
				}
				keys = grown;
				cap *= 2;
			}
			memcpy(keys + n * key_size, cur, key_size);
			n++;
		}
		if (!prev && !(prev = malloc(key_size))) {
			err = -ENOMEM;
			goto out;
		}
		memcpy(prev, cur, key_size);
	}
	if (errno != ENOENT) {
		err = -errno;
		goto out;
	}
	for (size_t done = 0; done < n;) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		__u32 count = (__u32)(n - done < BATCH ? n - done : BATCH);

		if (bpf_map_delete_batch(fd, keys + done * key_size, &count, &opts)) {
			for (; done < n; done++) /* no batch support: one by one */
				if (bpf_map_delete_elem(fd, keys + done * key_size) &&
				    errno != ENOENT) {
					err = -errno;
					goto out;
				}
			break;
		}
		done += count;
	}
out:
	free(keys);
	free(prev);
	free(cur);
	return err;
}

/*
 * The outer indexes of slot's tries present in t's array of maps into ret (room for
 * tries_per_slot), read in batches: the kernel skips the empty indexes, where a lookup of
 * each index of a slot's range (8,192 for iof_policy) cost a system call each.
 */
static int present_tries(const struct layout_table *t, int outer_fd, uint8_t slot, __u32 *ret,
			 __u32 *ret_n)
{
	const __u32 first = dp_trie_index(t, slot, 0), end = first + t->tries_per_slot;
	__u32 *keys = calloc(t->tries_per_slot, sizeof(*keys));
	__u32 *ids = calloc(t->tries_per_slot, sizeof(*ids)); /* zeroed: valgrind, as verify */
	__u32 in = 0, out = 0, n = 0;
	bool started = false;
	int err = keys && ids ? 0 : -ENOMEM;

	while (!err) {
		__u32 count = t->tries_per_slot;
		int e = bpf_map_lookup_batch(outer_fd, started ? &in : NULL, &out, keys, ids, &count,
					     NULL)
			    ? -errno
			    : 0;

		for (__u32 i = 0; i < count; i++)
			if (keys[i] >= first && keys[i] < end)
				ret[n++] = keys[i];
		if (e == -ENOENT) /* the map's end */
			break;
		if (e == -EINVAL || e == -ENOTSUPP || e == -EOPNOTSUPP) { /* no batches: each */
			n = 0;
			for (__u32 idx = first; idx < end; idx++)
				if (!bpf_map_lookup_elem(outer_fd, &idx, &ids[0]))
					ret[n++] = idx;
			break;
		}
		err = e;
		in = out;
		started = true;
	}
	*ret_n = n;
	free(keys);
	free(ids);
	return err;
}

/*
 * Empties slot's part of t's array of tries: every trie present is replaced by a new, empty one
 * with one batched update (the old ones go when their last user does). Every update or delete
 * of an array of maps waits for an RCU grace period, and the kernel has no batched delete for
 * arrays of maps: deleting the tries one by one waited once per trie.
 */
static int clear_tries(const struct layout_table *t, int outer_fd, uint8_t slot)
{
	__u32 *present = malloc((t->tries_per_slot + 1) * sizeof(*present)), n = 0;
	int *empty = malloc((t->tries_per_slot + 1) * sizeof(*empty)), err = 0;
	__u32 made = 0;

	if (!present || !empty) {
		err = -ENOMEM;
		goto out;
	}
	if (outer_fd >= 0)
		err = present_tries(t, outer_fd, slot, present, &n);
	for (; made < n && !err; made++) {
		empty[made] = dp_trie_create(t);
		if (empty[made] < 0)
			err = empty[made];
	}
	if (!err)
		err = dp_update_many(outer_fd, present, sizeof(*present), empty, sizeof(*empty), n);
	while (made-- > 0)
		if (empty[made] >= 0)
			close(empty[made]); /* the outer map holds them now */
out:
	free(present);
	free(empty);
	return err;
}

int dp_zero_counters(int fd, uint32_t first, uint32_t n)
{
	int cpus = libbpf_num_possible_cpus();
	size_t val_size = (size_t)(cpus > 0 ? cpus : 1) * sizeof(struct iof_counter);
	uint32_t chunk = 4096;
	uint32_t *keys = malloc(chunk * sizeof(*keys));
	void *zeros = calloc(chunk, val_size);
	int err = 0;

	if (!keys || !zeros) {
		err = -ENOMEM;
		goto out;
	}
	for (uint32_t done = 0; done < n && !err; done += chunk) {
		__u32 count = n - done < chunk ? n - done : chunk;

		for (uint32_t i = 0; i < count; i++)
			keys[i] = first + done + i;
		err = dp_update_many(fd, keys, sizeof(*keys), zeros, val_size, count);
	}
out:
	free(keys);
	free(zeros);
	return err;
}

int dp_slot_clear_some(const struct dp_map_fds *fds, uint8_t slot, unsigned what, uint32_t n_rules,
		       uint32_t n_endpoints)
{
	int err = 0;

	if (slot >= IOF_SLOTS || n_rules > IOF_MAX_RULES || n_endpoints > IOF_MAX_ENDPOINTS)
		return -EINVAL;
	for (int k = 0; k < LAYOUT_TABLES && (what & DP_SLOT_TRIES); k++) {
		struct layout_table t = layout_table_of(NULL, (enum layout_table_id)k);
		int fd = dp_table_fd(fds, (enum layout_table_id)k);

		if ((err = t.tries   ? clear_tries(&t, fd, slot)
			   : fd >= 0 ? clear_map(fd, t.id_size, slot)
				     : 0))
			return err;
	}
	if ((what & DP_SLOT_ENDPOINTS) &&
	    (err = clear_map(fds->endpoints, sizeof(struct iof_endpoint_key), slot)))
		return err;
	/* hash maps: an empty one still costs a walk of every bucket, hence the flag */
	if ((what & (DP_SLOT_PREFILTER | DP_SLOT_PREFILTER_TRIES)) &&
	    ((err = clear_map(fds->prefilter4, sizeof(struct iof_prefilter4_key), slot)) ||
	     (err = clear_map(fds->prefilter6, sizeof(struct iof_prefilter6_key), slot))))
		return err;
	if ((what & DP_SLOT_PREFILTER) && (err = dp_prefilter_hosts_clear(fds, slot)))
		return err;
	if (fds->rule_counters >= 0 && n_rules &&
	    (err = dp_zero_counters(fds->rule_counters, slot * IOF_MAX_RULES, n_rules)))
		return err;
	if (fds->ep_counters >= 0 && n_endpoints)
		err =
		    dp_zero_counters(fds->ep_counters, slot * IOF_MAX_ENDPOINTS * IOF_EP_COUNTER_KINDS,
				  n_endpoints * IOF_EP_COUNTER_KINDS);
	return err;
}

int dp_slot_clear(const struct dp_map_fds *fds, uint8_t slot)
{
	return dp_slot_clear_some(fds, slot, DP_SLOT_TRIES | DP_SLOT_OTHER, IOF_MAX_RULES,
				  IOF_MAX_ENDPOINTS);
}

int dp_slot_activate(int state_fd, uint8_t slot, uint64_t revision)
{
	long page = sysconf(_SC_PAGESIZE);
	struct iof_state *st;

	if (slot >= IOF_SLOTS)
		return -EINVAL;
	st = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED, state_fd, 0);
	if (st == MAP_FAILED)
		return -errno;
	__atomic_store_n(&st->revision[slot], revision, __ATOMIC_RELAXED);
	/* release: a reader that sees the new slot sees its revision */
	__atomic_store_n(&st->active_slot, (uint32_t)slot, __ATOMIC_RELEASE);
	munmap(st, (size_t)page);
	return 0;
}
