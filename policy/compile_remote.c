// SPDX-License-Identifier: Apache-2.0
/*
 * Remote classes. Every distinct CIDR or group named by a local rule is a selector. An address
 * belongs to a set of selectors; each distinct set is a remote class (the empty set is
 * IOF_CLASS_ANY). The remote tries map prefixes to classes so that the longest match of any
 * address yields exactly the set of selectors containing it:
 *   - every CIDR selector is a point, with the CIDR selectors that cover it;
 *   - every member address of a group selector (endpoints on any node) is a host point, with
 *     the CIDR selectors that cover it plus every group it is a member of;
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
	return 0;
}

/* Interning of selector sets: open addressing over class ids. */
struct class_table {
	uint32_t *slots; /* class id + 1; 0 = empty */
	size_t mask;
	uint32_t *off, *items;
	size_t n, cap_off, n_items, cap_items;
};

static uint64_t set_hash(const uint32_t *ids, size_t n)
{
	uint64_t h = 1469598103934665603ull ^ n;

	for (size_t i = 0; i < n; i++)
		h = (h ^ ids[i]) * 1099511628211ull;
	return h ^ (h >> 29);
}

static int table_grow(struct class_table *t)
{
	size_t size = t->mask ? (t->mask + 1) * 2 : 1024;
	uint32_t *slots = calloc(size, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (uint32_t c = 0; c < t->n; c++) {
		const uint32_t *ids = &t->items[t->off[c]];
		size_t k = set_hash(ids, t->off[c + 1] - t->off[c]) & (size - 1);

		while (slots[k])
			k = (k + 1) & (size - 1);
		slots[k] = c + 1;
	}
	free(t->slots);
	t->slots = slots;
	t->mask = size - 1;
	return 0;
}

/* Returns the class id of the sorted set ids[0..n), adding it if new; or -ENOMEM. */
static int64_t class_intern(struct class_table *t, const uint32_t *ids, size_t n)
{
	if ((t->n + 1) * 2 > t->mask + 1 && table_grow(t))
		return -ENOMEM;
	size_t k = set_hash(ids, n) & t->mask;

	for (; t->slots[k]; k = (k + 1) & t->mask) {
		uint32_t c = t->slots[k] - 1;
		size_t len = t->off[c + 1] - t->off[c];

		if (len == n && !memcmp(&t->items[t->off[c]], ids, n * sizeof(*ids)))
			return c;
	}
	while (t->n_items + n > t->cap_items || !t->items) {
		size_t cap = t->cap_items ? t->cap_items * 2 : 1024;
		uint32_t *p = realloc(t->items, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		t->items = p;
		t->cap_items = cap;
	}
	if (t->n + 2 > t->cap_off) {
		size_t cap = t->cap_off ? t->cap_off * 2 : 1024;
		uint32_t *p = realloc(t->off, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		t->off = p;
		t->cap_off = cap;
	}
	if (t->n == 0)
		t->off[0] = 0;
	memcpy(&t->items[t->n_items], ids, n * sizeof(*ids));
	t->n_items += n;
	t->off[t->n + 1] = (uint32_t)t->n_items;
	t->slots[k] = (uint32_t)t->n + 1;
	return (int64_t)t->n++;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static int collect_points(struct compile_ctx *ctx, struct point **ret, size_t *ret_n)
{
	const struct policy_document *doc = ctx->doc;
	struct point *pts = NULL, *pt;
	size_t n = 0, cap = 0;
	/* Group selector id by group index, for member addresses. */
	uint32_t *group_sel = malloc((doc->n_groups ? doc->n_groups : 1) * sizeof(*group_sel));

	if (!group_sel)
		return -ENOMEM;
	for (size_t g = 0; g < doc->n_groups; g++)
		group_sel[g] = SELECTOR_NONE;
	for (uint32_t s = 0; s < ctx->n_sel; s++) {
		if (ctx->sel[s].kind == POLICY_REMOTE_GROUP) {
			group_sel[ctx->sel[s].group] = s;
		} else {
			if (!(pt = VEC_PUSH(pts, n, cap)))
				goto oom;
			pt->p = ctx->sel[s].cidr;
			pt->sel = s;
		}
	}
	for (size_t e = 0; e < doc->n_endpoints; e++) {
		const struct policy_endpoint *ep = &doc->endpoints[e];

		for (size_t g = 0; g < ep->n_groups; g++) {
			uint32_t s = group_sel[ep->group_index[g]];

			for (size_t a = 0; s != SELECTOR_NONE && a < ep->n_addresses; a++) {
				if (!(pt = VEC_PUSH(pts, n, cap)))
					goto oom;
				pt->p = ep->addresses[a];
				pt->sel = s;
			}
		}
	}
	for (int fam = 4; fam <= 6; fam += 2) {
		if (!(pt = VEC_PUSH(pts, n, cap)))
			goto oom;
		memset(pt, 0, sizeof(*pt));
		pt->p.family = (uint8_t)fam;
		pt->sel = SELECTOR_NONE;
	}
	free(group_sel);
	qsort(pts, n, sizeof(*pts), point_cmp);
	*ret = pts;
	*ret_n = n;
	return 0;
oom:
	free(group_sel);
	free(pts);
	return -ENOMEM;
}

static int push_remote(struct compile_ctx *ctx, const struct policy_prefix *p, uint32_t cls)
{
	struct policy_image *img = ctx->img;

	if (p->family == 4) {
		struct image_remote4 *r = VEC_PUSH(img->remote4, img->n_remote4, ctx->cap_remote4);

		if (!r)
			return -ENOMEM;
		memset(r, 0, sizeof(*r));
		r->key.prefixlen = IOF_REMOTE_PREFIX_BASE + p->len;
		memcpy(r->key.addr, p->addr, 4);
		r->val.remote_class = cls;
	} else {
		struct image_remote6 *r = VEC_PUSH(img->remote6, img->n_remote6, ctx->cap_remote6);

		if (!r)
			return -ENOMEM;
		memset(r, 0, sizeof(*r));
		r->key.prefixlen = IOF_REMOTE_PREFIX_BASE + p->len;
		memcpy(r->key.addr, p->addr, 16);
		r->val.remote_class = cls;
	}
	return 0;
}

/* Builds sel_class_off/items: for each selector, the classes whose set holds it. */
static int invert_classes(struct compile_ctx *ctx)
{
	size_t n_items = ctx->n_classes ? ctx->class_off[ctx->n_classes] : 0;

	ctx->sel_class_off = calloc(ctx->n_sel + 1, sizeof(uint32_t));
	ctx->sel_class_items = malloc((n_items ? n_items : 1) * sizeof(uint32_t));
	if (!ctx->sel_class_off || !ctx->sel_class_items)
		return -ENOMEM;
	for (size_t i = 0; i < n_items; i++)
		ctx->sel_class_off[ctx->class_items[i] + 1]++;
	for (size_t s = 0; s < ctx->n_sel; s++)
		ctx->sel_class_off[s + 1] += ctx->sel_class_off[s];
	uint32_t *fill = malloc((ctx->n_sel ? ctx->n_sel : 1) * sizeof(*fill));

	if (!fill)
		return -ENOMEM;
	memcpy(fill, ctx->sel_class_off, ctx->n_sel * sizeof(*fill));
	for (uint32_t c = 0; c < ctx->n_classes; c++)
		for (uint32_t i = ctx->class_off[c]; i < ctx->class_off[c + 1]; i++)
			ctx->sel_class_items[fill[ctx->class_items[i]]++] = c;
	free(fill);
	return 0;
}

struct open_point {
	struct policy_prefix p;
	size_t n_cidrs; /* CIDR selectors on the stack up to and including this point */
};

int compile_remote_classes(struct compile_ctx *ctx)
{
	struct class_table t = {0};
	struct point *pts = NULL;
	size_t n_pts = 0, depth = 0;
	/* stack of open points (at most 129 + 1 deep) and the CIDR selectors along it */
	struct open_point stack[130];
	uint32_t cidrs[130], *set = NULL;
	int err;

	err = collect_points(ctx, &pts, &n_pts);
	if (err)
		return err;
	set = malloc((ctx->n_sel + 1) * sizeof(*set));
	err = -ENOMEM;
	if (!set || class_intern(&t, set, 0) != IOF_CLASS_ANY)
		goto out;
	for (size_t i = 0; i < n_pts;) {
		const struct policy_prefix *p = &pts[i].p;
		size_t n_set = 0, own_cidrs = 0;

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
		int64_t cls = class_intern(&t, set, n_set);

		if (cls < 0 || push_remote(ctx, p, (uint32_t)cls))
			goto out;
	}
	ctx->class_off = t.off;
	ctx->class_items = t.items;
	ctx->n_classes = t.n;
	ctx->img->n_remote_classes = t.n;
	t.off = t.items = NULL;
	err = invert_classes(ctx);
out:
	free(t.slots);
	free(t.off);
	free(t.items);
	free(set);
	free(pts);
	return err;
}
