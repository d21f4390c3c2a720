// SPDX-License-Identifier: Apache-2.0
/*
 * Policy entries of one remote class: the best rule for every (protocol, port) point, as
 * LPM entries that fall back correctly (iof_policy_key, bpf/policy_layout.h).
 *   IOF_POLICY_PLEN_CLASS:      best any-protocol rule (omitted if none: falls back to the
 *                               default)
 *   IOF_POLICY_PLEN_PROTO:      best rule for protocol p, all ports (omitted if it is the
 *                               class one)
 *   IOF_POLICY_PLEN_PROTO + n:  port ranges where a port rule beats the protocol verdict,
 *                               split into masked-port prefixes
 * Rules arrive sorted by rank, so "best" is "first that matches".
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compile_internal.h"
#include "vec.h"

static int push_entry(struct compile_ctx *ctx, enum policy_direction dir, uint32_t cls,
		      unsigned plen, uint8_t proto, uint16_t dport, const struct iof_policy_val *val)
{
	struct layout_policy *e = VEC_PUSH(ctx->tmpl, ctx->n_tmpl, ctx->cap_tmpl);

	if (!e)
		return -ENOMEM;
	/* the profile's trie is set when the template is emitted */
	*e = layout_policy_entry(
	    0, layout_policy_key(dir == POLICY_INGRESS ? IOF_DIR_INGRESS : IOF_DIR_EGRESS, plen, cls,
				 proto, dport),
	    *val);
	return 0;
}

/*
 * The best rank among the any-remote rules that could match a packet of proto (-1: any
 * protocol) with a destination port in [lo, hi]: an entry covering that region is final when
 * it outranks this.
 */
static uint32_t any_threshold(const struct compile_ctx *ctx, int proto, uint32_t lo, uint32_t hi)
{
	if (ctx->all_final)
		return IOF_RANK_DEFAULT;
	for (size_t i = 0; i < ctx->n_final_any; i++) {
		const struct policy_rule *r = ctx->rule[ctx->final_any[i]];

		if (proto >= 0 && r->protocol != POLICY_PROTO_ANY && r->protocol != proto)
			continue;
		if (r->n_ports == 0 || proto < 0)
			return ctx->rank[ctx->final_any[i]];
		for (size_t p = 0; p < r->n_ports; p++)
			if (r->ports[p].lo <= hi && r->ports[p].hi >= lo)
				return ctx->rank[ctx->final_any[i]];
	}
	return IOF_RANK_DEFAULT; /* only the default: every rule outranks it */
}

/* Verdict of rule id for an entry covering (proto, ports lo..hi). */
static struct iof_policy_val rule_val(struct compile_ctx *ctx, uint32_t id, int proto,
				      uint32_t lo, uint32_t hi, bool audit)
{
	struct iof_policy_val v = {0};
	bool final = ctx->all_final || ctx->rank[id] < any_threshold(ctx, proto, lo, hi);

	v.action = ctx->rule[id]->action == POLICY_ALLOW ? IOF_ACT_ALLOW : IOF_ACT_DENY;
	v.flags = (audit ? IOF_F_AUDIT : 0) | (final ? IOF_F_FINAL : 0);
	v.rule_id = id;
	v.rank = ctx->rank[id];
	return v;
}

int compile_default_entry(struct compile_ctx *ctx, enum policy_direction dir,
			  enum policy_action action, bool audit, bool final)
{
	struct iof_policy_val v = {0};

	v.action = action == POLICY_ALLOW ? IOF_ACT_ALLOW : IOF_ACT_DENY;
	v.flags = IOF_F_DEFAULT | (audit ? IOF_F_AUDIT : 0) | (final ? IOF_F_FINAL : 0);
	v.rule_id = IOF_RULE_NONE;
	v.rank = IOF_RANK_DEFAULT;
	return push_entry(ctx, dir, 0, IOF_POLICY_PLEN_ENDPOINT, 0, 0, &v);
}

/* Emits [lo, hi] as masked-port prefixes with rule id's verdict. */
static int push_port_range(struct compile_ctx *ctx, enum policy_direction dir, uint32_t cls,
			   uint8_t proto, uint32_t lo, uint32_t hi, uint32_t id, bool audit)
{
	while (lo <= hi) {
		unsigned bits = 0; /* block of 2^bits ports starting at lo */

		while (bits < 16 && !(lo & (1u << bits)) && lo + (2u << bits) - 1 <= hi)
			bits++;
		struct iof_policy_val v = rule_val(ctx, id, proto, lo, lo + (1u << bits) - 1, audit);
		int err = push_entry(ctx, dir, cls, IOF_POLICY_PLEN_PROTO + 16 - bits, proto,
				     (uint16_t)lo, &v);
		if (err)
			return err;
		lo += 1u << bits;
	}
	return 0;
}

/* Union-find "next unpainted interval at or after i". */
static size_t next_free(size_t *next, size_t i)
{
	size_t root = i;

	while (next[root] != root)
		root = next[root];
	while (next[i] != root) {
		size_t up = next[i];

		next[i] = root;
		i = up;
	}
	return root;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static size_t lower_bound(const uint32_t *v, size_t n, uint32_t x)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Port rules of one protocol (sorted by rank, each better than the protocol's base verdict):
 * paints every elementary port interval with its best rule, then emits the painted runs.
 */
static int compile_ports(struct compile_ctx *ctx, enum policy_direction dir, uint32_t cls,
			 uint8_t proto, const uint32_t *ids, size_t n, bool audit)
{
	size_t n_bounds = 2, k = 0;
	int err = -ENOMEM;

	for (size_t i = 0; i < n; i++)
		n_bounds += 2 * ctx->rule[ids[i]]->n_ports;
	uint32_t *bounds = malloc(n_bounds * sizeof(*bounds));
	size_t *next = malloc((n_bounds + 1) * sizeof(*next));
	uint32_t *owner = malloc(n_bounds * sizeof(*owner));

	if (!bounds || !next || !owner)
		goto out;
	bounds[k++] = 1;
	bounds[k++] = 65536;
	for (size_t i = 0; i < n; i++) {
		const struct policy_rule *r = ctx->rule[ids[i]];

		for (size_t p = 0; p < r->n_ports; p++) {
			bounds[k++] = r->ports[p].lo;
			bounds[k++] = (uint32_t)r->ports[p].hi + 1;
		}
	}
	qsort(bounds, k, sizeof(*bounds), cmp_u32);
	size_t nb = 0;

	for (size_t i = 0; i < k; i++)
		if (nb == 0 || bounds[nb - 1] != bounds[i])
			bounds[nb++] = bounds[i];
	/* interval j is [bounds[j], bounds[j + 1]) for j < nb - 1 */
	size_t n_iv = nb - 1;

	for (size_t j = 0; j <= n_iv; j++)
		next[j] = j;
	for (size_t j = 0; j < n_iv; j++)
		owner[j] = SELECTOR_NONE;
	for (size_t i = 0; i < n; i++) {
		const struct policy_rule *r = ctx->rule[ids[i]];

		for (size_t p = 0; p < r->n_ports; p++) {
			size_t j = lower_bound(bounds, nb, r->ports[p].lo);
			size_t end = lower_bound(bounds, nb, (uint32_t)r->ports[p].hi + 1);

			while ((j = next_free(next, j)) < end) {
				owner[j] = ids[i];
				next[j] = j + 1;
			}
		}
	}
	err = 0;
	for (size_t j = 0; j < n_iv && !err;) {
		size_t run = j;

		while (run + 1 < n_iv && owner[run + 1] == owner[j])
			run++;
		if (owner[j] != SELECTOR_NONE)
			err = push_port_range(ctx, dir, cls, proto, bounds[j], bounds[run + 1] - 1,
					      owner[j], audit);
		j = run + 1;
	}
out:
	free(bounds);
	free(next);
	free(owner);
	return err;
}

int compile_class_entries(struct compile_ctx *ctx, enum policy_direction dir, uint32_t cls,
			  const uint32_t *ids, size_t n, const uint32_t *any_ids, size_t n_any,
			  bool audit)
{
	uint32_t any_best = SELECTOR_NONE;
	bool seen[256] = {false};
	uint32_t *port_rules = NULL;
	int err = 0;

	ctx->final_any = any_ids;
	ctx->n_final_any = n_any;
	ctx->all_final = any_ids == NULL;
	for (size_t i = 0; i < n && any_best == SELECTOR_NONE; i++)
		if (ctx->rule[ids[i]]->protocol == POLICY_PROTO_ANY)
			any_best = ids[i];
	if (any_best != SELECTOR_NONE) {
		struct iof_policy_val v = rule_val(ctx, any_best, -1, 0, 65535, audit);

		err = push_entry(ctx, dir, cls, IOF_POLICY_PLEN_CLASS, 0, 0, &v);
	}
	for (size_t i = 0; i < n && !err; i++) {
		int proto = ctx->rule[ids[i]]->protocol;

		if (proto == POLICY_PROTO_ANY || seen[proto])
			continue;
		seen[proto] = true;
		/* base: best rule matching every port of proto; port rules that beat it */
		uint32_t base = SELECTOR_NONE;
		size_t n_port = 0;

		if (!port_rules && !(port_rules = malloc(n * sizeof(*port_rules))))
			return -ENOMEM;
		for (size_t j = 0; j < n && base == SELECTOR_NONE; j++) {
			const struct policy_rule *r = ctx->rule[ids[j]];

			if (r->protocol == POLICY_PROTO_ANY ||
			    (r->protocol == proto && r->n_ports == 0))
				base = ids[j];
			else if (r->protocol == proto)
				port_rules[n_port++] = ids[j];
		}
		if (base != any_best) {
			struct iof_policy_val v = rule_val(ctx, base, proto, 0, 65535, audit);

			err = push_entry(ctx, dir, cls, IOF_POLICY_PLEN_PROTO, (uint8_t)proto, 0, &v);
		}
		if (!err && n_port)
			err = compile_ports(ctx, dir, cls, (uint8_t)proto, port_rules, n_port, audit);
	}
	free(port_rules);
	return err;
}
