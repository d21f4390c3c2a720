// SPDX-License-Identifier: Apache-2.0
/*
 * Tracing a flow with the reference evaluator (policy/trace.h): resolve both ends, evaluate
 * each endpoint's check, and list the rules that matched with why each lost to the decider.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prefix.h"
#include "trace.h"

static long endpoint_by_name(const struct policy_document *doc, const char *name)
{
	for (size_t e = 0; e < doc->n_endpoints; e++)
		if (!strcmp(doc->endpoints[e].name, name))
			return (long)e;
	return -1;
}

static long endpoint_by_address(const struct policy_document *doc, const struct policy_prefix *a)
{
	for (size_t e = 0; e < doc->n_endpoints; e++)
		for (size_t i = 0; i < doc->endpoints[e].n_addresses; i++)
			if (prefix_equal(&doc->endpoints[e].addresses[i], a))
				return (long)e;
	return -1;
}

/* The endpoint's first address of family (0: any), or NULL. */
static const struct policy_prefix *address_of(const struct policy_endpoint *ep, int family)
{
	for (size_t i = 0; i < ep->n_addresses; i++)
		if (!family || ep->addresses[i].family == family)
			return &ep->addresses[i];
	return NULL;
}

struct end {
	const char *text;
	long endpoint;
	bool is_address;
	struct policy_prefix addr;
};

static int resolve(const struct policy_document *doc, struct end *end, char *err, size_t len)
{
	if (prefix_parse(end->text, &end->addr) == 0 && prefix_is_host(&end->addr)) {
		end->is_address = true;
		end->endpoint = endpoint_by_address(doc, &end->addr);
		return 0;
	}
	end->endpoint = endpoint_by_name(doc, end->text);
	if (end->endpoint < 0) {
		snprintf(err, len, "\"%s\" is neither a host address nor an endpoint of the document",
			 end->text);
		return -EINVAL;
	}
	return 0;
}

/* Gives a named end the address of the other end's family (IPv4 first when both are names). */
static int pick_addresses(const struct policy_document *doc, struct end *a, struct end *b,
			  char *err, size_t len)
{
	int family = a->is_address ? a->addr.family : b->is_address ? b->addr.family : 0;
	struct end *ends[2] = {a, b};

	if (!family) {
		const struct policy_endpoint *ea = &doc->endpoints[a->endpoint];
		const struct policy_endpoint *eb = &doc->endpoints[b->endpoint];

		family = address_of(ea, 4) && address_of(eb, 4) ? 4 : 6;
	}
	for (int i = 0; i < 2; i++) {
		const struct policy_prefix *p;

		if (ends[i]->is_address) {
			if (ends[i]->addr.family != family) {
				snprintf(err, len, "%s and the other end are of different families",
					 ends[i]->text);
				return -EINVAL;
			}
			continue;
		}
		p = address_of(&doc->endpoints[ends[i]->endpoint], family);
		if (!p) {
			snprintf(err, len, "endpoint %s has no IPv%d address", ends[i]->text, family);
			return -EINVAL;
		}
		ends[i]->addr = *p;
	}
	return 0;
}

static bool endpoint_in_group(const struct policy_endpoint *ep, size_t group)
{
	for (size_t g = 0; g < ep->n_groups; g++)
		if (ep->group_index[g] == group)
			return true;
	return false;
}

static void why_lost(const struct policy_document *doc, const struct policy_verdict *v,
		     const struct policy_rule *rule, char *buf, size_t len)
{
	char winner[96];

	policy_rule_label(doc, v->group_index, v->rule_index, winner, sizeof(winner));
	if (rule->priority != v->rule->priority)
		snprintf(buf, len, "priority %u is above %s's %u (the lowest wins)", rule->priority,
			 winner, v->rule->priority);
	else if (rule->action != v->rule->action)
		snprintf(buf, len, "deny (%s) beats allow at equal priority %u", winner,
			 rule->priority);
	else
		snprintf(buf, len, "same priority and action as %s, which comes first", winner);
}

static int trace_side(const struct policy_document *doc, size_t endpoint,
		      enum policy_direction dir, const struct policy_prefix *remote, uint8_t proto,
		      uint16_t dport, struct policy_trace_side *side)
{
	const struct policy_endpoint *ep = &doc->endpoints[endpoint];
	size_t cap = 0;

	side->endpoint_index = endpoint;
	side->pkt = (struct policy_packet){
	    .direction = dir, .remote = *remote, .proto = proto, .dport = dport};
	policy_evaluate(doc, ep, &side->pkt, &side->verdict);
	for (size_t g = 0; g < doc->n_groups; g++) {
		if (!endpoint_in_group(ep, g))
			continue;
		for (size_t r = 0; r < doc->groups[g].n_rules; r++) {
			const struct policy_rule *rule = &doc->groups[g].rules[r];
			struct policy_trace_match *m;

			if (!policy_rule_matches(doc, rule, &side->pkt))
				continue;
			if (side->n_matches == cap) {
				size_t ncap = cap ? cap * 2 : 8;
				void *p = realloc(side->matches, ncap * sizeof(*m));

				if (!p)
					return -ENOMEM;
				side->matches = p;
				cap = ncap;
			}
			m = &side->matches[side->n_matches++];
			memset(m, 0, sizeof(*m));
			m->group_index = g;
			m->rule_index = r;
			m->decides = rule == side->verdict.rule;
			if (!m->decides)
				why_lost(doc, &side->verdict, rule, m->why_lost, sizeof(m->why_lost));
		}
	}
	return 0;
}

int policy_trace(const struct policy_document *doc, const char *from, const char *to,
		 uint8_t proto, uint16_t dport, struct policy_trace *ret, char *err, size_t len)
{
	struct end a = {.text = from}, b = {.text = to};
	int r;

	memset(ret, 0, sizeof(*ret));
	if (!policy_proto_has_ports(proto))
		dport = 0;
	r = resolve(doc, &a, err, len);
	if (!r)
		r = resolve(doc, &b, err, len);
	if (!r)
		r = pick_addresses(doc, &a, &b, err, len);
	if (r)
		return r;
	if (a.endpoint < 0 && b.endpoint < 0) {
		snprintf(err, len, "neither %s nor %s is an endpoint's address: no endpoint judges "
			 "this flow", from, to);
		return -EINVAL;
	}
	ret->from = a.addr;
	ret->to = b.addr;
	ret->from_endpoint = a.endpoint;
	ret->to_endpoint = b.endpoint;
	if (a.endpoint >= 0)
		r = trace_side(doc, (size_t)a.endpoint, POLICY_EGRESS, &b.addr, proto, dport,
			       &ret->sides[ret->n_sides++]);
	if (!r && b.endpoint >= 0)
		r = trace_side(doc, (size_t)b.endpoint, POLICY_INGRESS, &a.addr, proto, dport,
			       &ret->sides[ret->n_sides++]);
	if (r)
		policy_trace_free(ret);
	return r;
}

void policy_trace_free(struct policy_trace *t)
{
	for (size_t i = 0; i < t->n_sides; i++)
		free(t->sides[i].matches);
	memset(t, 0, sizeof(*t));
}
