// SPDX-License-Identifier: Apache-2.0
/*
 * What a compile takes from the image of the revision before (policy_compile_update()):
 * stable profile numbers, so that a new profile does not move the entries of the others, and
 * the records of the profiles nothing changed for, so that a workload starting on another node
 * costs the compile of the profiles whose remote groups it joins, not of all of them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compile_internal.h"
#include "prefix.h"

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 33);
}

static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return mix(h);
}

uint64_t compile_profile_identity(const struct policy_document *doc, const size_t *groups,
				  size_t n_groups, int ingress, int egress, int mode)
{
	/* groups by name, in any order: a group keeps its identity when others come or go */
	uint64_t sum = 0, xor = 0;

	for (size_t g = 0; g < n_groups; g++) {
		uint64_t h = name_hash(doc->groups[groups[g]].name);

		sum += h;
		xor ^= mix(h + 0x9e3779b97f4a7c15ull);
	}
	uint64_t id = mix(sum ^ mix(xor+n_groups) ^
			  mix(((uint64_t)(unsigned)ingress << 16) ^
			      ((uint64_t)(unsigned)egress << 8) ^ (uint64_t)(unsigned)mode));

	return id ? id : 1;
}

struct known {
	uint64_t identity;
	size_t index; /* in prev->profiles */
};

static int known_cmp(const void *a, const void *b)
{
	const struct known *x = a, *y = b;

	if (x->identity != y->identity)
		return x->identity < y->identity ? -1 : 1;
	return (x->index > y->index) - (x->index < y->index);
}

static long find_known(const struct known *k, size_t n, uint64_t identity)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (k[mid].identity < identity)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && k[lo].identity == identity ? (long)lo : -1;
}

int compile_number_profiles(struct compile_ctx *ctx, const uint64_t *identity, size_t n,
			    uint32_t *ret_numbers, long *ret_prev)
{
	const struct policy_image *prev = ctx->prev;
	size_t n_prev = prev ? prev->n_profiles : 0;
	/* numbers kept are below prev's bound, new ones below n: a bitmap of both */
	size_t bound = (prev ? prev->profile_bound : 0) + n + 1;
	struct known *k = malloc((n_prev ? n_prev : 1) * sizeof(*k));
	bool *taken = calloc(bound, sizeof(*taken));
	bool *claimed = calloc(n_prev ? n_prev : 1, sizeof(*claimed));
	uint32_t next = 0, top = 0;

	if (!k || !taken || !claimed) {
		free(k);
		free(taken);
		free(claimed);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n_prev; i++)
		k[i] = (struct known){.identity = prev->profiles[i].identity, .index = i};
	qsort(k, n_prev, sizeof(*k), known_cmp);
	for (size_t i = 0; i < n; i++) {
		long at = find_known(k, n_prev, identity[i]);

		ret_prev[i] = -1;
		/* equal identities (a collision) are told apart by order: each prev one once */
		while (at >= 0 && (size_t)at < n_prev && k[at].identity == identity[i] &&
		       claimed[at])
			at++;
		if (at < 0 || (size_t)at >= n_prev || k[at].identity != identity[i])
			continue;
		claimed[at] = true;
		ret_prev[i] = (long)k[at].index;
		ret_numbers[i] = prev->profiles[k[at].index].number;
		taken[ret_numbers[i]] = true;
	}
	for (size_t i = 0; i < n; i++) {
		if (ret_prev[i] < 0) {
			while (taken[next])
				next++;
			ret_numbers[i] = next;
			taken[next] = true;
		}
		if (ret_numbers[i] + 1 > top)
			top = ret_numbers[i] + 1;
	}
	ctx->img->profile_bound = top;
	free(k);
	free(taken);
	free(claimed);
	return 0;
}

/* Same groups: prev's document shares them (policy_derive) and none was replaced. */
static bool same_groups(const struct policy_document *a, const struct policy_document *b)
{
	if (a->n_groups != b->n_groups)
		return false;
	for (size_t g = 0; g < a->n_groups; g++) {
		const struct policy_group *x = &a->groups[g], *y = &b->groups[g];

		if (x->rules != y->rules || x->n_rules != y->n_rules || !x->name || !y->name ||
		    strcmp(x->name, y->name))
			return false;
	}
	return true;
}

/* Member addresses of the groups flagged in `which`, as CSR by group index. */
static int members_of(const struct policy_document *doc, const bool *which, size_t **ret_off,
		      const struct policy_prefix ***ret_member)
{
	size_t n_groups = doc->n_groups, *off = calloc(n_groups + 2, sizeof(*off)), *fill = NULL;
	const struct policy_prefix **member = NULL;

	if (!off)
		return -ENOMEM;
	for (size_t e = 0; e < doc->n_endpoints; e++)
		for (size_t g = 0; g < doc->endpoints[e].n_groups; g++)
			if (which[doc->endpoints[e].group_index[g]])
				off[doc->endpoints[e].group_index[g] + 1] +=
				    doc->endpoints[e].n_addresses;
	for (size_t g = 0; g < n_groups; g++)
		off[g + 1] += off[g];
	member = malloc((off[n_groups] ? off[n_groups] : 1) * sizeof(*member));
	fill = malloc((n_groups ? n_groups : 1) * sizeof(*fill));
	if (!member || !fill) {
		free(off);
		free(member);
		free(fill);
		return -ENOMEM;
	}
	memcpy(fill, off, n_groups * sizeof(*fill));
	for (size_t e = 0; e < doc->n_endpoints; e++) {
		const struct policy_endpoint *ep = &doc->endpoints[e];

		for (size_t g = 0; g < ep->n_groups; g++)
			if (which[ep->group_index[g]])
				for (size_t a = 0; a < ep->n_addresses; a++)
					member[fill[ep->group_index[g]]++] = &ep->addresses[a];
	}
	free(fill);
	*ret_off = off;
	*ret_member = member;
	return 0;
}

/* ctx->group_changed: the remote groups of local rules whose member addresses differ. */
static int member_changes(struct compile_ctx *ctx)
{
	const struct policy_document *doc = ctx->doc, *old = ctx->prev->doc;
	size_t n_groups = doc->n_groups, *off = NULL, *old_off = NULL;
	const struct policy_prefix **member = NULL, **old_member = NULL;
	bool *named = calloc(n_groups + 1, sizeof(*named));
	int err;

	ctx->group_changed = calloc(n_groups + 1, sizeof(*ctx->group_changed));
	if (!named || !ctx->group_changed) {
		free(named);
		return -ENOMEM;
	}
	for (size_t id = 0; id < ctx->img->n_rules; id++)
		if (ctx->rule[id]->remote_kind == POLICY_REMOTE_GROUP)
			named[ctx->rule[id]->group_index] = true;
	err = members_of(doc, named, &off, &member);
	if (!err)
		err = members_of(old, named, &old_off, &old_member);
	for (size_t g = 0; !err && g < n_groups; g++) {
		size_t n = off[g + 1] - off[g];

		if (!named[g])
			continue;
		if (n != old_off[g + 1] - old_off[g]) {
			ctx->group_changed[g] = true;
			continue;
		}
		for (size_t m = 0; m < n && !ctx->group_changed[g]; m++)
			ctx->group_changed[g] =
			    !prefix_equal(member[off[g] + m], old_member[old_off[g] + m]);
	}
	free(named);
	free(off);
	free(member);
	free(old_off);
	free(old_member);
	return err;
}

int compile_reuse_check(struct compile_ctx *ctx, const char *node)
{
	const struct policy_image *prev = ctx->prev, *img = ctx->img;

	ctx->reuse_parts = false;
	if (!prev || prev->entries_released || !prev->doc || !prev->node ||
	    strcmp(prev->node, node) || !same_groups(ctx->doc, prev->doc) ||
	    prev->n_rules != img->n_rules)
		return 0;
	for (size_t id = 0; id < img->n_rules; id++)
		if (prev->rules[id].group_index != img->rules[id].group_index ||
		    prev->rules[id].rule_index != img->rules[id].rule_index)
			return 0;
	int err = member_changes(ctx);

	ctx->reuse_parts = !err;
	return err;
}

bool compile_profile_reusable(const struct compile_ctx *ctx, const size_t *groups, size_t n_groups,
			      const struct image_profile *old)
{
	size_t running = ctx->img->n_any_ports, before = old->first[LAYOUT_ANY_PORTS];
	size_t start = running > before ? running : before;

	if (!ctx->reuse_parts)
		return false;
	/* a group of ports is listed while the slot has room for it (compile_any_ports) */
	if (running != before &&
	    start + 2 * IOF_ANY_GROUPS * (size_t)IOF_ANY_PORTS_GROUP_MAX > IOF_MAX_ANY_PORTS)
		return false;
	for (size_t g = 0; g < n_groups; g++) {
		const struct policy_group *grp = &ctx->doc->groups[groups[g]];

		for (size_t r = 0; r < grp->n_rules; r++)
			if (grp->rules[r].remote_kind == POLICY_REMOTE_GROUP &&
			    ctx->group_changed[grp->rules[r].group_index])
				return false;
	}
	return true;
}

/* Part k of an image: its records, count and room (for appending to the image's own). */
struct part {
	void **items;
	size_t *n, *cap, size;
};

static struct part part_of(struct compile_ctx *ctx, int k)
{
	struct policy_image *img = ctx->img;

	switch (k) {
	case LAYOUT_REMOTE4:
		return (struct part){(void **)&img->remote4, &img->n_remote4, &ctx->cap_remote4,
				     sizeof(*img->remote4)};
	case LAYOUT_REMOTE6:
		return (struct part){(void **)&img->remote6, &img->n_remote6, &ctx->cap_remote6,
				     sizeof(*img->remote6)};
	case LAYOUT_POLICY:
		return (struct part){(void **)&img->policy, &img->n_policy, &ctx->cap_policy,
				     sizeof(*img->policy)};
	case LAYOUT_HOST4:
		return (struct part){(void **)&img->host4, &img->n_host4, &ctx->cap_host4,
				     sizeof(*img->host4)};
	case LAYOUT_HOST6:
		return (struct part){(void **)&img->host6, &img->n_host6, &ctx->cap_host6,
				     sizeof(*img->host6)};
	case LAYOUT_ANY_PORTS:
		return (struct part){(void **)&img->any_ports, &img->n_any_ports,
				     &ctx->cap_any_ports, sizeof(*img->any_ports)};
	default:
		return (struct part){(void **)&img->any_groups, &img->n_any_groups,
				     &ctx->cap_any_groups, sizeof(*img->any_groups)};
	}
}

static const void *prev_records(const struct policy_image *prev, int k)
{
	if (k == IMAGE_PART_ANY_GROUPS)
		return prev->any_groups;
	return layout_table_of(prev, (enum layout_table_id)k).base;
}

size_t compile_part_count(const struct policy_image *img, int k)
{
	if (k == IMAGE_PART_ANY_GROUPS)
		return img->n_any_groups;
	return layout_table_of(img, (enum layout_table_id)k).n;
}

int compile_copy_profile(struct compile_ctx *ctx, const struct image_profile *old,
			 struct image_profile *ret)
{
	*ret = *old;
	for (int k = 0; k < IMAGE_PARTS; k++) {
		struct part p = part_of(ctx, k);
		size_t need = *p.n + old->count[k];

		ret->first[k] = *p.n;
		if (!old->count[k])
			continue;
		if (need > *p.cap) {
			size_t cap = *p.cap ? *p.cap : 16;
			void *grown;

			while (cap < need)
				cap *= 2;
			grown = realloc(*p.items, cap * p.size);
			if (!grown)
				return -ENOMEM;
			*p.items = grown;
			*p.cap = cap;
		}
		memcpy((char *)*p.items + *p.n * p.size,
		       (const char *)prev_records(ctx->prev, k) + old->first[k] * p.size,
		       old->count[k] * p.size);
		*p.n = need;
	}
	ctx->img->n_remote_classes += old->n_classes;
	return 0;
}
