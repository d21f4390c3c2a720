// SPDX-License-Identifier: Apache-2.0
/*
 * The compiler: a validated document and a node name in, the node's map image out
 * (policy/image.h: records of the kernel layout, policy/layout.h).
 *
 * Steps: pick the local endpoints and the rules of their groups (rule ids), rank the rules
 * (priority, deny before allow, document order), find the remote selectors and classes
 * (compile_remote.c), then for each endpoint profile - the endpoints sharing groups, defaults
 * and mode, which share entries - compile each direction: the any-remote rules into class
 * IOF_CLASS_ANY, and for every class holding one of the profile's selectors the rules of
 * those selectors (compile_entries.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile_internal.h"
#include "vec.h"

static bool is_local(const struct policy_endpoint *ep, const char *node)
{
	return ep->node && strcmp(ep->node, node) == 0;
}

static int collect_endpoints(struct compile_ctx *ctx, const char *node)
{
	const struct policy_document *doc = ctx->doc;
	struct policy_image *img = ctx->img;
	size_t cap = 0;

	for (size_t e = 0; e < doc->n_endpoints; e++) {
		const struct policy_endpoint *ep = &doc->endpoints[e];
		struct image_endpoint *ie;

		if (!is_local(ep, node))
			continue;
		if (!(ie = VEC_PUSH(img->endpoints, img->n_endpoints, cap)))
			return -ENOMEM;
		ie->doc_index = e;
		ie->name = ep->name;
		ie->interface = ep->interface;
		ie->cgroup = ep->cgroup;
		ie->identity = policy_counter_identity("endpoint", ep->name);
	}
	return 0;
}

/* Rules of the groups some local endpoint is in, numbered group by group. */
static int collect_rules(struct compile_ctx *ctx)
{
	const struct policy_document *doc = ctx->doc;
	struct policy_image *img = ctx->img;
	size_t n = 0;

	ctx->group_first = malloc((doc->n_groups ? doc->n_groups : 1) * sizeof(size_t));
	if (!ctx->group_first)
		return -ENOMEM;
	for (size_t g = 0; g < doc->n_groups; g++)
		ctx->group_first[g] = SIZE_MAX;
	for (size_t i = 0; i < img->n_endpoints; i++) {
		const struct policy_endpoint *ep = &doc->endpoints[img->endpoints[i].doc_index];

		for (size_t g = 0; g < ep->n_groups; g++)
			ctx->group_first[ep->group_index[g]] = 0;
	}
	for (size_t g = 0; g < doc->n_groups; g++) {
		if (ctx->group_first[g] == SIZE_MAX)
			continue;
		ctx->group_first[g] = n;
		n += doc->groups[g].n_rules;
	}
	img->n_rules = n;
	img->rules = calloc(n ? n : 1, sizeof(*img->rules));
	ctx->rule = calloc(n ? n : 1, sizeof(*ctx->rule));
	ctx->rank = calloc(n ? n : 1, sizeof(*ctx->rank));
	ctx->rule_selector = calloc(n ? n : 1, sizeof(*ctx->rule_selector));
	if (!img->rules || !ctx->rule || !ctx->rank || !ctx->rule_selector)
		return -ENOMEM;
	for (size_t g = 0; g < doc->n_groups; g++) {
		if (ctx->group_first[g] == SIZE_MAX)
			continue;
		for (size_t r = 0; r < doc->groups[g].n_rules; r++) {
			size_t id = ctx->group_first[g] + r;

			img->rules[id].group_index = g;
			img->rules[id].rule_index = r;
			ctx->rule[id] = &doc->groups[g].rules[r];
		}
	}
	return 0;
}

/* The rules' counter identities: the previous image's when its rules are these. */
static void name_rules(struct compile_ctx *ctx)
{
	struct policy_image *img = ctx->img;

	for (size_t id = 0; id < img->n_rules; id++) {
		char label[POLICY_RULE_LABEL_MAX];

		if (ctx->reuse_parts) {
			img->rules[id].identity = ctx->prev->rules[id].identity;
			continue;
		}
		policy_rule_label(ctx->doc, img->rules[id].group_index, img->rules[id].rule_index,
				  label, sizeof(label));
		img->rules[id].identity = policy_counter_identity("rule", label);
	}
}

/* Precedence of two rule ids (qsort_r: glibc, _GNU_SOURCE). */
static int precedence_cmp(const void *a, const void *b, void *arg)
{
	const struct compile_ctx *ctx = arg;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	const struct policy_rule *rx = ctx->rule[x], *ry = ctx->rule[y];

	if (rx->priority != ry->priority)
		return rx->priority < ry->priority ? -1 : 1;
	if (rx->action != ry->action)
		return rx->action == POLICY_DENY ? -1 : 1;
	return (x > y) - (x < y); /* rule ids follow document order */
}

/* Ranks of the rule ids: their positions in precedence order. */
static int rank_all(struct compile_ctx *ctx)
{
	size_t n = ctx->img->n_rules;
	uint32_t *order = malloc((n ? n : 1) * sizeof(*order));

	if (!order)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		order[i] = (uint32_t)i;
	qsort_r(order, n, sizeof(*order), precedence_cmp, ctx);
	for (size_t i = 0; i < n; i++)
		ctx->rank[order[i]] = (uint32_t)i;
	free(order);
	return 0;
}

/* Scratch space for one profile direction. */
struct scratch {
	uint32_t *any, *specific, *class_rules, *classes;
	uint32_t *sel_stamp, *class_stamp; /* == stamp: seen in this profile direction */
	uint32_t *sel_first, *sel_count;   /* slice of specific[] holding a selector's rules */
	size_t cap_classes;
	uint8_t *class_dirs; /* per class: 1 << IOF_DIR_* for directions with rules of its own */
	uint32_t stamp;
};

static int rank_of_cmp(const void *a, const void *b, void *arg)
{
	const struct compile_ctx *ctx = arg;
	uint32_t x = ctx->rank[*(const uint32_t *)a], y = ctx->rank[*(const uint32_t *)b];

	return (x > y) - (x < y);
}

static int sel_then_rank_cmp(const void *a, const void *b, void *arg)
{
	const struct compile_ctx *ctx = arg;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	uint32_t sx = ctx->rule_selector[x], sy = ctx->rule_selector[y];

	if (sx != sy)
		return sx < sy ? -1 : 1;
	return rank_of_cmp(a, b, arg);
}

/* The profile's selectors (rules of both directions) and its remote classes. */
static int profile_classes(struct compile_ctx *ctx, const struct profile_key *pk, uint32_t profile,
			   struct scratch *s)
{
	size_t n = 0;

	s->stamp++;
	for (size_t g = 0; g < pk->n_groups; g++) {
		size_t first = ctx->group_first[pk->groups[g]];
		size_t count = ctx->doc->groups[pk->groups[g]].n_rules;

		for (size_t id = first; id < first + count; id++) {
			uint32_t sel = ctx->rule_selector[id];

			if (sel != SELECTOR_NONE && s->sel_stamp[sel] != s->stamp) {
				s->sel_stamp[sel] = s->stamp;
				s->any[n++] = sel; /* s->any is free until compile_direction */
			}
		}
	}
	int err = compile_profile_classes(ctx, profile, s->any, n);

	if (err)
		return err;
	if (ctx->n_classes > s->cap_classes) {
		free(s->classes);
		free(s->class_stamp);
		free(s->class_dirs);
		s->cap_classes = ctx->n_classes;
		s->classes = malloc(s->cap_classes * sizeof(uint32_t));
		s->class_stamp = calloc(s->cap_classes, sizeof(uint32_t));
		s->class_dirs = malloc(s->cap_classes);
		if (!s->classes || !s->class_stamp || !s->class_dirs)
			return -ENOMEM;
	}
	memset(s->class_dirs, 0, ctx->n_classes);
	return 0;
}

static int compile_direction(struct compile_ctx *ctx, const struct profile_key *pk,
			     enum policy_direction dir, struct scratch *s)
{
	size_t n_any = 0, n_spec = 0, n_classes = 0;
	bool audit = pk->mode == POLICY_AUDIT;
	int err;

	s->stamp++;
	for (size_t g = 0; g < pk->n_groups; g++) {
		size_t first = ctx->group_first[pk->groups[g]];
		size_t count = ctx->doc->groups[pk->groups[g]].n_rules;

		for (size_t id = first; id < first + count; id++) {
			if (ctx->rule[id]->direction != dir)
				continue;
			if (ctx->rule_selector[id] == SELECTOR_NONE)
				s->any[n_any++] = (uint32_t)id;
			else
				s->specific[n_spec++] = (uint32_t)id;
		}
	}
	qsort_r(s->any, n_any, sizeof(uint32_t), rank_of_cmp, ctx);
	err = compile_class_entries(ctx, dir, IOF_CLASS_ANY, s->any, n_any, NULL, 0, audit);
	if (err)
		return err;

	qsort_r(s->specific, n_spec, sizeof(uint32_t), sel_then_rank_cmp, ctx);
	for (size_t i = 0; i < n_spec; i++) {
		uint32_t sel = ctx->rule_selector[s->specific[i]];

		if (s->sel_stamp[sel] == s->stamp) {
			s->sel_count[sel]++;
			continue;
		}
		s->sel_stamp[sel] = s->stamp;
		s->sel_first[sel] = (uint32_t)i;
		s->sel_count[sel] = 1;
		uint32_t first = ctx->sel_class_first[sel], end = first + ctx->sel_class_count[sel];

		for (uint32_t k = first; k < end; k++) {
			uint32_t c = ctx->sel_classes[k];

			if (s->class_stamp[c] != s->stamp) {
				s->class_stamp[c] = s->stamp;
				s->classes[n_classes++] = c;
			}
		}
	}
	for (size_t i = 0; i < n_classes; i++) {
		uint32_t c = s->classes[i];
		size_t n = 0;

		for (uint32_t k = ctx->class_off[c]; k < ctx->class_off[c + 1]; k++) {
			uint32_t sel = ctx->class_items[k];

			if (s->sel_stamp[sel] != s->stamp)
				continue;
			memcpy(&s->class_rules[n], &s->specific[s->sel_first[sel]],
			       s->sel_count[sel] * sizeof(uint32_t));
			n += s->sel_count[sel];
		}
		qsort_r(s->class_rules, n, sizeof(uint32_t), rank_of_cmp, ctx);
		s->class_dirs[c] |=
		    (uint8_t)(1u << (dir == POLICY_INGRESS ? IOF_DIR_INGRESS : IOF_DIR_EGRESS));
		err = compile_class_entries(ctx, dir, c, s->class_rules, n, s->any, n_any, audit);
		if (err)
			return err;
	}
	return compile_default_entry(ctx, dir, dir == POLICY_INGRESS ? pk->ingress : pk->egress,
				     audit, n_any == 0);
}

/* Points the profile's endpoints at it; a profile's records: compile_one() or a copy. */
static void point_endpoints(struct compile_ctx *ctx, const struct profile_key *keys, size_t first,
			    size_t end, const struct image_profile *prof)
{
	for (size_t p = first; p < end; p++) {
		ctx->img->endpoints[keys[p].local].profile = prof->number;
		ctx->img->endpoints[keys[p].local].any_ports = prof->any_ports;
	}
}

static int check_policy_capacity(struct compile_ctx *ctx)
{
	if (ctx->img->n_policy > IOF_MAX_POLICY_ENTRIES) {
		snprintf(ctx->msg, ctx->msg_len, "iof_policy: more than %u entries (capacity %u)",
			 IOF_MAX_POLICY_ENTRIES, IOF_MAX_POLICY_ENTRIES);
		return -E2BIG;
	}
	return 0;
}

/* Adds the profile's policy entries and listed ports to the image. */
static int emit_profile(struct compile_ctx *ctx, struct image_profile *prof)
{
	struct policy_image *img = ctx->img;
	int err = compile_any_ports(ctx, prof->number, &prof->any_ports);

	if (err)
		return err;
	for (size_t i = 0; i < ctx->n_tmpl; i++) {
		struct layout_policy *e = VEC_PUSH(img->policy, img->n_policy, ctx->cap_policy);

		if (!e)
			return -ENOMEM;
		*e = layout_policy_entry(prof->number, ctx->tmpl[i].key, ctx->tmpl[i].val);
	}
	return check_policy_capacity(ctx);
}

static void scratch_free(struct scratch *s)
{
	free(s->any);
	free(s->specific);
	free(s->class_rules);
	free(s->classes);
	free(s->class_stamp);
	free(s->class_dirs);
	free(s->sel_stamp);
	free(s->sel_first);
	free(s->sel_count);
}

/*
 * What compiling a profile needs beyond the rules: their ranks, the selectors and members,
 * the scratch space. Made once, when the first profile is compiled (none when every profile's
 * records are copied from the previous image).
 */
static int prepare(struct compile_ctx *ctx, struct scratch *s)
{
	size_t n_rules = ctx->img->n_rules ? ctx->img->n_rules : 1;
	int err;

	if (ctx->prepared)
		return 0;
	ctx->prepared = true;
	err = rank_all(ctx);
	if (!err)
		err = compile_selectors(ctx);
	if (err)
		return err;
	s->any = malloc(n_rules * sizeof(uint32_t));
	s->specific = malloc(n_rules * sizeof(uint32_t));
	s->class_rules = malloc(n_rules * sizeof(uint32_t));
	s->sel_stamp = calloc(ctx->n_sel + 1, sizeof(uint32_t));
	s->sel_first = malloc((ctx->n_sel + 1) * sizeof(uint32_t));
	s->sel_count = malloc((ctx->n_sel + 1) * sizeof(uint32_t));
	if (!s->any || !s->specific || !s->class_rules || !s->sel_stamp || !s->sel_first ||
	    !s->sel_count)
		return -ENOMEM;
	return 0;
}

/* Compiles the profile of keys[p] (numbered prof->number) into the image. */
static int compile_one(struct compile_ctx *ctx, const struct profile_key *pk, struct scratch *s,
		       struct image_profile *prof)
{
	struct policy_image *img = ctx->img;
	size_t first4 = img->n_remote4, first6 = img->n_remote6;
	size_t firsth4 = img->n_host4, firsth6 = img->n_host6;
	int err = prepare(ctx, s);

	ctx->n_tmpl = 0;
	if (!err)
		err = profile_classes(ctx, pk, prof->number, s);
	if (!err)
		err = compile_direction(ctx, pk, POLICY_INGRESS, s);
	if (!err)
		err = compile_direction(ctx, pk, POLICY_EGRESS, s);
	if (err)
		return err;
	prof->n_classes = ctx->n_classes;
	/* a class's directions are known once both are compiled */
	for (size_t i = first4; i < img->n_remote4; i++)
		img->remote4[i].val.flags = s->class_dirs[img->remote4[i].val.remote_class];
	for (size_t i = first6; i < img->n_remote6; i++)
		img->remote6[i].val.flags = s->class_dirs[img->remote6[i].val.remote_class];
	for (size_t i = firsth4; i < img->n_host4; i++)
		img->host4[i].val.flags = s->class_dirs[img->host4[i].val.remote_class];
	for (size_t i = firsth6; i < img->n_host6; i++)
		img->host6[i].val.flags = s->class_dirs[img->host6[i].val.remote_class];
	return emit_profile(ctx, prof);
}

static int compile_profiles(struct compile_ctx *ctx)
{
	struct policy_image *img = ctx->img;
	struct profile_key *keys = NULL;
	struct scratch s = {0};
	size_t n_ep = img->n_endpoints, *first = NULL, n = 0;
	uint64_t *identity = NULL;
	uint32_t *number = NULL;
	long *prev_index = NULL;
	int err = compile_profile_keys(ctx, &keys);

	if (!err)
		err = compile_distinct_profiles(ctx, keys, n_ep, &first, &identity, &n);
	if (!err) {
		number = malloc((n + 1) * sizeof(*number));
		prev_index = malloc((n + 1) * sizeof(*prev_index));
		img->profiles = calloc(n + 1, sizeof(*img->profiles));
		err = number && prev_index && img->profiles ? 0 : -ENOMEM;
	}
	if (!err)
		err = compile_number_profiles(ctx, identity, n, number, prev_index);
	for (size_t i = 0; i < n && !err; i++) {
		const struct profile_key *pk = &keys[first[i]];
		const struct image_profile *old =
		    prev_index[i] >= 0 ? &ctx->prev->profiles[prev_index[i]] : NULL;
		struct image_profile *prof = &img->profiles[img->n_profiles++];

		if (old && compile_profile_reusable(ctx, pk->groups, pk->n_groups, old)) {
			err = compile_copy_profile(ctx, old, prof);
			if (!err)
				err = check_policy_capacity(ctx);
			img->n_profiles_reused++;
		} else {
			*prof =
			    (struct image_profile){.identity = identity[i], .number = number[i]};
			for (int k = 0; k < IMAGE_PARTS; k++)
				prof->first[k] = compile_part_count(img, k);
			err = compile_one(ctx, pk, &s, prof);
			for (int k = 0; k < IMAGE_PARTS && !err; k++)
				prof->count[k] = compile_part_count(img, k) - prof->first[k];
		}
		if (!err)
			point_endpoints(ctx, keys, first[i], first[i + 1], prof);
	}
	compile_profile_keys_free(keys, n_ep);
	free(first);
	free(identity);
	free(number);
	free(prev_index);
	scratch_free(&s);
	return err;
}

static int collect_prefilter(struct compile_ctx *ctx, const char *node)
{
	const struct policy_document *doc = ctx->doc;
	struct policy_image *img = ctx->img;
	size_t cap = 0;

	for (size_t i = 0; i < doc->n_prefilters; i++) {
		const struct policy_prefilter *pf = &doc->prefilters[i];

		if (!pf->node || strcmp(pf->node, node))
			continue;
		for (size_t f = 0; f < pf->n_interfaces; f++) {
			for (size_t d = 0; d < pf->n_deny; d++) {
				struct image_prefilter *e =
				    VEC_PUSH(img->prefilter, img->n_prefilter, cap);

				if (!e)
					return -ENOMEM;
				e->interface = pf->interfaces[f];
				e->prefix = pf->deny[d];
			}
		}
	}
	return 0;
}

static void ctx_free(struct compile_ctx *ctx)
{
	free(ctx->rule);
	free(ctx->rank);
	free(ctx->rule_selector);
	free(ctx->group_first);
	free(ctx->sel);
	free(ctx->group_sel);
	free(ctx->member_off);
	free(ctx->member);
	free(ctx->class_off);
	free(ctx->class_items);
	free(ctx->sel_stamp);
	free(ctx->sel_class_first);
	free(ctx->sel_class_count);
	free(ctx->sel_classes);
	free(ctx->scratch_points);
	free(ctx->scratch_set);
	free(ctx->tmpl);
	free(ctx->group_changed);
}

int policy_compile_update(const struct policy_document *doc, const char *node,
			  const struct policy_image *prev, enum policy_compile_reuse reuse,
			  struct policy_image **ret_image, char *msg, size_t msg_len)
{
	char scratch[8];
	struct compile_ctx ctx = {.doc = doc,
				  .msg = msg ? msg : scratch,
				  .msg_len = msg ? msg_len : sizeof(scratch),
				  .prev = prev};
	int err;

	*ret_image = NULL;
	ctx.img = calloc(1, sizeof(*ctx.img));
	if (!ctx.img)
		return -ENOMEM;
	ctx.img->revision = doc->revision;
	ctx.img->doc = doc;
	ctx.img->node = strdup(node);
	err = ctx.img->node ? collect_endpoints(&ctx, node) : -ENOMEM;
	if (!err && ctx.img->n_endpoints > IOF_MAX_ENDPOINTS)
		err = policy_image_check_capacity(ctx.img, ctx.msg, ctx.msg_len);
	if (!err)
		err = collect_rules(&ctx);
	if (!err && ctx.img->n_rules > IOF_MAX_RULES)
		err = policy_image_check_capacity(ctx.img, ctx.msg, ctx.msg_len);
	if (!err && reuse == POLICY_REUSE_PARTS)
		err = compile_reuse_check(&ctx, node);
	if (!err) {
		name_rules(&ctx);
		err = compile_profiles(&ctx);
	}
	if (!err)
		err = collect_prefilter(&ctx, node);
	if (!err)
		err = policy_image_check_capacity(ctx.img, ctx.msg, ctx.msg_len);
	ctx_free(&ctx);
	if (err) {
		policy_image_free(ctx.img);
		return err;
	}
	*ret_image = ctx.img;
	return 0;
}

int policy_compile(const struct policy_document *doc, const char *node,
		   struct policy_image **ret_image, char *msg, size_t msg_len)
{
	return policy_compile_update(doc, node, NULL, POLICY_REUSE_NUMBERS, ret_image, msg,
				     msg_len);
}
