// SPDX-License-Identifier: Apache-2.0
/*
 * Map images (policy/image.h): capacity checks, freeing, and the user-space lookup that
 * performs the datapath's lookups (bpf/verdict.h) over the image's records.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "lpm.h"

/* A table of tries: its records sorted by trie, one LPM table per trie (NULL: no entries). */
struct trie_index {
	char *recs;
	size_t *start; /* records of trie t: [start[t], start[t + 1]) */
	struct lpm_table **lpm;
	uint32_t n_tries;
	struct layout_table t;
};

/* An exact-match table: its records sorted by key. */
struct exact_index {
	char *recs;
	struct layout_table t;
};

struct image_index {
	struct trie_index tries[LAYOUT_TABLES];
	struct exact_index exact[LAYOUT_TABLES];
	const struct iof_policy_val **any_group; /* by iof_any_group_index(0, ...); NULL: none */
};

static void index_free(struct image_index *ix)
{
	if (!ix)
		return;
	for (int k = 0; k < LAYOUT_TABLES; k++) {
		struct trie_index *ti = &ix->tries[k];

		for (uint32_t i = 0; ti->lpm && i < ti->n_tries; i++)
			lpm_free(ti->lpm[i]);
		free(ti->lpm);
		free(ti->start);
		free(ti->recs);
		free(ix->exact[k].recs);
	}
	free(ix->any_group);
	free(ix);
}

void policy_image_free(struct policy_image *img)
{
	if (!img)
		return;
	index_free(img->index);
	free(img->remote4);
	free(img->remote6);
	free(img->host4);
	free(img->host6);
	free(img->policy);
	free(img->any_ports);
	free(img->any_groups);
	free(img->endpoints);
	free(img->rules);
	free(img->prefilter);
	free(img->profiles);
	free(img->node);
	free(img);
}

void policy_image_release_entries(struct policy_image *img)
{
	index_free(img->index);
	img->index = NULL;
	free(img->remote4);
	free(img->remote6);
	free(img->host4);
	free(img->host6);
	free(img->policy);
	free(img->any_ports);
	img->remote4 = NULL;
	img->remote6 = NULL;
	img->host4 = NULL;
	img->host6 = NULL;
	img->policy = NULL;
	img->any_ports = NULL;
	img->entries_released = true;
}

int policy_image_check_capacity(const struct policy_image *img, char *msg, size_t msg_len)
{
	const struct {
		const char *map;
		size_t have, cap;
	} limits[] = {
	    {"endpoints", img->n_endpoints, IOF_MAX_ENDPOINTS},
	    {"rules", img->n_rules, IOF_MAX_RULES},
	    {"iof_remote4", policy_image_remotes(img, 4), IOF_MAX_REMOTE_ENTRIES},
	    {"iof_remote6", policy_image_remotes(img, 6), IOF_MAX_REMOTE_ENTRIES},
	    {"iof_policy", img->n_policy, IOF_MAX_POLICY_ENTRIES},
	    {"iof_prefilter", img->n_prefilter, IOF_MAX_PREFILTER_ENTRIES},
	};

	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		if (limits[i].have > limits[i].cap) {
			snprintf(msg, msg_len, "%s: %zu entries exceed the capacity of %zu",
				 limits[i].map, limits[i].have, limits[i].cap);
			return -E2BIG;
		}
	}
	return 0;
}

/* Sorts a trie table's records by trie (stable) and builds each trie's LPM table. */
static int trie_index_build(struct trie_index *ti, const struct layout_table *t)
{
	ti->t = *t;
	for (size_t i = 0; i < t->n; i++)
		if (layout_record_trie(layout_record(t, i)) >= ti->n_tries)
			ti->n_tries = layout_record_trie(layout_record(t, i)) + 1;
	ti->recs = malloc(t->n * t->rec_size + 1);
	ti->start = calloc(ti->n_tries + 2, sizeof(*ti->start));
	ti->lpm = calloc(ti->n_tries + 1, sizeof(*ti->lpm));
	if (!ti->recs || !ti->start || !ti->lpm)
		return -ENOMEM;
	for (size_t i = 0; i < t->n; i++)
		ti->start[layout_record_trie(layout_record(t, i)) + 2]++;
	for (uint32_t k = 2; k < ti->n_tries + 2; k++)
		ti->start[k] += ti->start[k - 1];
	for (size_t i = 0; i < t->n; i++)
		memcpy(ti->recs +
			   ti->start[layout_record_trie(layout_record(t, i)) + 1]++ * t->rec_size,
		       layout_record(t, i), t->rec_size);
	for (uint32_t k = 0; k < ti->n_tries; k++) {
		size_t n = ti->start[k + 1] - ti->start[k];
		int err;

		if (n && (err = lpm_build(ti->recs + ti->start[k] * t->rec_size + t->key_off, n,
					  t->id_size - t->key_off, t->rec_size, &ti->lpm[k])))
			return err;
	}
	return 0;
}

static int exact_cmp(const void *a, const void *b, void *table)
{
	return memcmp(a, b, ((const struct layout_table *)table)->id_size);
}

static int exact_index_build(struct exact_index *ei, const struct layout_table *t)
{
	ei->t = *t;
	ei->recs = malloc(t->n * t->rec_size + 1);
	if (!ei->recs)
		return -ENOMEM;
	if (t->n) /* base is NULL in an image without records */
		memcpy(ei->recs, t->base, t->n * t->rec_size);
	qsort_r(ei->recs, t->n, t->rec_size, exact_cmp, &ei->t);
	return 0;
}

static int index_build(struct policy_image *img)
{
	struct image_index *ix = calloc(1, sizeof(*ix));
	size_t n_groups = (img->profile_bound ? img->profile_bound : 1) * IOF_ANY_GROUPS;
	int err = 0;

	if (!ix)
		return -ENOMEM;
	for (int k = 0; k < LAYOUT_TABLES && !err; k++) {
		struct layout_table t = layout_table_of(img, (enum layout_table_id)k);

		err = t.tries ? trie_index_build(&ix->tries[k], &t)
			      : exact_index_build(&ix->exact[k], &t);
	}
	ix->any_group = calloc(n_groups, sizeof(*ix->any_group));
	if (!err && !ix->any_group)
		err = -ENOMEM;
	for (size_t i = 0; !err && i < img->n_any_groups; i++) {
		if (img->any_groups[i].index >= n_groups)
			err = -EINVAL;
		else
			ix->any_group[img->any_groups[i].index] = &img->any_groups[i].val;
	}
	if (err) {
		index_free(ix);
		return err;
	}
	img->index = ix;
	return 0;
}

/* The value of the longest match for key in trie number trie, or NULL (also: no such trie). */
static const void *trie_lookup(const struct trie_index *ti, uint32_t trie, const void *key)
{
	long i;

	if (trie >= ti->n_tries || !ti->lpm[trie])
		return NULL;
	i = lpm_lookup(ti->lpm[trie], key);
	return i < 0 ? NULL
		     : ti->recs + (ti->start[trie] + (size_t)i) * ti->t.rec_size + ti->t.id_size;
}

/* The value of key (slot 0) in an exact-match table, or NULL. */
static const void *exact_lookup(const struct exact_index *ei, const void *key)
{
	size_t lo = 0, hi = ei->t.n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *rec = ei->recs + mid * ei->t.rec_size;
		int c = memcmp(key, rec, ei->t.id_size);

		if (!c)
			return rec + ei->t.id_size;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/*
 * The remote's class, as iof_remote_class() in bpf/verdict.h: the host table, then the profile's
 * trie; IOF_CLASS_ANY when the class has no rules in direction dir.
 */
static uint32_t remote_class(const struct image_index *ix, uint32_t profile, unsigned dir,
			     const struct policy_prefix *addr, unsigned *lookups)
{
	const struct iof_remote_val *v;

	(*lookups)++;
	if (addr->family == 4) {
		struct iof_remote4_host_key hk = {.profile = profile};
		struct iof_remote4_key k = {.prefixlen = 32};

		memcpy(hk.addr, addr->addr, 4);
		memcpy(k.addr, addr->addr, 4);
		v = exact_lookup(&ix->exact[LAYOUT_HOST4], &hk);
		if (!v && ++*lookups)
			v = trie_lookup(&ix->tries[LAYOUT_REMOTE4], iof_profile_index(0, profile),
					&k);
	} else {
		struct iof_remote6_host_key hk = {.profile = profile};
		struct iof_remote6_key k = {.prefixlen = 128};

		memcpy(hk.addr, addr->addr, 16);
		memcpy(k.addr, addr->addr, 16);
		v = exact_lookup(&ix->exact[LAYOUT_HOST6], &hk);
		if (!v && ++*lookups)
			v = trie_lookup(&ix->tries[LAYOUT_REMOTE6], iof_profile_index(0, profile),
					&k);
	}
	return v && (v->flags & (1u << dir)) ? v->remote_class : IOF_CLASS_ANY;
}

/* The any-remote verdict, as iof_any_verdict() in bpf/verdict.h. */
static const struct iof_policy_val *any_verdict(const struct image_index *ix,
						const struct image_endpoint *ep,
						const struct iof_policy_key *k,
						struct image_verdict *ret)
{
	int group = iof_any_group_of(k->dir, k->proto);
	const struct iof_policy_val *v;

	ret->any_part = true;
	ret->lookups++;
	if (group >= 0 && (ep->any_ports & (1u << group))) {
		struct iof_any_port_key pk = {
		    .profile = ep->profile, .dir = k->dir, .proto = k->proto, .dport = k->dport};

		ret->listed = true;
		v = exact_lookup(&ix->exact[LAYOUT_ANY_PORTS], &pk);
		if (v)
			return v;
		ret->lookups++;
		return ix->any_group[iof_any_group_index(0, ep->profile, (uint32_t)group)];
	}
	return trie_lookup(&ix->tries[LAYOUT_POLICY],
			   iof_policy_index(0, ep->profile, IOF_POLICY_PART_ANY), k);
}

int policy_image_lookup(const struct policy_image *cimg, const struct image_packet *pkt,
			struct image_verdict *ret)
{
	struct policy_image *img = (struct policy_image *)cimg; /* the index is a cache */
	const struct iof_policy_val *v = NULL, *any;
	const struct image_endpoint *ep;
	struct iof_policy_key k;
	uint8_t dir = pkt->direction == POLICY_INGRESS ? IOF_DIR_INGRESS : IOF_DIR_EGRESS;
	uint32_t cls;
	int err;

	if (img->entries_released)
		return -ENODATA;
	if (!img->index && (err = index_build(img)))
		return err;
	*ret = (struct image_verdict){.lookups = 1}; /* iof_endpoints */
	if (pkt->endpoint_index >= img->n_endpoints)
		return -ENOENT;
	ep = &img->endpoints[pkt->endpoint_index];
	if (ep->profile >= IOF_MAX_PROFILES)
		return -ENOENT;
	cls = remote_class(img->index, ep->profile, dir, &pkt->remote, &ret->lookups);
	k = layout_policy_key(dir, IOF_POLICY_PLEN_MAX, IOF_CLASS_ANY, pkt->proto,
			      policy_proto_has_ports(pkt->proto) ? pkt->dport : 0);
	if (cls != IOF_CLASS_ANY) {
		struct iof_policy_key ck = k;

		memcpy(ck.remote_class, &cls, sizeof(cls));
		ret->class_part = true;
		ret->lookups++;
		v = trie_lookup(&img->index->tries[LAYOUT_POLICY],
				iof_policy_index(0, ep->profile, IOF_POLICY_PART_CLASS), &ck);
	}
	if (!v || !(v->flags & IOF_F_FINAL)) {
		any = any_verdict(img->index, ep, &k, ret);
		if (!any)
			return -ENOENT;
		if (!v || any->rank < v->rank)
			v = any;
	}
	ret->action = v->action == IOF_ACT_ALLOW ? POLICY_ALLOW : POLICY_DENY;
	ret->audit = v->flags & IOF_F_AUDIT;
	ret->is_default = v->flags & IOF_F_DEFAULT;
	ret->rule_id = v->rule_id;
	return 0;
}
