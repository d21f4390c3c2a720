// SPDX-License-Identifier: Apache-2.0
/*
 * The reference evaluator (policy/eval.h): CONTRACT.md's semantics as a plain linear scan.
 * Deliberately simple; the compiler and the BPF programs are tested against it.
 */
#include "eval.h"
#include "prefix.h"

static bool group_has_member(const struct policy_document *doc, size_t group,
			     const struct policy_prefix *addr)
{
	for (size_t e = 0; e < doc->n_endpoints; e++) {
		const struct policy_endpoint *ep = &doc->endpoints[e];
		bool member = false;

		for (size_t g = 0; g < ep->n_groups && !member; g++)
			member = ep->group_index[g] == group;
		if (!member)
			continue;
		for (size_t a = 0; a < ep->n_addresses; a++)
			if (prefix_equal(&ep->addresses[a], addr))
				return true;
	}
	return false;
}

static bool remote_matches(const struct policy_document *doc, const struct policy_rule *rule,
			   const struct policy_prefix *remote)
{
	switch (rule->remote_kind) {
	case POLICY_REMOTE_ANY:
		return true;
	case POLICY_REMOTE_CIDR:
		return prefix_covers(&rule->cidr, remote);
	case POLICY_REMOTE_GROUP:
		return group_has_member(doc, rule->group_index, remote);
	}
	return false;
}

static bool port_matches(const struct policy_rule *rule, const struct policy_packet *pkt)
{
	if (rule->n_ports == 0)
		return true;
	if (!policy_proto_has_ports(pkt->proto))
		return false;
	for (size_t i = 0; i < rule->n_ports; i++)
		if (pkt->dport >= rule->ports[i].lo && pkt->dport <= rule->ports[i].hi)
			return true;
	return false;
}

bool policy_rule_matches(const struct policy_document *doc, const struct policy_rule *rule,
			 const struct policy_packet *pkt)
{
	return rule->direction == pkt->direction &&
	       (rule->protocol == POLICY_PROTO_ANY || rule->protocol == pkt->proto) &&
	       port_matches(rule, pkt) && remote_matches(doc, rule, &pkt->remote);
}

static bool endpoint_in_group(const struct policy_endpoint *ep, size_t group)
{
	for (size_t g = 0; g < ep->n_groups; g++)
		if (ep->group_index[g] == group)
			return true;
	return false;
}

/* True if candidate (priority p, action a) beats the best so far. */
static bool better(const struct policy_rule *candidate, const struct policy_rule *best)
{
	if (!best)
		return true;
	if (candidate->priority != best->priority)
		return candidate->priority < best->priority;
	return candidate->action == POLICY_DENY && best->action == POLICY_ALLOW;
}

void policy_evaluate(const struct policy_document *doc, const struct policy_endpoint *ep,
		     const struct policy_packet *pkt, struct policy_verdict *ret)
{
	const struct policy_rule *best = NULL;
	size_t best_group = 0, best_rule = 0;

	for (size_t g = 0; g < doc->n_groups; g++) {
		if (!endpoint_in_group(ep, g))
			continue;
		for (size_t r = 0; r < doc->groups[g].n_rules; r++) {
			const struct policy_rule *rule = &doc->groups[g].rules[r];

			if (policy_rule_matches(doc, rule, pkt) && better(rule, best)) {
				best = rule;
				best_group = g;
				best_rule = r;
			}
		}
	}
	ret->rule = best;
	ret->group_index = best_group;
	ret->rule_index = best_rule;
	ret->action = best ? best->action : policy_endpoint_default(doc, ep, pkt->direction);
	ret->audit = policy_endpoint_mode(doc, ep) == POLICY_AUDIT;
}
