// SPDX-License-Identifier: Apache-2.0
/* Delta writes of the layout's tables: see image_delta.h. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "bpf/datapath_maps.h"
#include "image_delta.h"

/* A difference larger than this share of the image is written whole (batched) instead. */
#define DELTA_MAX_SHARE 4

/* ---- entry sets ---- */

static uint64_t hash_key(const void *key, size_t len)
{
	const unsigned char *p = key;
	uint64_t h = 0x9e3779b97f4a7c15ull ^ len;

	for (; len >= 8; len -= 8, p += 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	for (; len >= 4; len -= 4, p += 4) {
		uint32_t w;

		memcpy(&w, p, 4);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	for (; len; len--, p++)
		h = (h ^ *p) * 0x100000001b3ull;
	h ^= h >> 29;
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 32);
}

/* Index slot: record number + 1 in the low half (0 = free), the hash's high half above. */
#define SLOT_REC(v) ((uint32_t)(v))
#define SLOT_TAG(h) ((h) >> 32)

static void set_reset(struct dp_entry_set *s, size_t key_size, size_t val_size)
{
	free(s->recs);
	free(s->index);
	*s = (struct dp_entry_set){
	    .key_size = key_size, .val_size = val_size, .rec_size = key_size + val_size + 1};
}

static char *rec_at(const struct dp_entry_set *s, size_t i)
{
	return s->recs + i * s->rec_size;
}

static bool rec_present(const struct dp_entry_set *s, const char *rec)
{
	return rec[s->key_size + s->val_size] != 0;
}

/* The hash of a stored key (slot byte 0), the same in every set. */
static uint64_t rec_hash(const struct dp_entry_set *s, const char *key)
{
	return hash_key(key, s->key_size);
}

/* The record with this stored key and hash, or NULL. */
static char *set_find(const struct dp_entry_set *s, const char *key, uint64_t h)
{
	size_t mask = s->index_size - 1;

	if (!s->n)
		return NULL;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		uint64_t v = s->index[i];

		if (!SLOT_REC(v))
			return NULL;
		if (v >> 32 == SLOT_TAG(h) && !memcmp(rec_at(s, SLOT_REC(v) - 1), key, s->key_size))
			return rec_at(s, SLOT_REC(v) - 1);
	}
}

static void index_insert(uint64_t *index, size_t size, uint64_t h, size_t rec)
{
	size_t i = h & (size - 1);

	while (SLOT_REC(index[i]))
		i = (i + 1) & (size - 1);
	index[i] = SLOT_TAG(h) << 32 | (uint32_t)(rec + 1);
}

/* Room for want records at a load of at most 3/4. */
static int set_reserve(struct dp_entry_set *s, size_t want)
{
	size_t size = 16;
	uint64_t *index;

	if (want > s->cap) {
		size_t cap = s->cap ? s->cap : 16;
		char *recs;

		while (cap < want)
			cap *= 2;
		recs = realloc(s->recs, cap * s->rec_size);
		if (!recs)
			return -ENOMEM;
		s->recs = recs;
		s->cap = cap;
	}
	while (size * 3 < want * 4)
		size *= 2;
	if (size <= s->index_size)
		return 0;
	index = calloc(size, sizeof(*index));
	if (!index)
		return -ENOMEM;
	for (size_t r = 0; r < s->n; r++)
		index_insert(index, size, rec_hash(s, rec_at(s, r)), r);
	free(s->index);
	s->index = index;
	s->index_size = size;
	return 0;
}

/* Adds or replaces the record of a stored key (slot byte 0): val NULL records it absent. */
static int set_put(struct dp_entry_set *s, const char *key, uint64_t h, const char *val)
{
	char *rec = set_find(s, key, h);

	if (!rec) {
		if (set_reserve(s, s->n + 1))
			return -ENOMEM;
		rec = rec_at(s, s->n);
		memcpy(rec, key, s->key_size);
		index_insert(s->index, s->index_size, h, s->n++);
	}
	if (val)
		memcpy(rec + s->key_size, val, s->val_size);
	else
		memset(rec + s->key_size, 0, s->val_size);
	rec[s->key_size + s->val_size] = val != NULL;
	return 0;
}

/* The records of a table (their slotted keys carry slot 0). */
static int set_from_image(struct dp_entry_set *s, const struct layout_table *t)
{
	set_reset(s, t->id_size, t->val_size);
	if (set_reserve(s, t->n))
		return -ENOMEM;
	for (size_t i = 0; i < t->n; i++) {
		const char *rec = layout_record(t, i);

		if (set_put(s, rec, rec_hash(s, rec), rec + t->id_size))
			return -ENOMEM;
	}
	return 0;
}

void dp_delta_init(struct dp_delta *d)
{
	memset(d, 0, sizeof(*d));
	for (int s = 0; s < 2; s++) {
		d->rules_used[s] = IOF_MAX_RULES; /* unknown: zero them all once */
		d->eps_used[s] = IOF_MAX_ENDPOINTS;
		d->prefilter_used[s] = true;
	}
}

void dp_delta_free(struct dp_delta *d)
{
	for (int k = 0; k < LAYOUT_TABLES; k++) {
		set_reset(&d->cur[k], 0, 0);
		set_reset(&d->back[k], 0, 0);
		set_reset(&d->next[k], 0, 0);
		free(d->touched[k].ids);
		d->touched[k] = (struct dp_ids){0};
	}
	d->touched_valid = false;
	d->next_img = NULL;
	d->cur_valid = false;
	d->back_valid = false;
}

static int set_copy(const struct dp_entry_set *s, struct dp_entry_set *ret)
{
	*ret = (struct dp_entry_set){.key_size = s->key_size,
				     .val_size = s->val_size,
				     .rec_size = s->rec_size,
				     .n = s->n,
				     .cap = s->n,
				     .index_size = s->index_size};
	ret->recs = malloc(s->n * s->rec_size + 1);
	ret->index = malloc(s->index_size * sizeof(*s->index) + 1);
	if (!ret->recs || !ret->index)
		return -ENOMEM;
	if (s->n)
		memcpy(ret->recs, s->recs, s->n * s->rec_size);
	if (s->index_size)
		memcpy(ret->index, s->index, s->index_size * sizeof(*s->index));
	return 0;
}

int dp_delta_copy_slots(const struct dp_delta *d, struct dp_delta *ret)
{
	int err = 0;

	dp_delta_init(ret);
	for (int k = 0; k < LAYOUT_TABLES && !err; k++) {
		err = set_copy(&d->cur[k], &ret->cur[k]);
		if (!err)
			err = set_copy(&d->back[k], &ret->back[k]);
	}
	ret->cur_valid = d->cur_valid && !err;
	ret->back_valid = d->back_valid && !err;
	return err;
}

/* ---- writing ---- */

/*
 * One table's map in one slot; for an array of tries, its inner tries opened on first use.
 * Tries the slot lacks are created, filled, then put in place together (inner_publish): every
 * update of an array of maps waits for an RCU grace period, a batch once.
 */
struct inner_fds {
	int outer_fd; /* the array of tries, or the hash map */
	uint8_t slot;
	const struct layout_table *t;
	int *fd; /* by trie number; -1 not opened yet */
	size_t n;
	__u32 *new_idx; /* outer indexes of the tries created, not yet in place */
	int *new_fd;
	size_t n_new;
};

static int inner_remember_new(struct inner_fds *in, __u32 idx, int fd)
{
	__u32 *idx_v = realloc(in->new_idx, (in->n_new + 1) * sizeof(*idx_v));
	int *fd_v;

	if (idx_v)
		in->new_idx = idx_v;
	fd_v = idx_v ? realloc(in->new_fd, (in->n_new + 1) * sizeof(*fd_v)) : NULL;
	if (!fd_v)
		return -ENOMEM;
	in->new_fd = fd_v;
	in->new_idx[in->n_new] = idx;
	in->new_fd[in->n_new++] = fd;
	return 0;
}

/* The tries created since the last call, put in place with one batched update. */
static int inner_publish(struct inner_fds *in)
{
	int err = in->n_new ? dp_update_many(in->outer_fd, in->new_idx, sizeof(*in->new_idx),
					     in->new_fd, sizeof(*in->new_fd), in->n_new)
			    : 0;

	in->n_new = 0;
	return err;
}

/* The slot's inner trie number t, opened or created on first use. */
static int inner_fd(struct inner_fds *in, uint32_t t)
{
	__u32 ok = dp_trie_index(in->t, in->slot, t);
	uint32_t id;
	int fd;

	if (t >= in->t->tries_per_slot)
		return -E2BIG;
	if (t >= in->n) {
		size_t n = t + 16;
		int *grown = realloc(in->fd, n * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		for (size_t i = in->n; i < n; i++)
			grown[i] = -1;
		in->fd = grown;
		in->n = n;
	}
	if (in->fd[t] >= 0)
		return in->fd[t];
	if (!bpf_map_lookup_elem(in->outer_fd, &ok, &id)) {
		fd = bpf_map_get_fd_by_id(id);
		if (fd < 0)
			return -errno;
	} else {
		int err;

		fd = dp_trie_create(in->t);
		if (fd < 0)
			return fd;
		err = inner_remember_new(in, ok, fd);
		if (err) {
			close(fd);
			return err;
		}
	}
	in->fd[t] = fd;
	return fd;
}

static void inner_close(struct inner_fds *in)
{
	for (size_t i = 0; i < in->n; i++)
		if (in->fd[i] >= 0)
			close(in->fd[i]);
	free(in->fd);
	free(in->new_idx);
	free(in->new_fd);
	*in = (struct inner_fds){0};
}

/* Writes key -> val, or deletes key when val is NULL (an absent key is no error). */
static int map_put(int fd, const void *key, const void *val)
{
	if (val ? bpf_map_update_elem(fd, key, val, BPF_ANY)
		: (bpf_map_delete_elem(fd, key) && errno != ENOENT))
		return -errno;
	return 0;
}

/* One entry into the slot (val NULL: delete): into its trie, or the hash map with slot set. */
static int put_entry(struct inner_fds *in, const char *id, const char *val)
{
	const struct layout_table *t = in->t;
	char key[64];
	int fd;

	if (!t->tries) {
		memcpy(key, id, t->id_size);
		layout_set_slot(key, in->slot);
		return map_put(in->outer_fd, key, val);
	}
	fd = inner_fd(in, layout_record_trie(id));
	if (fd < 0)
		return fd;
	return map_put(fd, id + t->key_off, val);
}

/* The value key has in the inactive slot (back overrides cur), or NULL when absent. */
static const char *slot_value(const struct dp_entry_set *cur, const struct dp_entry_set *back,
			      const char *key, uint64_t h)
{
	const char *r = set_find(back, key, h);

	if (r)
		return rec_present(back, r) ? r + back->key_size : NULL;
	r = set_find(cur, key, h);
	return r ? r + cur->key_size : NULL;
}

/* One map operation: a record of next to write, or of cur/back whose key to delete. */
struct op {
	const char *rec;
	bool del;
};

struct ops {
	struct op *v;
	size_t n, cap;
};

static int ops_add(struct ops *o, const char *rec, bool del)
{
	if (o->n == o->cap) {
		size_t cap = o->cap ? 2 * o->cap : 64;
		struct op *v = realloc(o->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		o->v = v;
		o->cap = cap;
	}
	o->v[o->n++] = (struct op){.rec = rec, .del = del};
	return 0;
}

/* Entries of the inactive slot: cur's, with those back adds and without those it removes. */
static size_t inactive_entries(const struct dp_entry_set *cur, const struct dp_entry_set *back)
{
	size_t n = cur->n;

	for (size_t i = 0; i < back->n; i++) {
		const char *r = rec_at(back, i);
		bool in_cur = set_find(cur, r, rec_hash(back, r)) != NULL;

		if (rec_present(back, r) && !in_cur)
			n++;
		else if (!rec_present(back, r) && in_cur)
			n--;
	}
	return n;
}

/* What turns the inactive slot (cur overridden by back) into next. */
static int diff_slot(const struct dp_entry_set *cur, const struct dp_entry_set *back,
		     const struct dp_entry_set *next, struct ops *o)
{
	size_t kept = 0; /* entries of next the slot holds already (any value) */
	int err = 0;

	for (size_t i = 0; i < next->n && !err; i++) {
		const char *r = rec_at(next, i);
		const char *old = slot_value(cur, back, r, rec_hash(next, r));

		kept += old != NULL;
		if (!old || memcmp(old, r + next->key_size, next->val_size))
			err = ops_add(o, r, false);
	}
	/* every entry of the slot is one of next's: nothing to delete, no need to look */
	if (err || kept == inactive_entries(cur, back))
		return err;
	for (size_t i = 0; i < cur->n && !err; i++) {
		const char *r = rec_at(cur, i);
		uint64_t h = rec_hash(cur, r);

		if (!set_find(back, r, h) && !set_find(next, r, h))
			err = ops_add(o, r, true);
	}
	for (size_t i = 0; i < back->n && !err; i++) {
		const char *r = rec_at(back, i);

		if (rec_present(back, r) && !set_find(next, r, rec_hash(back, r)))
			err = ops_add(o, r, true);
	}
	return err;
}

static void drop_next(struct dp_delta *d)
{
	for (int k = 0; k < LAYOUT_TABLES; k++) {
		set_reset(&d->next[k], 0, 0);
		d->touched[k].n = 0;
	}
	d->next_img = NULL;
	d->touched_valid = false;
}

/* The identities of a table's operations, kept for dp_delta_activated(). */
static int remember_touched(struct dp_ids *t, const struct ops *o, size_t id_size)
{
	t->n = 0;
	if (o->n > t->cap) {
		char *ids = realloc(t->ids, o->n * id_size);

		if (!ids)
			return -ENOMEM;
		t->ids = ids;
		t->cap = o->n;
	}
	for (size_t i = 0; i < o->n; i++)
		memcpy(t->ids + i * id_size, o->v[i].rec, id_size);
	t->n = o->n;
	return 0;
}

int dp_delta_write_tries(struct dp_delta *d, const struct dp_map_fds *fds,
			 const struct policy_image *img, uint8_t slot, size_t *ret_written)
{
	struct layout_table e[LAYOUT_TABLES];
	struct ops o[LAYOUT_TABLES] = {0};
	size_t changes = 0, total = 0;
	int err = 0;

	*ret_written = 0;
	drop_next(d);
	for (int k = 0; k < LAYOUT_TABLES && !err; k++) {
		e[k] = layout_table_of(img, (enum layout_table_id)k);
		err = set_from_image(&d->next[k], &e[k]);
	}
	if (!err)
		d->next_img = img; /* dp_delta_activated() takes the sets over */
	if (!d->cur_valid || !d->back_valid)
		err = err ? err : -E2BIG;
	for (int k = 0; k < LAYOUT_TABLES && !err; k++) {
		err = diff_slot(&d->cur[k], &d->back[k], &d->next[k], &o[k]);
		changes += o[k].n;
		total += e[k].n;
	}
	if (!err && changes * DELTA_MAX_SHARE > total + 64)
		err = -E2BIG; /* batched whole writes are cheaper */
	for (int k = 0; k < LAYOUT_TABLES && !err; k++)
		err = remember_touched(&d->touched[k], &o[k], d->next[k].key_size);
	d->touched_valid = !err;
	for (int k = 0; k < LAYOUT_TABLES && !err; k++) {
		int fd = dp_table_fd(fds, (enum layout_table_id)k);
		struct inner_fds in = {.outer_fd = fd, .slot = slot, .t = &e[k]};
		size_t ksz = d->next[k].key_size;

		if (fd < 0)
			err = -EBADF;
		for (size_t i = 0; i < o[k].n && !err; i++)
			err = put_entry(&in, o[k].v[i].rec,
					o[k].v[i].del ? NULL : o[k].v[i].rec + ksz);
		/*
		 * A trie left without entries stays in place, empty (a lookup in it misses as in
		 * none): taking it out of the array of maps would wait for a grace period, and a
		 * later image may fill it again.
		 */
		if (!err)
			err = inner_publish(&in);
		*ret_written += o[k].n;
		inner_close(&in);
	}
	for (int k = 0; k < LAYOUT_TABLES; k++)
		free(o[k].v);
	return err;
}

/* Into back (empty): cur's value of the identity at id where next differs from it. */
static int back_of(const struct dp_entry_set *cur, const struct dp_entry_set *next,
		   struct dp_entry_set *back, const char *id)
{
	uint64_t h = rec_hash(cur, id);
	const char *c = set_find(cur, id, h), *n = set_find(next, id, h);

	if ((!c && !n) || (c && n && !memcmp(c + cur->key_size, n + next->key_size, cur->val_size)))
		return 0;
	return set_put(back, id, h, c ? c + cur->key_size : NULL);
}

/*
 * back, from the identities where cur and next can differ: those the delta write touched and
 * those the previous back held (elsewhere next = the inactive slot = cur). Proportional to
 * the change, not to the image.
 */
static int back_from_touched(const struct dp_entry_set *cur, const struct dp_entry_set *next,
			     const struct dp_entry_set *old_back, const struct dp_ids *touched,
			     struct dp_entry_set *back)
{
	int err = 0;

	for (size_t i = 0; i < touched->n && !err; i++)
		err = back_of(cur, next, back, touched->ids + i * cur->key_size);
	for (size_t i = 0; i < old_back->n && !err; i++)
		err = back_of(cur, next, back, rec_at(old_back, i));
	return err;
}

int dp_delta_activated(struct dp_delta *d, const struct policy_image *img)
{
	bool back_ok = d->cur_valid;
	bool touched = back_ok && d->back_valid && d->next_img == img && d->touched_valid;
	int err = 0;

	for (int k = 0; k < LAYOUT_TABLES && !err; k++) {
		struct layout_table e = layout_table_of(img, (enum layout_table_id)k);
		struct dp_entry_set *next = &d->next[k], *cur = &d->cur[k], *back = &d->back[k];

		if (d->next_img != img)
			err = set_from_image(next, &e);
		if (touched && !err) {
			struct dp_entry_set fresh = {0};

			set_reset(&fresh, e.id_size, e.val_size);
			err = back_from_touched(cur, next, back, &d->touched[k], &fresh);
			set_reset(back, 0, 0);
			*back = fresh;
			set_reset(cur, 0, 0);
			*cur = *next;
			*next = (struct dp_entry_set){0};
			continue;
		}
		set_reset(back, e.id_size, e.val_size);
		/* back: how the previous image (now in the inactive slot) differs from img */
		for (size_t i = 0; back_ok && !err && i < cur->n; i++) {
			const char *r = rec_at(cur, i);
			uint64_t h = rec_hash(cur, r);
			const char *n = set_find(next, r, h);

			if (!n || memcmp(n + next->key_size, r + cur->key_size, cur->val_size))
				err = set_put(back, r, h, r + cur->key_size);
		}
		for (size_t i = 0; back_ok && !err && i < next->n; i++) {
			const char *r = rec_at(next, i);
			uint64_t h = rec_hash(next, r);

			if (!set_find(cur, r, h))
				err = set_put(back, r, h, NULL);
		}
		set_reset(cur, 0, 0);
		*cur = *next;
		*next = (struct dp_entry_set){0};
	}
	d->next_img = NULL;
	d->touched_valid = false;
	d->cur_valid = !err;
	d->back_valid = !err && back_ok;
	if (err)
		dp_delta_free(d);
	return err;
}

/* ---- verifying ---- */

/*
 * The maps are read in batches (BPF_MAP_LOOKUP_BATCH, LPM tries included): one system call
 * for DUMP_BATCH entries instead of a lookup and a next-key call for each, ~11 times less CPU
 * on this kind of VM (docs/BENCHMARKS.md, "Guard and counter ledger").
 */
#define DUMP_BATCH 4096

/* What a slot should hold, and what its maps were found to hold. */
struct slot_check {
	const struct dp_entry_set *cur, *back;
	const struct layout_table *t;
	bool active;   /* the active slot holds cur; the inactive one cur overridden by back */
	const _Atomic uint64_t *stop; /* the reading stops once it moves from stop_at */
	uint64_t stop_at;
	uint8_t slot;
	uint32_t trie; /* tries: the one being read */
	size_t found;
};

/* Whether one entry read from the slot's map is expected there with this value. */
static bool entry_expected(struct slot_check *c, const char *key, const char *val)
{
	const struct layout_table *t = c->t;
	char id[64];
	const char *want;
	uint64_t h;

	if (t->tries) {
		memcpy(id, &c->trie, sizeof(c->trie));
		memcpy(id + t->key_off, key, t->id_size - t->key_off);
	} else {
		memcpy(id, key, t->id_size);
		layout_set_slot(id, 0); /* the sets store slotted keys with slot 0 */
	}
	h = rec_hash(c->cur, id);
	if (c->active) {
		want = set_find(c->cur, id, h);
		want = want ? want + c->cur->key_size : NULL;
	} else {
		want = slot_value(c->cur, c->back, id, h);
	}
	return want && !memcmp(val, want, t->val_size);
}

/*
 * Reads map fd whole and checks each entry of the slot (a hash map holds both slots).
 * 0 when every entry is expected, 1 at the first that is not, -errno.
 */
static int check_map(struct slot_check *c, int fd, size_t key_size)
{
	/* zeroed: valgrind does not see the kernel fill them in a batch lookup */
	char *keys = calloc(DUMP_BATCH, key_size), *vals = calloc(DUMP_BATCH, c->t->val_size);
	char in[64] = {0}, out[64] = {0}; /* the batch token: a key, or a hash map's bucket */
	bool first = true;
	int r = keys && vals ? 0 : -ENOMEM;

	while (!r) {
		__u32 count = DUMP_BATCH;
		int e = bpf_map_lookup_batch(fd, first ? NULL : in, out, keys, vals, &count, NULL)
			    ? -errno
			    : 0;

		for (__u32 i = 0; i < count && !r; i++) {
			const char *key = keys + i * key_size;

			if (!c->t->tries && ((const uint8_t *)key)[IOF_KEY_SLOT_OFFSET] != c->slot)
				continue;
			c->found++;
			r = entry_expected(c, key, vals + i * c->t->val_size) ? 0 : 1;
		}
		if (e == -ENOENT) /* the map's end */
			break;
		if (!r)
			r = e;
		if (!r && c->stop && atomic_load(c->stop) != c->stop_at)
			r = -EAGAIN; /* an apply came: what is read now proves nothing */
		memcpy(in, out, sizeof(in));
		first = false;
	}
	free(keys);
	free(vals);
	return r;
}

/* Entries the slot should hold in table c->t (as cur, or cur overridden by back). */
static size_t expected_entries(const struct slot_check *c)
{
	return c->active ? c->cur->n : inactive_entries(c->cur, c->back);
}

/*
 * One table of the slot: every map entry expected with its value, as many as expected. For an
 * array of tries, the tries up to the last one cur or back name (another is read by no
 * endpoint). 0, 1 (what says how it differs), -errno.
 */
static int check_table(struct slot_check *c, int outer_fd, char *what, size_t len)
{
	const struct layout_table *t = c->t;
	size_t expected = expected_entries(c);
	uint32_t tries = 0;
	int r = 0;

	if (!t->tries) {
		r = check_map(c, outer_fd, t->id_size);
	} else {
		const struct dp_entry_set *sets[2] = {c->cur, c->back};

		for (int o = 0; o < 2; o++)
			for (size_t i = 0; i < sets[o]->n; i++) {
				uint32_t k = layout_record_trie(rec_at(sets[o], i));

				if (k < t->tries_per_slot && k + 1 > tries)
					tries = k + 1;
			}
	}
	for (c->trie = 0; !r && c->trie < tries; c->trie++) {
		__u32 idx = dp_trie_index(t, c->slot, c->trie), id;
		int fd;

		if (bpf_map_lookup_elem(outer_fd, &idx, &id))
			continue; /* no trie: its entries count as missing */
		fd = bpf_map_get_fd_by_id(id);
		if (fd < 0)
			return -errno;
		r = check_map(c, fd, t->id_size - t->key_off);
		close(fd);
	}
	if (r == 1)
		snprintf(what, len, "%s: an entry added or changed", t->map);
	else if (!r && c->found != expected)
		snprintf(what, len, "%s: %zu entries where %zu were written", t->map, c->found,
			 expected);
	return r ? r : c->found != expected;
}

/*
 * Whether slot holds what d says (the active slot: cur; the inactive one: cur overridden by
 * back): every entry of the slot's maps is expected with its value, and there are as many as
 * expected. Each map is read whole, in batches.
 */
int dp_delta_verify_slot(const struct dp_delta *d, const struct dp_map_fds *fds, uint8_t slot,
			 bool active, const _Atomic uint64_t *stop, uint64_t stop_at, char *what,
			 size_t len)
{
	if (!d->cur_valid || (!active && !d->back_valid))
		return -ENODATA;
	for (int k = 0; k < LAYOUT_TABLES; k++) {
		struct layout_table t = layout_table_of(NULL, (enum layout_table_id)k);
		struct slot_check c = {.cur = &d->cur[k],
				       .back = &d->back[k],
				       .t = &t,
				       .active = active,
				       .stop = stop,
				       .stop_at = stop_at,
				       .slot = slot};
		int outer_fd = dp_table_fd(fds, (enum layout_table_id)k), r;

		if (outer_fd < 0)
			continue;
		r = check_table(&c, outer_fd, what, len);
		if (r)
			return r;
	}
	return 0;
}
