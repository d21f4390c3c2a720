// SPDX-License-Identifier: Apache-2.0
/*
 * Lifetime and small queries of the policy model (policy/model.h).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "prefix.h"

static void free_strings(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* The prefilters of documents derived from one another. */
struct policy_shared {
	atomic_long refs;
	struct policy_prefilter *prefilters;
	size_t n_prefilters;
};

/* One group's name and rules, shared: freed by the last document that holds it. */
struct policy_group_hold {
	atomic_long refs;
	char *name;
	struct policy_rule *rules;
	size_t n_rules;
};

static void free_rules(struct policy_rule *rules, size_t n)
{
	for (size_t r = 0; r < n; r++) {
		free(rules[r].ports);
		free(rules[r].group);
		free(rules[r].name);
	}
	free(rules);
}

void policy_group_clear(struct policy_group *grp)
{
	struct policy_group_hold *h = grp->hold;

	if (!h) {
		free_rules(grp->rules, grp->n_rules);
		free(grp->name);
	} else if (atomic_fetch_sub(&h->refs, 1) == 1) {
		free_rules(h->rules, h->n_rules);
		free(h->name);
		free(h);
	}
	memset(grp, 0, sizeof(*grp));
}

static void free_groups(struct policy_group *groups, size_t n)
{
	for (size_t g = 0; g < n; g++)
		policy_group_clear(&groups[g]);
	free(groups);
}

static void free_prefilters(struct policy_prefilter *prefilters, size_t n)
{
	for (size_t p = 0; p < n; p++) {
		free(prefilters[p].node);
		free_strings(prefilters[p].interfaces, prefilters[p].n_interfaces);
		free(prefilters[p].deny);
	}
	free(prefilters);
}

static void shared_unref(struct policy_shared *sh)
{
	if (atomic_fetch_sub(&sh->refs, 1) != 1)
		return;
	free_prefilters(sh->prefilters, sh->n_prefilters);
	free(sh);
}

/* Every group of doc under a hold (only the hold field of doc's groups is written). */
static int hold_groups(struct policy_document *doc)
{
	for (size_t g = 0; g < doc->n_groups; g++) {
		struct policy_group *grp = &doc->groups[g];
		struct policy_group_hold *h;

		if (grp->hold)
			continue;
		h = calloc(1, sizeof(*h));
		if (!h)
			return -ENOMEM;
		atomic_init(&h->refs, 1);
		h->name = grp->name;
		h->rules = grp->rules;
		h->n_rules = grp->n_rules;
		grp->hold = h;
	}
	return 0;
}

int policy_document_share(struct policy_document *doc, struct policy_document *derived)
{
	struct policy_group *groups = malloc((doc->n_groups ? doc->n_groups : 1) * sizeof(*groups));

	if (!groups || hold_groups(doc)) {
		free(groups);
		return -ENOMEM;
	}
	if (!doc->shared) {
		doc->shared = calloc(1, sizeof(*doc->shared));
		if (!doc->shared) {
			free(groups);
			return -ENOMEM;
		}
		atomic_init(&doc->shared->refs, 1);
		doc->shared->prefilters = doc->prefilters;
		doc->shared->n_prefilters = doc->n_prefilters;
	}
	for (size_t g = 0; g < doc->n_groups; g++) {
		groups[g] = doc->groups[g];
		atomic_fetch_add(&groups[g].hold->refs, 1);
	}
	atomic_fetch_add(&doc->shared->refs, 1);
	derived->shared = doc->shared;
	derived->groups = groups;
	derived->n_groups = doc->n_groups;
	derived->prefilters = doc->prefilters;
	derived->n_prefilters = doc->n_prefilters;
	return 0;
}

void policy_endpoint_clear(struct policy_endpoint *ep)
{
	free(ep->name);
	free(ep->node);
	free(ep->interface);
	free(ep->cgroup);
	free(ep->addresses);
	free_strings(ep->groups, ep->n_groups);
	free(ep->group_index);
	memset(ep, 0, sizeof(*ep));
}

void policy_document_free(struct policy_document *doc)
{
	if (!doc)
		return;
	free_groups(doc->groups, doc->n_groups);
	if (doc->shared)
		shared_unref(doc->shared);
	else
		free_prefilters(doc->prefilters, doc->n_prefilters);
	for (size_t e = 0; e < doc->n_endpoints; e++)
		policy_endpoint_clear(&doc->endpoints[e]);
	free(doc->endpoints);
	free(doc);
}

enum policy_action policy_endpoint_default(const struct policy_document *doc,
					   const struct policy_endpoint *ep,
					   enum policy_direction dir)
{
	int override = dir == POLICY_INGRESS ? ep->ingress : ep->egress;

	if (override != POLICY_INHERIT)
		return (enum policy_action)override;
	return dir == POLICY_INGRESS ? doc->defaults.ingress : doc->defaults.egress;
}

enum policy_mode policy_endpoint_mode(const struct policy_document *doc,
				      const struct policy_endpoint *ep)
{
	return ep->mode != POLICY_INHERIT ? (enum policy_mode)ep->mode : doc->defaults.mode;
}

bool policy_prefix_contains(const struct policy_prefix *p, const struct policy_prefix *a)
{
	return prefix_covers(p, a);
}

uint64_t policy_counter_identity(const char *kind, const char *label)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 */
	const char *parts[2] = {kind, label};

	for (int i = 0; i < 2; i++) {
		/* each part with its terminating NUL: ("ab", "c") and ("a", "bc") differ */
		for (const unsigned char *c = (const unsigned char *)parts[i];; c++) {
			h = (h ^ *c) * 0x100000001b3ull;
			if (!*c)
				break;
		}
	}
	return h ? h : 1;
}

void policy_rule_label(const struct policy_document *doc, size_t group, size_t rule, char *buf,
		       size_t len)
{
	const struct policy_group *g = &doc->groups[group];

	if (g->rules[rule].name)
		snprintf(buf, len, "%s/%s", g->name, g->rules[rule].name);
	else
		snprintf(buf, len, "%s[%zu]", g->name, rule);
}
