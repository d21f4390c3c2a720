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

int dp_map_fds_from_object(struct bpf_object *obj, struct dp_map_fds *fds)
{
	static const struct {
		const char *name;
		size_t off;
	} maps[] = {
#define M(f) {"iof_" #f, offsetof(struct dp_map_fds, f)}
	    M(state),	  M(endpoints),	    M(remote4),		M(remote6),
	    M(policy),	  M(remote4_host),  M(remote6_host),	M(ct4),
	    M(ct6),	  M(rule_counters), M(ep_counters),	M(drops),
	    M(events),	  M(events_lost),   M(prefilter4),	M(prefilter6),
	    M(failsafe),  M(config),	    M(prefilter4_host), M(prefilter6_host),
	    M(any_ports), M(any_group),	    M(ct_stats),
	    M(ep_settle),   M(ep_ifnames),
#undef M
	};
	int missing = 0;

	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		int fd = bpf_object__find_map_fd_by_name(obj, maps[i].name);

		*(int *)((char *)fds + maps[i].off) = fd < 0 ? -1 : fd;
		missing |= fd < 0;
	}
	return missing ? -ENOENT : 0;
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

struct dp_trie_entries dp_trie_entries_of(const struct policy_image *img,
					  const struct dp_map_fds *fds, enum dp_trie_kind kind)
{
#define ENTRIES(arr, count, type)                                                                  \
	.base = img ? (const char *)(arr) : NULL, .n = img ? (count) : 0,                          \
	.entry_size = sizeof(type), .key_size = sizeof(((type *)0)->key),                          \
	.val_off = offsetof(type, val), .val_size = sizeof(((type *)0)->val)
	switch (kind) {
	case DP_TRIE_REMOTE4:
		return (struct dp_trie_entries){
		    ENTRIES(img->remote4, img->n_remote4, struct image_remote4),
		    .map = "iof_remote4",
		    .outer_fd = fds ? fds->remote4 : -1,
		    .host_fd = fds ? fds->remote4_host : -1,
		    .full_prefixlen = IOF_REMOTE_PREFIX_BASE + 32,
		    .parts = 1,
		    .inner_key_size = sizeof(struct iof_remote4_trie_key),
		    .inner_name = "iof_remote4_p",
		    .inner_max = IOF_MAX_REMOTE_ENTRIES};
	case DP_TRIE_REMOTE6:
		return (struct dp_trie_entries){
		    ENTRIES(img->remote6, img->n_remote6, struct image_remote6),
		    .map = "iof_remote6",
		    .outer_fd = fds ? fds->remote6 : -1,
		    .host_fd = fds ? fds->remote6_host : -1,
		    .full_prefixlen = IOF_REMOTE_PREFIX_BASE + 128,
		    .parts = 1,
		    .inner_key_size = sizeof(struct iof_remote6_trie_key),
		    .inner_name = "iof_remote6_p",
		    .inner_max = IOF_MAX_REMOTE_ENTRIES};
	case DP_TRIE_ANY_PORTS:
		return (struct dp_trie_entries){
		    ENTRIES(img->any_ports, img->n_any_ports, struct image_any_port),
		    .map = "iof_any_ports",
		    .outer_fd = -1,
		    .host_fd = fds ? fds->any_ports : -1,
		    .full_prefixlen = IOF_ANY_PORT_PLEN,
		    .parts = 1};
	default:
		return (struct dp_trie_entries){
		    ENTRIES(img->policy, img->n_policy, struct image_policy),
		    .map = "iof_policy",
		    .outer_fd = fds ? fds->policy : -1,
		    .host_fd = -1,
		    .full_prefixlen = 0,
		    .parts = IOF_POLICY_PARTS,
		    .inner_key_size = sizeof(struct iof_policy_trie_key),
		    .inner_name = "iof_policy_p",
		    .inner_max = IOF_MAX_POLICY_ENTRIES};
	}
#undef ENTRIES
}

int dp_trie_create(const struct dp_trie_entries *e)
{
	LIBBPF_OPTS(bpf_map_create_opts, copts, .map_flags = BPF_F_NO_PREALLOC);
	int fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, e->inner_name, (uint32_t)e->inner_key_size,
				(uint32_t)e->val_size, e->inner_max, &copts);

	return fd < 0 ? -errno : fd;
}

uint32_t dp_entry_trie(const struct dp_trie_entries *e, const void *key)
{
	uint32_t profile = dp_key_profile(key), plen, cls;

	memcpy(&plen, key, sizeof(plen));
	if (e->parts == 1)
		return e->full_prefixlen && plen == e->full_prefixlen ? DP_TRIE_NONE : profile;
	/* iof_policy: the endpoint defaults (no class bits) and IOF_CLASS_ANY make the any part */
	memcpy(&cls, (const char *)key + offsetof(struct iof_policy_key, remote_class),
	       sizeof(cls));
	return profile * IOF_POLICY_PARTS +
	       (plen <= IOF_POLICY_PLEN_ENDPOINT || cls == IOF_CLASS_ANY ? IOF_POLICY_PART_ANY
									 : IOF_POLICY_PART_CLASS);
}

/* A policy image key's prefix length in iof_policy_trie_key terms (datapath_maps.h). */
static uint32_t policy_trie_plen(uint32_t plen)
{
	if (plen <= IOF_POLICY_PLEN_ENDPOINT)
		return IOF_PTRIE_PLEN_ENDPOINT;
	if (plen <= IOF_POLICY_PLEN_CLASS)
		return plen - IOF_POLICY_PLEN_CLASS + IOF_PTRIE_PLEN_CLASS;
	if (plen <= IOF_POLICY_PLEN_PROTO)
		return IOF_PTRIE_PLEN_PROTO; /* the image's proto byte is followed by a pad byte */
	return plen - IOF_POLICY_PLEN_PROTO + IOF_PTRIE_PLEN_PROTO;
}

size_t dp_inner_key(const struct dp_trie_entries *e, const void *key, void *out)
{
	uint32_t plen;

	memcpy(&plen, key, sizeof(plen));
	if (e->parts == IOF_POLICY_PARTS) {
		const struct iof_policy_key *k = key;
		struct iof_policy_trie_key t = {.prefixlen = policy_trie_plen(plen),
						.dir = k->dir,
						.proto = k->proto,
						.dport = k->dport};

		memcpy(t.remote_class, &k->remote_class, sizeof(t.remote_class));
		memcpy(out, &t, sizeof(t));
		return sizeof(t);
	}
	/* remote keys: {prefixlen, slot, pad, profile, address}; the address is what is left */
	plen = plen > IOF_REMOTE_PREFIX_BASE ? plen - IOF_REMOTE_PREFIX_BASE : 0;
	memcpy(out, &plen, sizeof(plen));
	memcpy((char *)out + sizeof(plen), (const char *)key + DP_KEY_PROFILE_OFFSET + 4,
	       e->inner_key_size - sizeof(plen));
	return e->inner_key_size;
}

size_t dp_host_key(const struct dp_trie_entries *e, const void *key, uint8_t slot, void *hk)
{
	const char *k = key;
	size_t size = dp_host_key_size(e);
	uint32_t plen;
	char *h = hk;

	memcpy(&plen, k, sizeof(plen));
	if (e->host_fd < 0 || plen != e->full_prefixlen || size <= 8 || size > 32)
		return 0;
	/* {__u32 profile, __u8 slot, 3 pad, address}: the address follows the profile in the key */
	memset(h, 0, 8);
	memcpy(h, k + DP_KEY_PROFILE_OFFSET, 4);
	h[4] = (char)slot;
	memcpy(h + 8, k + DP_KEY_PROFILE_OFFSET + 4, size - 8);
	return size;
}

/* e's full-length entries (remote hosts, listed ports) into its exact-match table. */
static int write_host_entries(const struct dp_trie_entries *e, uint8_t slot)
{
	char *keys = malloc((e->n + 1) * 32), *vals = malloc((e->n + 1) * e->val_size);
	size_t n = 0, ksz = 0;
	int err = -ENOMEM;

	if (!keys || !vals)
		goto out;
	for (size_t i = 0; i < e->n; i++) {
		const char *ent = e->base + i * e->entry_size;
		char hk[32];

		ksz = dp_host_key(e, ent, slot, hk); /* the same size for every key of a kind */
		if (!ksz)
			continue;
		memcpy(keys + n * ksz, hk, ksz);
		memcpy(vals + n * e->val_size, ent + e->val_off, e->val_size);
		n++;
	}
	err = dp_update_many(e->host_fd, keys, ksz, vals, e->val_size, n);
out:
	free(keys);
	free(vals);
	return err;
}

static uint32_t entry_trie(const struct dp_trie_entries *m, size_t i)
{
	return dp_entry_trie(m, m->base + i * m->entry_size);
}

/*
 * An array of tries (iof_policy, iof_remote4/6; datapath_maps.h): the entries bucketed by inner
 * trie (dp_entry_trie), one inner LPM trie created and filled in batches per bucket, then
 * published at its index in the slot. A packet sees a trie only once it is complete. The
 * full-length entries (dp_entry_trie: DP_TRIE_NONE) go to the kind's exact-match table.
 */
static int write_profile_tries(const struct dp_trie_entries *m, uint8_t slot)
{
	uint32_t n_tries = 0;
	size_t *start = NULL;
	char *keys = NULL, *vals = NULL;
	int err = -ENOMEM;

	for (size_t i = 0; i < m->n; i++)
		if (dp_key_profile(m->base + i * m->entry_size) >= IOF_MAX_PROFILES)
			return -E2BIG;
	if (m->outer_fd < 0) /* a kind without tries */
		return write_host_entries(m, slot);
	for (size_t i = 0; i < m->n; i++)
		if (entry_trie(m, i) != DP_TRIE_NONE && entry_trie(m, i) >= n_tries)
			n_tries = entry_trie(m, i) + 1;
	start = calloc(n_tries + 2, sizeof(*start));
	keys = malloc((m->n + 1) * m->inner_key_size);
	vals = malloc((m->n + 1) * m->val_size);
	if (!start || !keys || !vals)
		goto out;
	for (size_t i = 0; i < m->n; i++) /* counting sort by trie */
		if (entry_trie(m, i) != DP_TRIE_NONE)
			start[entry_trie(m, i) + 2]++;
	for (size_t t = 2; t < n_tries + 2; t++)
		start[t] += start[t - 1];
	for (size_t i = 0; i < m->n; i++) {
		const char *e = m->base + i * m->entry_size;
		size_t at;

		if (entry_trie(m, i) == DP_TRIE_NONE)
			continue;
		at = start[entry_trie(m, i) + 1]++;
		dp_inner_key(m, e, keys + at * m->inner_key_size);
		memcpy(vals + at * m->val_size, e + m->val_off, m->val_size);
	}
	err = 0;
	for (uint32_t t = 0; t < n_tries && !err; t++) {
		__u32 idx = dp_trie_index(m, slot, t);
		size_t n = start[t + 1] - start[t];
		int fd;

		if (!n)
			continue;
		fd = dp_trie_create(m);
		if (fd < 0) {
			err = fd;
			break;
		}
		err = dp_update_many(fd, keys + start[t] * m->inner_key_size, m->inner_key_size,
				     vals + start[t] * m->val_size, m->val_size, n);
		if (!err && bpf_map_update_elem(m->outer_fd, &idx, &fd, BPF_ANY))
			err = -errno;
		close(fd); /* the outer map holds it now */
	}
	if (!err && m->host_fd >= 0)
		err = write_host_entries(m, slot);
out:
	free(start);
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
		if (slot < 0 || next[DP_KEY_SLOT_OFFSET] == slot)
			n++;
		memcpy(cur, next, key_size);
		prev = cur;
	}
	return n;
}

int dp_slot_entry_count(const struct dp_trie_entries *e, uint8_t slot, size_t *ret)
{
	char ik[64], iprev[64];
	size_t n = 0;

	for (uint32_t t = 0; e->outer_fd >= 0 && t < dp_tries_per_slot(e); t++) {
		__u32 k = dp_trie_index(e, slot, t), id;
		int fd;

		if (bpf_map_lookup_elem(e->outer_fd, &k, &id))
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
	n += dp_count_slot_keys(e->host_fd, dp_host_key_size(e), slot);
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
			keys[i] = iof_any_group_index(slot, img->any_groups[i].profile,
						      img->any_groups[i].group);
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
	for (int k = 0; k < DP_TRIE_KINDS && !ret && (what & DP_SLOT_TRIES); k++) {
		struct dp_trie_entries e = dp_trie_entries_of(img, fds, (enum dp_trie_kind)k);

		map = e.map;
		ret = write_profile_tries(&e, slot);
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

/* Collects the keys of one slot (key byte DP_KEY_SLOT_OFFSET == slot) and deletes them. */
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
		if ((uint8_t)cur[DP_KEY_SLOT_OFFSET] == slot) {
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

/* Empties slot's part of e's array of tries (the inner tries go when their last user does). */
static int clear_profiles(const struct dp_trie_entries *e, uint8_t slot)
{
	for (uint32_t t = 0; e->outer_fd >= 0 && t < dp_tries_per_slot(e); t++) {
		__u32 k = dp_trie_index(e, slot, t);

		if (bpf_map_delete_elem(e->outer_fd, &k) && errno != ENOENT)
			return -errno;
	}
	return 0;
}

/* Zeroes elements [first, first + n) of a per-CPU array of struct iof_counter. */
static int zero_counters(int fd, uint32_t first, uint32_t n)
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
	for (int k = 0; k < DP_TRIE_KINDS && (what & DP_SLOT_TRIES); k++) {
		struct dp_trie_entries e = dp_trie_entries_of(NULL, fds, (enum dp_trie_kind)k);

		if ((err = clear_profiles(&e, slot)) ||
		    (e.host_fd >= 0 && (err = clear_map(e.host_fd, dp_host_key_size(&e), slot))))
			return err;
	}
	if ((what & DP_SLOT_ENDPOINTS) &&
	    (err = clear_map(fds->endpoints, sizeof(struct iof_endpoint_key), slot)))
		return err;
	/* hash maps: an empty one still costs a walk of every bucket, hence the flag */
	if ((what & DP_SLOT_PREFILTER) &&
	    ((err = clear_map(fds->prefilter4, sizeof(struct iof_prefilter4_key), slot)) ||
	     (err = clear_map(fds->prefilter6, sizeof(struct iof_prefilter6_key), slot)) ||
	     (err = dp_prefilter_hosts_clear(fds, slot))))
		return err;
	if (fds->rule_counters >= 0 && n_rules &&
	    (err = zero_counters(fds->rule_counters, slot * IOF_MAX_RULES, n_rules)))
		return err;
	if (fds->ep_counters >= 0 && n_endpoints)
		err =
		    zero_counters(fds->ep_counters, slot * IOF_MAX_ENDPOINTS * IOF_EP_COUNTER_KINDS,
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
