// SPDX-License-Identifier: Apache-2.0
/*
 * Lifetime and small queries of the policy model (policy/model.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include "model.h"
#include "prefix.h"

static void free_strings(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void policy_document_free(struct policy_document *doc)
{
	if (!doc)
		return;
	for (size_t g = 0; g < doc->n_groups; g++) {
		struct policy_group *grp = &doc->groups[g];

		for (size_t r = 0; r < grp->n_rules; r++) {
			free(grp->rules[r].ports);
			free(grp->rules[r].group);
			free(grp->rules[r].name);
		}
		free(grp->rules);
		free(grp->name);
	}
	free(doc->groups);
	for (size_t e = 0; e < doc->n_endpoints; e++) {
		struct policy_endpoint *ep = &doc->endpoints[e];

		free(ep->name);
		free(ep->node);
		free(ep->interface);
		free(ep->cgroup);
		free(ep->addresses);
		free_strings(ep->groups, ep->n_groups);
		free(ep->group_index);
	}
	free(doc->endpoints);
	for (size_t p = 0; p < doc->n_prefilters; p++) {
		struct policy_prefilter *pf = &doc->prefilters[p];

		free(pf->node);
		free_strings(pf->interfaces, pf->n_interfaces);
		free(pf->deny);
	}
	free(doc->prefilters);
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
