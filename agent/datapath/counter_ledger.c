// SPDX-License-Identifier: Apache-2.0
/*
 * The counter ledger (counter_ledger.h): per-identity bases in iof_count_base, each slot's
 * owners in iof_rule_owner / iof_ep_owner (pinned, so a restarted agent knows them), and in
 * memory sorted by identity for the readers.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "counter_ledger.h"
#include "percpu.h"
#include "image_write.h"

static int owner_cmp(const void *a, const void *b)
{
	const struct ledger_owner *x = a, *y = b;

	return (x->identity > y->identity) - (x->identity < y->identity);
}

static const struct ledger_owner *owner_find(const struct ledger_owner *v, size_t n,
					     uint64_t identity)
{
	struct ledger_owner key = {.identity = identity};

	return n ? bsearch(&key, v, n, sizeof(*v), owner_cmp) : NULL;
}

/*
 * Elements [first, first + n) of an array map (value_size bytes each, per CPU for a per-CPU
 * array) into out, in batches: the batch token of an array is the key before the next one.
 */
static int read_range(int fd, uint32_t first, uint32_t n, size_t value_size, void *out)
{
	uint32_t *keys = calloc(n ? n : 1, sizeof(*keys)), token = first - 1, next = 0;
	uint32_t done = 0;
	int r = keys ? 0 : -ENOMEM;

	while (!r && done < n) {
		__u32 count = n - done;

		r = bpf_map_lookup_batch(fd, first + done ? &token : NULL, &next, keys + done,
					 (char *)out + (size_t)done * value_size, &count, NULL);
		if (r == -ENOENT && count) /* the map's end: fine if we got what we asked */
			r = 0;
		if (r)
			break;
		if (!count) {
			r = -EIO;
			break;
		}
		done += count;
		token = next;
	}
	free(keys);
	return r;
}

/* Sums of counters [first, first + n) of a per-CPU counter array, over the CPUs. */
static int read_counters(int fd, uint32_t first, uint32_t n, struct iof_counter *ret)
{
	int ncpu = libbpf_num_possible_cpus();
	struct iof_counter *vals;
	int r;

	if (ncpu < 0)
		return ncpu;
	vals = calloc((size_t)n * (size_t)ncpu + 1, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	r = read_range(fd, first, n, (size_t)ncpu * sizeof(*vals), vals);
	for (uint32_t i = 0; !r && i < n; i++) {
		ret[i] = (struct iof_counter){0};
		dp_percpu_fold(&vals[(size_t)i * ncpu], ncpu, sizeof(*vals), &ret[i]);
	}
	free(vals);
	return r;
}

/* The nonzero owners among a slot's pinned identities, sorted; span: one past the last. */
static int load_owners(int fd, uint32_t first, uint32_t n, struct ledger_owner **ret, size_t *ret_n,
		       uint32_t *ret_span)
{
	uint64_t *ids = calloc(n, sizeof(*ids));
	struct ledger_owner *v = NULL;
	size_t count = 0;
	int r = ids ? read_range(fd, first, n, sizeof(*ids), ids) : -ENOMEM;

	*ret_span = 0;
	for (uint32_t i = 0; !r && i < n; i++)
		count += ids[i] != 0;
	if (!r && !(v = calloc(count + 1, sizeof(*v))))
		r = -ENOMEM;
	count = 0;
	for (uint32_t i = 0; !r && i < n; i++) {
		if (!ids[i])
			continue;
		v[count++] = (struct ledger_owner){.identity = ids[i], .index = i};
		*ret_span = i + 1;
	}
	free(ids);
	if (r) {
		free(v);
		return r;
	}
	qsort(v, count, sizeof(*v), owner_cmp);
	*ret = v;
	*ret_n = count;
	return 0;
}

int dp_ledger_open(struct dp_ledger *l, int rule_owner_fd, int ep_owner_fd, int base_fd,
		   int rule_counters_fd, int ep_counters_fd)
{
	int r = 0;

	memset(l, 0, sizeof(*l));
	pthread_mutex_init(&l->lock, NULL);
	l->rule_owner_fd = rule_owner_fd;
	l->ep_owner_fd = ep_owner_fd;
	l->base_fd = base_fd;
	l->rule_counters_fd = rule_counters_fd;
	l->ep_counters_fd = ep_counters_fd;
	for (uint8_t s = 0; !r && s < IOF_SLOTS; s++) {
		struct ledger_slot *ls = &l->slot[s];

		r = load_owners(rule_owner_fd, s * IOF_MAX_RULES, IOF_MAX_RULES, &ls->rules,
				&ls->n_rules, &ls->rules_span);
		if (!r)
			r = load_owners(ep_owner_fd, s * IOF_MAX_ENDPOINTS, IOF_MAX_ENDPOINTS,
					&ls->eps, &ls->n_eps, &ls->eps_span);
	}
	return r;
}

static void slot_free(struct ledger_slot *ls)
{
	free(ls->rules);
	free(ls->eps);
	*ls = (struct ledger_slot){0};
}

void dp_ledger_close(struct dp_ledger *l)
{
	for (int s = 0; s < IOF_SLOTS; s++)
		slot_free(&l->slot[s]);
	pthread_mutex_destroy(&l->lock);
}

/* What a retired slot counted under one base key. */
struct base_add {
	struct iof_count_base_key key;
	struct iof_counter add;
};

/* Up to this many bases are read with one lookup each; more, with the map read whole. */
#define BASES_READ_WHOLE_MIN 256
#define BASES_BATCH 4096

static int base_key_cmp(const void *a, const void *b)
{
	const struct iof_count_base_key *x = a, *y = b;

	if (x->identity != y->identity)
		return (x->identity > y->identity) - (x->identity < y->identity);
	return (x->kind > y->kind) - (x->kind < y->kind);
}

/* Sorts adds by key and sums those of one key (two owners of an identity). The new count. */
static size_t merge_adds(struct base_add *adds, size_t n)
{
	size_t k = 0;

	qsort(adds, n, sizeof(*adds), base_key_cmp);
	for (size_t i = 0; i < n; i++) {
		if (k && !base_key_cmp(&adds[k - 1].key, &adds[i].key)) {
			adds[k - 1].add.packets += adds[i].add.packets;
			adds[k - 1].add.bytes += adds[i].add.bytes;
			continue;
		}
		adds[k++] = adds[i];
	}
	return k;
}

/* Adds the map's base of each key (sorted adds) to vals: the map read whole, in batches. */
static int read_bases_whole(int fd, const struct base_add *adds, size_t n,
			    struct iof_counter *vals)
{
	/* zeroed: valgrind does not see the kernel fill them in a batch lookup */
	struct iof_count_base_key *keys = calloc(BASES_BATCH, sizeof(*keys));
	struct iof_counter *got = calloc(BASES_BATCH, sizeof(*got));
	__u32 in = 0, out = 0; /* a hash map's batch token: a bucket number */
	bool first = true;
	int r = keys && got ? 0 : -ENOMEM;

	while (!r) {
		__u32 count = BASES_BATCH;
		int e = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys, got, &count, NULL)
			    ? -errno
			    : 0;

		for (__u32 i = 0; i < count; i++) {
			const struct base_add *a =
			    bsearch(&keys[i], adds, n, sizeof(*adds), base_key_cmp);

			if (a) {
				vals[a - adds].packets += got[i].packets;
				vals[a - adds].bytes += got[i].bytes;
			}
		}
		if (e == -ENOENT)
			break;
		r = e;
		in = out;
		first = false;
	}
	free(keys);
	free(got);
	return r;
}

/*
 * Adds what a slot counted to the bases of their keys: the bases read one lookup each, or
 * with the map read whole when there are many, and written back with one batched update (at
 * 10k counted rules a lookup and an update each cost ~45 ms of system calls).
 */
static int bases_add(struct dp_ledger *l, struct base_add *adds, size_t n)
{
	struct iof_count_base_key *keys;
	struct iof_counter *vals;
	int r = 0;

	n = merge_adds(adds, n);
	if (!n)
		return 0;
	keys = calloc(n, sizeof(*keys));
	vals = calloc(n, sizeof(*vals));
	if (!keys || !vals) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		keys[i] = adds[i].key;
		vals[i] = adds[i].add;
	}
	if (n >= BASES_READ_WHOLE_MIN) {
		r = read_bases_whole(l->base_fd, adds, n, vals);
	} else {
		for (size_t i = 0; i < n && !r; i++) {
			struct iof_counter v;

			if (!bpf_map_lookup_elem(l->base_fd, &keys[i], &v)) {
				vals[i].packets += v.packets;
				vals[i].bytes += v.bytes;
			} else if (errno != ENOENT) {
				r = -errno;
			}
		}
	}
	if (!r)
		r = dp_update_many(l->base_fd, keys, sizeof(*keys), vals, sizeof(*vals), n);
out:
	free(keys);
	free(vals);
	return r;
}

static void base_forget(struct dp_ledger *l, uint64_t identity, uint32_t kind)
{
	struct iof_count_base_key k = {.identity = identity, .kind = kind};

	bpf_map_delete_elem(l->base_fd, &k); /* ENOENT: it never counted */
}

/*
 * Adds a slot's counters to the bases of their owners, then zeroes them (not if they could not
 * be read: the image writer clears them anyway, but the error is reported).
 */
/* Whether the owner of index at in the old image owns the same index in next. */
static bool stays(const struct ledger_owner *o, const struct ledger_owner *next, size_t n)
{
	const struct ledger_owner *f = owner_find(next, n, o->identity);

	return f && f->index == o->index;
}

/* Zeroes the per-CPU counters at keys[0, n). */
static int zero_keys(int fd, const uint32_t *keys, size_t n)
{
	int cpus = libbpf_num_possible_cpus();
	size_t val_size = (size_t)(cpus > 0 ? cpus : 1) * sizeof(struct iof_counter);
	void *zeros = n ? calloc(n, val_size) : NULL;
	int r;

	if (!n)
		return 0;
	r = zeros ? dp_update_many(fd, keys, sizeof(*keys), zeros, val_size, (uint32_t)n) : -ENOMEM;
	free(zeros);
	return r;
}

/*
 * Moves what the slot counted for identities that leave their index (another identity, or
 * none, takes it in next) into their bases, and zeroes those counters. A counter whose
 * identity keeps its index stays in place, counting on: a one-rule change carries and zeroes
 * next to nothing. carry_all: every count is carried (the caller zeroes the slot whole).
 */
static int harvest(struct dp_ledger *l, uint8_t slot, const struct ledger_slot *next,
		   bool carry_all)
{
	const struct ledger_slot *ls = &l->slot[slot];
	uint32_t n_rule = ls->rules_span, n_ep = ls->eps_span * IOF_EP_COUNTER_KINDS;
	uint32_t first_rule = slot * IOF_MAX_RULES;
	uint32_t first_ep = slot * IOF_MAX_ENDPOINTS * IOF_EP_COUNTER_KINDS;
	struct iof_counter *rc = calloc((size_t)n_rule + 1, sizeof(*rc));
	struct iof_counter *ec = calloc((size_t)n_ep + 1, sizeof(*ec));
	size_t max_adds = ls->n_rules + ls->n_eps * IOF_EP_COUNTER_KINDS;
	struct base_add *adds = calloc(max_adds + 1, sizeof(*adds));
	uint32_t *rule_keys = calloc(ls->n_rules + 1, sizeof(*rule_keys));
	uint32_t *ep_keys = calloc(ls->n_eps * IOF_EP_COUNTER_KINDS + 1, sizeof(*ep_keys));
	size_t n = 0, n_rule_keys = 0, n_ep_keys = 0;
	int r = rc && ec && adds && rule_keys && ep_keys ? 0 : -ENOMEM, add = 0;

	if (!r && n_rule)
		r = read_counters(l->rule_counters_fd, first_rule, n_rule, rc);
	if (!r && n_ep)
		r = read_counters(l->ep_counters_fd, first_ep, n_ep, ec);
	for (size_t i = 0; !r && i < ls->n_rules; i++) {
		const struct iof_counter *c = &rc[ls->rules[i].index];

		if ((!carry_all && stays(&ls->rules[i], next->rules, next->n_rules)) ||
		    !(c->packets || c->bytes))
			continue;
		adds[n++] = (struct base_add){
		    {.identity = ls->rules[i].identity, .kind = IOF_COUNT_BASE_RULE}, *c};
		rule_keys[n_rule_keys++] = first_rule + ls->rules[i].index;
	}
	for (size_t i = 0; !r && i < ls->n_eps; i++) {
		if (!carry_all && stays(&ls->eps[i], next->eps, next->n_eps))
			continue;
		for (uint32_t k = 0; k < IOF_EP_COUNTER_KINDS; k++) {
			uint32_t at = ls->eps[i].index * IOF_EP_COUNTER_KINDS + k;
			const struct iof_counter *c = &ec[at];

			if (!(c->packets || c->bytes))
				continue;
			adds[n++] =
			    (struct base_add){{.identity = ls->eps[i].identity, .kind = k}, *c};
			ep_keys[n_ep_keys++] = first_ep + at;
		}
	}
	if (!r)
		add = bases_add(l, adds, n);
	if (!r)
		r = zero_keys(l->rule_counters_fd, rule_keys, n_rule_keys);
	if (!r)
		r = zero_keys(l->ep_counters_fd, ep_keys, n_ep_keys);
	free(rc);
	free(ec);
	free(adds);
	free(rule_keys);
	free(ep_keys);
	return r ?: add;
}

/*
 * Pinned owners of a slot: ids at [0, n), zeros up to old_span; only the indexes whose owner
 * changes from old (the owners pinned now) are written.
 */
static int write_owners(int fd, uint32_t first, const struct ledger_owner *old, size_t n_old,
			const struct ledger_owner *v, size_t n, uint32_t old_span,
			uint32_t *ret_span)
{
	uint32_t span = (uint32_t)n > old_span ? (uint32_t)n : old_span, changed = 0;
	uint32_t *keys = calloc(span + 1, sizeof(*keys));
	uint64_t *ids = calloc(span + 1, sizeof(*ids)), *was = calloc(span + 1, sizeof(*was));
	int r = keys && ids && was ? 0 : -ENOMEM;

	for (size_t i = 0; !r && i < n; i++)
		ids[v[i].index] = v[i].identity;
	for (size_t i = 0; !r && i < n_old; i++)
		if (old[i].index < span)
			was[old[i].index] = old[i].identity;
	for (uint32_t i = 0; !r && i < span; i++) {
		if (ids[i] == was[i])
			continue;
		keys[changed] = first + i;
		ids[changed++] = ids[i]; /* i >= changed: compacted in place */
	}
	if (!r && changed)
		r = dp_update_many(fd, keys, sizeof(*keys), ids, sizeof(*ids), changed);
	free(keys);
	free(ids);
	free(was);
	*ret_span = r ? old_span : (uint32_t)n;
	return r;
}

/* The owners of img: rule ids and endpoint indexes are image positions. */
static int owners_of(const struct policy_image *img, struct ledger_slot *ret)
{
	ret->rules = calloc(img->n_rules + 1, sizeof(*ret->rules));
	ret->eps = calloc(img->n_endpoints + 1, sizeof(*ret->eps));
	if (!ret->rules || !ret->eps) {
		slot_free(ret);
		return -ENOMEM;
	}
	for (size_t i = 0; i < img->n_rules; i++)
		ret->rules[i] = (struct ledger_owner){img->rules[i].identity, (uint32_t)i};
	for (size_t i = 0; i < img->n_endpoints; i++)
		ret->eps[i] = (struct ledger_owner){img->endpoints[i].identity, (uint32_t)i};
	ret->n_rules = img->n_rules;
	ret->n_eps = img->n_endpoints;
	qsort(ret->rules, ret->n_rules, sizeof(*ret->rules), owner_cmp);
	qsort(ret->eps, ret->n_eps, sizeof(*ret->eps), owner_cmp);
	return 0;
}

/* Bases of the identities that leave slot old and are in neither next nor other. */
static void forget_departed(struct dp_ledger *l, const struct ledger_slot *old,
			    const struct ledger_slot *next, const struct ledger_slot *other)
{
	for (size_t i = 0; i < old->n_rules; i++) {
		uint64_t id = old->rules[i].identity;

		if (!owner_find(next->rules, next->n_rules, id) &&
		    !owner_find(other->rules, other->n_rules, id))
			base_forget(l, id, IOF_COUNT_BASE_RULE);
	}
	for (size_t i = 0; i < old->n_eps; i++) {
		uint64_t id = old->eps[i].identity;

		if (owner_find(next->eps, next->n_eps, id) ||
		    owner_find(other->eps, other->n_eps, id))
			continue;
		for (uint32_t k = 0; k < IOF_EP_COUNTER_KINDS; k++)
			base_forget(l, id, k);
	}
}

int dp_ledger_retire(struct dp_ledger *l, uint8_t slot, const struct policy_image *img,
		     bool carry_all)
{
	struct ledger_slot next = {0}, *ls = &l->slot[slot];
	int r, w;

	if (slot >= IOF_SLOTS)
		return -EINVAL;
	r = owners_of(img, &next);
	if (r)
		return r;
	pthread_mutex_lock(&l->lock);
	r = harvest(l, slot, &next, carry_all);
	w = write_owners(l->rule_owner_fd, slot * IOF_MAX_RULES, ls->rules, ls->n_rules,
			 next.rules, next.n_rules, ls->rules_span, &next.rules_span);
	w = write_owners(l->ep_owner_fd, slot * IOF_MAX_ENDPOINTS, ls->eps, ls->n_eps, next.eps,
			 next.n_eps, ls->eps_span, &next.eps_span)
		?: w;
	forget_departed(l, ls, &next, &l->slot[slot ^ 1]);
	slot_free(ls);
	*ls = next;
	if (r || w)
		l->errors++;
	pthread_mutex_unlock(&l->lock);
	return r ?: w;
}

/* Adds counter key of a per-CPU counter array, summed over the CPUs, to acc. */
static int read_one(int fd, uint32_t key, struct iof_counter *acc)
{
	struct iof_counter sum;
	int r = read_counters(fd, key, 1, &sum);

	if (!r) {
		acc->packets += sum.packets;
		acc->bytes += sum.bytes;
	}
	return r;
}

/* base + what the slots count now under identity (kind: IOF_COUNT_BASE_RULE or an ep kind). */
static int total(struct dp_ledger *l, uint64_t identity, uint32_t kind, struct iof_counter *ret)
{
	struct iof_count_base_key k = {.identity = identity, .kind = kind};
	bool rule = kind == IOF_COUNT_BASE_RULE;
	int r = 0;

	*ret = (struct iof_counter){0};
	pthread_mutex_lock(&l->lock);
	if (bpf_map_lookup_elem(l->base_fd, &k, ret) && errno != ENOENT)
		r = -errno;
	for (uint8_t s = 0; !r && s < IOF_SLOTS; s++) {
		const struct ledger_slot *ls = &l->slot[s];
		const struct ledger_owner *o = rule ? owner_find(ls->rules, ls->n_rules, identity)
						    : owner_find(ls->eps, ls->n_eps, identity);

		if (!o)
			continue;
		r = rule
			? read_one(l->rule_counters_fd, s * IOF_MAX_RULES + o->index, ret)
			: read_one(l->ep_counters_fd,
				   (s * IOF_MAX_ENDPOINTS + o->index) * IOF_EP_COUNTER_KINDS + kind,
				   ret);
	}
	pthread_mutex_unlock(&l->lock);
	return r;
}

int dp_ledger_rule_total(struct dp_ledger *l, uint64_t identity, struct iof_counter *ret)
{
	return total(l, identity, IOF_COUNT_BASE_RULE, ret);
}

int dp_ledger_endpoint_total(struct dp_ledger *l, uint64_t identity, enum iof_ep_counter_kind kind,
			     struct iof_counter *ret)
{
	if ((unsigned)kind >= IOF_EP_COUNTER_KINDS)
		return -EINVAL;
	return total(l, identity, (uint32_t)kind, ret);
}

uint64_t dp_ledger_endpoint_at(struct dp_ledger *l, uint8_t slot, uint32_t index)
{
	uint64_t id = 0;

	if (slot >= IOF_SLOTS)
		return 0;
	pthread_mutex_lock(&l->lock);
	for (size_t i = 0; i < l->slot[slot].n_eps; i++)
		if (l->slot[slot].eps[i].index == index)
			id = l->slot[slot].eps[i].identity;
	pthread_mutex_unlock(&l->lock);
	return id;
}
