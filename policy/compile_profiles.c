// SPDX-License-Identifier: Apache-2.0
/*
 * The profiles of a node's endpoints: endpoints with the same groups, defaults and mode share
 * a profile (its entries), so the compiler sorts their keys and compiles each run once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compile_internal.h"

static int profile_cmp(const void *a, const void *b)
{
	const struct profile_key *x = a, *y = b;

	if (x->ingress != y->ingress)
		return x->ingress - y->ingress;
	if (x->egress != y->egress)
		return x->egress - y->egress;
	if (x->mode != y->mode)
		return x->mode - y->mode;
	if (x->n_groups != y->n_groups)
		return x->n_groups < y->n_groups ? -1 : 1;
	for (size_t i = 0; i < x->n_groups; i++)
		if (x->groups[i] != y->groups[i])
			return x->groups[i] < y->groups[i] ? -1 : 1;
	return (x->local > y->local) - (x->local < y->local);
}

bool compile_same_profile(const struct profile_key *x, const struct profile_key *y)
{
	return x->ingress == y->ingress && x->egress == y->egress && x->mode == y->mode &&
	       x->n_groups == y->n_groups &&
	       !memcmp(x->groups, y->groups, x->n_groups * sizeof(*x->groups));
}

static int size_cmp(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return (x > y) - (x < y);
}

int compile_profile_keys(struct compile_ctx *ctx, struct profile_key **ret)
{
	const struct policy_document *doc = ctx->doc;
	size_t n = ctx->img->n_endpoints;
	struct profile_key *keys = calloc(n ? n : 1, sizeof(*keys));

	if (!keys)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct policy_endpoint *ep =
		    &doc->endpoints[ctx->img->endpoints[i].doc_index];
		struct profile_key *k = &keys[i];

		k->local = i;
		k->ingress = policy_endpoint_default(doc, ep, POLICY_INGRESS);
		k->egress = policy_endpoint_default(doc, ep, POLICY_EGRESS);
		k->mode = policy_endpoint_mode(doc, ep);
		k->groups = malloc((ep->n_groups ? ep->n_groups : 1) * sizeof(size_t));
		if (!k->groups) {
			*ret = keys;
			return -ENOMEM;
		}
		memcpy(k->groups, ep->group_index, ep->n_groups * sizeof(size_t));
		qsort(k->groups, ep->n_groups, sizeof(size_t), size_cmp);
		for (size_t g = 0; g < ep->n_groups; g++)
			if (k->n_groups == 0 || k->groups[k->n_groups - 1] != k->groups[g])
				k->groups[k->n_groups++] = k->groups[g];
	}
	qsort(keys, n, sizeof(*keys), profile_cmp);
	*ret = keys;
	return 0;
}

void compile_profile_keys_free(struct profile_key *keys, size_t n)
{
	for (size_t i = 0; keys && i < n; i++)
		free(keys[i].groups);
	free(keys);
}

/* The runs of keys (sorted) that share a profile: their first keys, and the identities. */
int compile_distinct_profiles(struct compile_ctx *ctx, const struct profile_key *keys, size_t n_ep,
			      size_t **ret_first, uint64_t **ret_identity, size_t *ret_n)
{
	size_t *first = malloc((n_ep + 1) * sizeof(*first)), n = 0;
	uint64_t *identity = malloc((n_ep + 1) * sizeof(*identity));

	*ret_first = first;
	*ret_identity = identity;
	if (!first || !identity)
		return -ENOMEM;
	for (size_t p = 0; p < n_ep; p++) {
		if (p && compile_same_profile(&keys[p - 1], &keys[p]))
			continue;
		identity[n] =
		    compile_profile_identity(ctx->doc, keys[p].groups, keys[p].n_groups,
					     keys[p].ingress, keys[p].egress, keys[p].mode);
		first[n++] = p;
	}
	first[n] = n_ep;
	*ret_n = n;
	return 0;
}
