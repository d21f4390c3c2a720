// SPDX-License-Identifier: Apache-2.0
/*
 * Remote classes of a profile. Every distinct CIDR or group named by a local rule is a
 * selector. For one profile, an address belongs to the set of the profile's selectors that
 * contain it; each distinct set is one of the profile's remote classes (the empty set is
 * IOF_CLASS_ANY). The profile's remote trie maps prefixes to classes so that the longest
 * match of any address yields exactly that set:
 *   - every CIDR selector is a point, with the CIDR selectors that cover it;
 *   - every member address of a group selector (endpoints on any node) is a host point, with
 *     the CIDR selectors that cover it plus every selector group it is a member of;
 *   - 0.0.0.0/0 and ::/0 are points, so a lookup never misses.
 * Points sorted by (family, address, length) nest like parentheses; a stack of the open points
 * gives the covering CIDRs in one pass.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compile_internal.h"
#include "prefix.h"
#include "vec.h"

struct point {
	struct policy_prefix p;
	uint32_t sel; /* selector making this a point; SELECTOR_NONE for the roots */
};

static int prefix_order(const struct policy_prefix *a, const struct policy_prefix *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	int c = memcmp(a->addr, b->addr, a->family == 4 ? 4 : 16);

	if (c)
		return c;
	return (int)a->len - (int)b->len;
}

static int point_cmp(const void *a, const void *b)
{
	const struct point *x = a, *y = b;
	int c = prefix_order(&x->p, &y->p);

	if (c)
		return c;
	return x->sel < y->sel ? -1 : x->sel > y->sel;
}

static int selector_cmp(const struct selector *a, const struct selector *b)
{
	if (a->kind != b->kind)
		return (int)a->kind - (int)b->kind;
	if (a->kind == POLICY_REMOTE_GROUP)
		return a->group < b->group ? -1 : a->group > b->group;
	return prefix_order(&a->cidr, &b->cidr);
}

struct rule_sel {
	struct selector s;
	uint32_t rule_id;
};

static int rule_sel_cmp(const void *a, const void *b)
{
	const struct rule_sel *x = a, *y = b;
	int c = selector_cmp(&x->s, &y->s);

	return c ? c : (x->rule_id > y->rule_id) - (x->rule_id < y->rule_id);
}

/* Member addresses of every group (endpoints on any node), as CSR by group index. */
static int collect_members(struct compile_ctx *ctx)
{
	const struct policy_document *doc = ctx->doc;
	size_t n_groups = doc->n_groups, total = 0;

	ctx->group_sel = malloc((n_groups ? n_groups : 1) * sizeof(*ctx->group_sel));
	ctx->member_off = calloc(n_groups + 1, sizeof(*ctx->member_off));
	ctx->sel_stamp = calloc(ctx->n_sel + 1, sizeof(uint32_t));
	ctx->sel_class_first = calloc(ctx->n_sel + 1, sizeof(uint32_t));
	ctx->sel_class_count = calloc(ctx->n_sel + 1, sizeof(uint32_t));
	if (!ctx->group_sel || !ctx->member_off || !ctx->sel_stamp || !ctx->sel_class_first ||
	    !ctx->sel_class_count)
		return -ENOMEM;
	for (size_t g = 0; g < n_groups; g++)
		ctx->group_sel[g] = SELECTOR_NONE;
	for (uint32_t s = 0; s < ctx->n_sel; s++)
		if (ctx->sel[s].kind == POLICY_REMOTE_GROUP)
			ctx->group_sel[ctx->sel[s].group] = s;
	for (size_t e = 0; e < doc->n_endpoints; e++)
		for (size_t g = 0; g < doc->endpoints[e].n_groups; g++)
			ctx->member_off[doc->endpoints[e].group_index[g] + 1] +=
				doc->endpoints[e].n_addresses;
	for (size_t g = 0; g < n_groups; g++)
		ctx->member_off[g + 1] += ctx->member_off[g];
	total = ctx->member_off[n_groups];
	ctx->member = malloc((total ? total : 1) * sizeof(*ctx->member));
	size_t *fill = malloc((n_groups ? n_groups : 1) * sizeof(*fill));

	if (!ctx->member || !fill) {
		free(fill);
		return -ENOMEM;
	}
	memcpy(fill, ctx->member_off, n_groups * sizeof(*fill));
	for (size_t e = 0; e < doc->n_endpoints; e++) {
		const struct policy_endpoint *ep = &doc->endpoints[e];

		for (size_t g = 0; g < ep->n_groups; g++)
			for (size_t a = 0; a < ep->n_addresses; a++)
				ctx->member[fill[ep->group_index[g]]++] = &ep->addresses[a];
	}
	free(fill);
	return 0;
}

int compile_selectors(struct compile_ctx *ctx)
{
	size_t n_rules = ctx->img->n_rules, n = 0;
	struct rule_sel *rs = calloc(n_rules ? n_rules : 1, sizeof(*rs));

	if (!rs)
		return -ENOMEM;
	for (size_t id = 0; id < n_rules; id++) {
		const struct policy_rule *r = ctx->rule[id];

		ctx->rule_selector[id] = SELECTOR_NONE;
		if (r->remote_kind == POLICY_REMOTE_ANY)
			continue;
		rs[n].s.kind = r->remote_kind;
		if (r->remote_kind == POLICY_REMOTE_CIDR)
			rs[n].s.cidr = r->cidr;
		else
			rs[n].s.group = r->group_index;
		rs[n++].rule_id = (uint32_t)id;
	}
	qsort(rs, n, sizeof(*rs), rule_sel_cmp);
	ctx->sel = calloc(n ? n : 1, sizeof(*ctx->sel));
	if (!ctx->sel) {
		free(rs);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || selector_cmp(&rs[i].s, &rs[i - 1].s))
			ctx->sel[ctx->n_sel++] = rs[i].s;
		ctx->rule_selector[rs[i].rule_id] = (uint32_t)(ctx->n_sel - 1);
	}
	free(rs);
	return collect_members(ctx);
}

/* Interning of selector sets: open addressing over class ids, reset per profile. */
struct class_table {
	uint32_t *slots; /* class id + 1; 0 = empty */
	size_t mask;
};

static uint64_t set_hash(const uint32_t *ids, size_t n)
{
	uint64_t h = 1469598103934665603ull ^ n;

	for (size_t i = 0; i < n; i++)
		h = (h ^ ids[i]) * 1099511628211ull;
	return h ^ (h >> 29);
}

static int table_reset(struct class_table *t, size_t expected)
{
	size_t size = 64;

	while (size < expected * 2 + 2)
		size *= 2;
	if (size > t->mask + 1 || !t->slots) {
		free(t->slots);
		t->slots = calloc(size, sizeof(*t->slots));
		if (!t->slots)
			return -ENOMEM;
		t->mask = size - 1;
	} else {
		memset(t->slots, 0, (t->mask + 1) * sizeof(*t->slots));
	}
	return 0;
}

/* Returns the class id of the sorted set ids[0..n), adding it if new; or -ENOMEM. */
static int64_t class_intern(struct compile_ctx *ctx, struct class_table *t, const uint32_t *ids,
			    size_t n)
{
	size_t k = set_hash(ids, n) & t->mask;

	for (; t->slots[k]; k = (k + 1) & t->mask) {
		uint32_t c = t->slots[k] - 1;
		size_t len = ctx->class_off[c + 1] - ctx->class_off[c];

		if (len == n && (n == 0 || !memcmp(&ctx->class_items[ctx->class_off[c]], ids,
						   n * sizeof(*ids))))
			return c;
	}
	size_t used = ctx->class_off[ctx->n_classes];

	while (used + n > ctx->cap_class_items || !ctx->class_items) {
		size_t cap = ctx->cap_class_items ? ctx->cap_class_items * 2 : 1024;
		uint32_t *p = realloc(ctx->class_items, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		ctx->class_items = p;
		ctx->cap_class_items = cap;
	}
	if (ctx->n_classes + 2 > ctx->cap_class_off) {
		size_t cap = ctx->cap_class_off * 2;
		uint32_t *p = realloc(ctx->class_off, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		ctx->class_off = p;
		ctx->cap_class_off = cap;
	}
	if (n)
		memcpy(&ctx->class_items[used], ids, n * sizeof(*ids));
	ctx->class_off[ctx->n_classes + 1] = (uint32_t)(used + n);
	t->slots[k] = (uint32_t)ctx->n_classes + 1;
	return (int64_t)ctx->n_classes++;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static int collect_points(struct compile_ctx *ctx, const uint32_t *sels, size_t n_sels,
			  struct point **pts, size_t *n, size_t *cap)
{
	struct point *pt;

	*n = 0;
	for (size_t i = 0; i < n_sels; i++) {
		uint32_t s = sels[i];

		if (ctx->sel[s].kind == POLICY_REMOTE_CIDR) {
			if (!(pt = VEC_PUSH(*pts, *n, *cap)))
				return -ENOMEM;
			pt->p = ctx->sel[s].cidr;
			pt->sel = s;
			continue;
		}
		size_t g = ctx->sel[s].group;

		for (size_t m = ctx->member_off[g]; m < ctx->member_off[g + 1]; m++) {
			if (!(pt = VEC_PUSH(*pts, *n, *cap)))
				return -ENOMEM;
			pt->p = *ctx->member[m];
			pt->sel = s;
		}
	}
	for (int fam = 4; fam <= 6; fam += 2) {
		if (!(pt = VEC_PUSH(*pts, *n, *cap)))
			return -ENOMEM;
		memset(pt, 0, sizeof(*pt));
		pt->p.family = (uint8_t)fam;
		pt->sel = SELECTOR_NONE;
	}
	qsort(*pts, *n, sizeof(**pts), point_cmp);
	return 0;
}

static int push_remote(struct compile_ctx *ctx, uint32_t profile, const struct policy_prefix *p,
		       uint32_t cls)
{
	struct policy_image *img = ctx->img;
	struct iof_remote_val val = {.remote_class = cls};

	if (p->family == 4) {
		struct layout_remote4 trie;
		struct layout_host4 host, *h;
		struct layout_remote4 *t;

		if (layout_remote4_entry(profile, p, val, &trie, &host)) {
			if (!(h = VEC_PUSH(img->host4, img->n_host4, ctx->cap_host4)))
				return -ENOMEM;
			*h = host;
		} else {
			if (!(t = VEC_PUSH(img->remote4, img->n_remote4, ctx->cap_remote4)))
				return -ENOMEM;
			*t = trie;
		}
	} else {
		struct layout_remote6 trie;
		struct layout_host6 host, *h;
		struct layout_remote6 *t;

		if (layout_remote6_entry(profile, p, val, &trie, &host)) {
			if (!(h = VEC_PUSH(img->host6, img->n_host6, ctx->cap_host6)))
				return -ENOMEM;
			*h = host;
		} else {
			if (!(t = VEC_PUSH(img->remote6, img->n_remote6, ctx->cap_remote6)))
				return -ENOMEM;
			*t = trie;
		}
	}
	return 0;
}

/* For each of the profile's selectors, the classes holding it: sel_classes slices. */
static int invert_classes(struct compile_ctx *ctx, uint32_t stamp, const uint32_t *sels,
			  size_t n_sels)
{
	size_t n_items = ctx->class_off[ctx->n_classes], k = 0;
	uint32_t *p = realloc(ctx->sel_classes, (n_items ? n_items : 1) * sizeof(*p));

	if (!p)
		return -ENOMEM;
	ctx->sel_classes = p;
	for (size_t i = 0; i < n_sels; i++) {
		ctx->sel_stamp[sels[i]] = stamp;
		ctx->sel_class_count[sels[i]] = 0;
	}
	for (size_t i = 0; i < n_items; i++)
		ctx->sel_class_count[ctx->class_items[i]]++;
	for (size_t i = 0; i < n_sels; i++) {
		ctx->sel_class_first[sels[i]] = (uint32_t)k;
		k += ctx->sel_class_count[sels[i]];
		ctx->sel_class_count[sels[i]] = 0;
	}
	for (uint32_t c = 0; c < ctx->n_classes; c++) {
		for (uint32_t i = ctx->class_off[c]; i < ctx->class_off[c + 1]; i++) {
			uint32_t s = ctx->class_items[i];

			ctx->sel_classes[ctx->sel_class_first[s] + ctx->sel_class_count[s]++] = c;
		}
	}
	return 0;
}

struct open_point {
	struct policy_prefix p;
	size_t n_cidrs; /* CIDR selectors on the stack up to and including this point */
};

int compile_profile_classes(struct compile_ctx *ctx, uint32_t profile, const uint32_t *sels,
			    size_t n_sels)
{
	struct point *pts = ctx->scratch_points;
	uint32_t *set = ctx->scratch_set;
	struct class_table t = {0};
	size_t n_pts = 0, depth = 0;
	/* stack of open points (at most 129 + 1 deep) and the CIDR selectors along it */
	struct open_point stack[130];
	uint32_t cidrs[130];
	int err;

	err = collect_points(ctx, sels, n_sels, &pts, &n_pts, &ctx->cap_points);
	ctx->scratch_points = pts;
	if (err)
		return err;
	if (ctx->cap_set < n_sels + 131) { /* covering CIDRs (<= 129) and own selectors */
		free(set);
		ctx->cap_set = n_sels + 131;
		ctx->scratch_set = set = malloc(ctx->cap_set * sizeof(*set));
		if (!set) {
			ctx->cap_set = 0;
			return -ENOMEM;
		}
	}
	if (!ctx->class_off) {
		ctx->cap_class_off = 1024;
		if (!(ctx->class_off = malloc(ctx->cap_class_off * sizeof(uint32_t))))
			return -ENOMEM;
	}
	ctx->n_classes = 0;
	ctx->class_off[0] = 0;
	err = table_reset(&t, n_pts);
	if (err || class_intern(ctx, &t, set, 0) != IOF_CLASS_ANY) {
		free(t.slots);
		return err ? err : -ENOMEM;
	}
	for (size_t i = 0; i < n_pts;) {
		const struct policy_prefix *p = &pts[i].p;
		size_t n_set, own_cidrs = 0;

		while (depth && !prefix_covers(&stack[depth - 1].p, p))
			depth--;
		size_t base = depth ? stack[depth - 1].n_cidrs : 0;

		memcpy(set, cidrs, base * sizeof(*set));
		n_set = base;
		/* every selector making this prefix a point (sorted by selector id) */
		for (; i < n_pts && prefix_equal(&pts[i].p, p); i++) {
			uint32_t s = pts[i].sel;

			if (s == SELECTOR_NONE || (n_set > base && set[n_set - 1] == s))
				continue;
			set[n_set++] = s;
			if (ctx->sel[s].kind == POLICY_REMOTE_CIDR)
				cidrs[base + own_cidrs++] = s;
		}
		stack[depth].p = *p;
		stack[depth].n_cidrs = base + own_cidrs;
		depth++;
		qsort(set, n_set, sizeof(*set), u32_cmp);
		int64_t cls = class_intern(ctx, &t, set, n_set);

		if (cls < 0 || (err = push_remote(ctx, profile, p, (uint32_t)cls))) {
			free(t.slots);
			return cls < 0 ? (int)cls : err;
		}
	}
	free(t.slots);
	ctx->img->n_remote_classes += ctx->n_classes;
	return invert_classes(ctx, profile + 1, sels, n_sels);
}
