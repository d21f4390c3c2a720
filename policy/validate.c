// SPDX-License-Identifier: Apache-2.0
/*
 * Cross-reference checks of a parsed policy document: unique names, defined groups, ports
 * only where the protocol has them, addresses owned by one endpoint, attachable endpoints.
 * Resolves group references to indexes for the evaluator and the compiler.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "prefix.h"
#include "suggest.h"

static const struct {
	const char *name;
	int number;
} protocols[] = {
	{"any", POLICY_PROTO_ANY}, {"tcp", POLICY_PROTO_TCP},	    {"udp", POLICY_PROTO_UDP},
	{"sctp", POLICY_PROTO_SCTP}, {"icmp", POLICY_PROTO_ICMP}, {"icmpv6", POLICY_PROTO_ICMPV6},
};

int policy_parse_protocol(const char *text, int *ret)
{
	char *end;
	long n;

	for (size_t i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++)
		if (strcmp(text, protocols[i].name) == 0) {
			*ret = protocols[i].number;
			return 0;
		}
	if (*text < '0' || *text > '9' || strlen(text) > 3)
		return -EINVAL;
	n = strtol(text, &end, 10);
	if (*end != '\0' || n > 255)
		return -EINVAL;
	*ret = (int)n;
	return 0;
}

const char *policy_protocol_name(int proto)
{
	for (size_t i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++)
		if (protocols[i].number == proto)
			return protocols[i].name;
	return NULL;
}

static int parse_port(const char *s, const char **end, unsigned *ret)
{
	unsigned long v = 0;
	size_t digits = 0;

	while (*s >= '0' && *s <= '9' && digits < 6) {
		v = v * 10 + (unsigned long)(*s++ - '0');
		digits++;
	}
	if (digits == 0 || digits == 6 || v < 1 || v > 65535)
		return -EINVAL;
	*end = s;
	*ret = (unsigned)v;
	return 0;
}

int policy_parse_port_range(const char *text, struct policy_port_range *ret)
{
	const char *p;
	unsigned lo, hi;

	if (parse_port(text, &p, &lo) < 0)
		return -EINVAL;
	hi = lo;
	if (*p == '-' && parse_port(p + 1, &p, &hi) < 0)
		return -EINVAL;
	if (*p != '\0')
		return -EINVAL;
	if (lo > hi)
		return -ERANGE;
	ret->lo = (uint16_t)lo;
	ret->hi = (uint16_t)hi;
	return 0;
}

/* Name -> index lookups with a sorted array (documents may hold thousands of groups). */
struct name_index {
	const char *name;
	size_t index;
};

static int cmp_name_index(const void *a, const void *b)
{
	const struct name_index *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : (x->index > y->index) - (x->index < y->index);
}

static int find_group(const struct name_index *idx, size_t n, const char *name, size_t *ret)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(idx[mid].name, name);

		if (c == 0) {
			/* the first of equal names */
			while (mid > 0 && strcmp(idx[mid - 1].name, name) == 0)
				mid--;
			*ret = idx[mid].index;
			return 0;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -ENOENT;
}

/* Reports duplicates in a sorted name index. */
static void report_duplicates(const struct name_index *idx, size_t n, const char *file,
			      struct policy_errors *errs, const char *what,
			      unsigned (*line_of)(const void *, size_t), const void *items)
{
	for (size_t i = 1, first = 0; i < n; i++) {
		char field[96];

		if (strcmp(idx[i].name, idx[first].name) != 0) {
			first = i;
			continue;
		}
		snprintf(field, sizeof(field), "%s[%zu].name", what, idx[i].index);
		policy_errors_add(errs, file, line_of(items, idx[i].index), field,
				  "duplicate name \"%s\" (first defined at line %u)", idx[i].name,
				  line_of(items, idx[first].index));
	}
}

static unsigned group_line(const void *items, size_t i)
{
	return ((const struct policy_group *)items)[i].line;
}

static unsigned endpoint_line(const void *items, size_t i)
{
	return ((const struct policy_endpoint *)items)[i].line;
}

/* "unknown security group", with the closest defined name when one is close. */
static void report_unknown_group(struct policy_errors *errs, const char *file, unsigned line,
				 const char *field, const char *name, const struct name_index *groups,
				 size_t n_groups)
{
	const char *names[256];
	size_t n = n_groups < 256 ? n_groups : 256; /* a hint, not a search of every group */
	const char *hint;

	for (size_t i = 0; i < n; i++)
		names[i] = groups[i].name;
	hint = n ? policy_closest(name, names, n) : NULL;
	if (hint)
		policy_errors_add(errs, file, line, field,
				  "unknown security group \"%s\"; did you mean %s?", name, hint);
	else
		policy_errors_add(errs, file, line, field, "unknown security group \"%s\"", name);
}

/* The field path of rule r of group g is formatted only for an error: most rules have none. */
static void validate_rule(struct policy_rule *rule, size_t g, size_t r, const char *file,
			  const struct name_index *groups, size_t n_groups,
			  struct policy_errors *errs)
{
	char field[96], sub[128];

	if (rule->n_ports && !policy_proto_has_ports(rule->protocol)) {
		const char *name = policy_protocol_name(rule->protocol);
		char num[16];

		snprintf(num, sizeof(num), "%d", rule->protocol);
		snprintf(field, sizeof(field), "securityGroups[%zu].rules[%zu]", g, r);
		snprintf(sub, sizeof(sub), "%s.ports", field);
		policy_errors_add(errs, file, rule->ports_line ? rule->ports_line : rule->line, sub,
				  "ports need protocol tcp, udp or sctp; protocol %s has no ports",
				  name ? name : num);
	}
	if (rule->group && rule->has_cidr) {
		snprintf(field, sizeof(field), "securityGroups[%zu].rules[%zu]", g, r);
		policy_errors_add(errs, file, rule->line, field,
				  "a rule names its remote by cidr or by group, not both");
	}
	if (rule->group && find_group(groups, n_groups, rule->group, &rule->group_index) < 0) {
		snprintf(field, sizeof(field), "securityGroups[%zu].rules[%zu]", g, r);
		snprintf(sub, sizeof(sub), "%s.group", field);
		report_unknown_group(errs, file, rule->group_line ? rule->group_line : rule->line,
				     sub, rule->group, groups, n_groups);
	}
}

/* One address of one endpoint, sortable by address and then by document order. */
struct address_owner {
	const struct policy_prefix *addr;
	size_t endpoint, index;
	size_t owner; /* of a repeat: the endpoint that lists the address first */
};

static int cmp_address_owner(const void *a, const void *b)
{
	const struct address_owner *x = a, *y = b;
	int c = (x->addr->family > y->addr->family) - (x->addr->family < y->addr->family);

	if (!c)
		c = memcmp(x->addr->addr, y->addr->addr, sizeof(x->addr->addr));
	if (!c)
		c = (x->endpoint > y->endpoint) - (x->endpoint < y->endpoint);
	if (!c)
		c = (x->index > y->index) - (x->index < y->index);
	return c;
}

static int cmp_owner_position(const void *a, const void *b)
{
	const struct address_owner *x = a, *y = b;

	if (x->endpoint != y->endpoint)
		return (x->endpoint > y->endpoint) - (x->endpoint < y->endpoint);
	return (x->index > y->index) - (x->index < y->index);
}

/*
 * Every address belongs to one endpoint: an address is an identity. Each repeat is reported
 * at its own place, naming the endpoint that lists it first; reports are in document order.
 */
static int validate_address_owners(struct policy_document *doc, const char *file,
				   struct policy_errors *errs)
{
	struct address_owner *all, *dups;
	size_t n = 0, k = 0, n_dups = 0;

	for (size_t e = 0; e < doc->n_endpoints; e++)
		n += doc->endpoints[e].n_addresses;
	all = calloc(n ? n : 1, sizeof(*all));
	dups = calloc(n ? n : 1, sizeof(*dups));
	if (!all || !dups) {
		free(all);
		free(dups);
		return -ENOMEM;
	}
	for (size_t e = 0; e < doc->n_endpoints; e++)
		for (size_t a = 0; a < doc->endpoints[e].n_addresses; a++)
			all[k++] = (struct address_owner){&doc->endpoints[e].addresses[a], e, a};
	qsort(all, n, sizeof(*all), cmp_address_owner);
	for (size_t i = 1, first = 0; i < n; i++) {
		if (!prefix_equal(all[first].addr, all[i].addr)) {
			first = i;
			continue;
		}
		dups[n_dups] = all[i];
		dups[n_dups++].owner = all[first].endpoint;
	}
	qsort(dups, n_dups, sizeof(*dups), cmp_owner_position);
	for (size_t i = 0; i < n_dups; i++) {
		const struct policy_endpoint *owner = &doc->endpoints[dups[i].owner];
		const struct policy_endpoint *ep = &doc->endpoints[dups[i].endpoint];
		char field[96], text[PREFIX_STR_MAX];

		snprintf(field, sizeof(field), "endpoints[%zu].addresses[%zu]", dups[i].endpoint,
			 dups[i].index);
		prefix_format(dups[i].addr, true, text);
		policy_errors_add(errs, file, ep->line, field,
				  "address %s is already an address of endpoint \"%s\"", text,
				  owner->name ? owner->name : "");
	}
	free(all);
	free(dups);
	return 0;
}

static bool valid_ifname(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len >= IFNAMSIZ || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (const char *c = name; *c; c++)
		if (*c == '/' || *c == ':' || *c <= ' ' || *c == 0x7f)
			return false;
	return true;
}

static int validate_endpoint(struct policy_endpoint *ep, size_t e, const char *file,
			     const struct name_index *groups, size_t n_groups,
			     struct policy_errors *errs)
{
	char field[96];

	snprintf(field, sizeof(field), "endpoints[%zu]", e);
	if (!ep->name)
		policy_errors_add(errs, file, ep->line, field, "name is required");
	if (!ep->node)
		policy_errors_add(errs, file, ep->line, field, "node is required");
	if (!ep->interface && !ep->cgroup)
		policy_errors_add(errs, file, ep->line, field,
				  "an endpoint needs an interface, a cgroup, or both");
	if (ep->interface && !valid_ifname(ep->interface)) {
		snprintf(field, sizeof(field), "endpoints[%zu].interface", e);
		policy_errors_add(errs, file, ep->line, field,
				  "interface \"%s\" is not a valid interface name (1..15 "
				  "characters, no '/', ':' or spaces)",
				  ep->interface);
	}
	if (ep->cgroup && ep->cgroup[0] != '/') {
		snprintf(field, sizeof(field), "endpoints[%zu].cgroup", e);
		policy_errors_add(errs, file, ep->line, field,
				  "cgroup \"%s\" must be an absolute path", ep->cgroup);
	}
	/* validating twice must not leak the first resolution */
	free(ep->group_index);
	ep->group_index = calloc(ep->n_groups ? ep->n_groups : 1, sizeof(*ep->group_index));
	if (!ep->group_index)
		return -ENOMEM;
	for (size_t g = 0; g < ep->n_groups; g++) {
		if (find_group(groups, n_groups, ep->groups[g], &ep->group_index[g]) == 0)
			continue;
		snprintf(field, sizeof(field), "endpoints[%zu].groups[%zu]", e, g);
		report_unknown_group(errs, file, ep->groups_line ? ep->groups_line : ep->line, field,
				     ep->groups[g], groups, n_groups);
	}
	return 0;
}

static void validate_prefilter(const struct policy_prefilter *pf, size_t p, const char *file,
			       struct policy_errors *errs)
{
	char field[96];

	snprintf(field, sizeof(field), "prefilter[%zu]", p);
	if (!pf->node)
		policy_errors_add(errs, file, pf->line, field, "node is required");
	snprintf(field, sizeof(field), "prefilter[%zu].interfaces", p);
	if (!pf->n_interfaces)
		policy_errors_add(errs, file, pf->line, field,
				  "interfaces must name at least one interface");
	for (size_t i = 0; i < pf->n_interfaces; i++) {
		snprintf(field, sizeof(field), "prefilter[%zu].interfaces[%zu]", p, i);
		if (!valid_ifname(pf->interfaces[i]))
			policy_errors_add(errs, file, pf->line, field,
					  "interface \"%s\" is not a valid interface name",
					  pf->interfaces[i]);
	}
}

static struct name_index *index_names(size_t n, const char *(*name_of)(const void *, size_t),
				      const void *items, size_t *ret_n)
{
	struct name_index *idx = calloc(n ? n : 1, sizeof(*idx));
	size_t k = 0;

	if (!idx)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (name_of(items, i))
			idx[k++] = (struct name_index){name_of(items, i), i};
	qsort(idx, k, sizeof(*idx), cmp_name_index);
	*ret_n = k;
	return idx;
}

static const char *group_name(const void *items, size_t i)
{
	return ((const struct policy_group *)items)[i].name;
}

static const char *rule_name(const void *items, size_t i)
{
	return ((const struct policy_rule *)items)[i].name;
}

static unsigned rule_line(const void *items, size_t i)
{
	return ((const struct policy_rule *)items)[i].line;
}

/* Rule names label counters, flows and trace: unique within their group. */
static int validate_rule_names(const struct policy_group *grp, size_t g, const char *file,
			       struct policy_errors *errs)
{
	struct name_index *idx;
	size_t n = 0;
	char what[64];

	for (size_t r = 0; r < grp->n_rules && !n; r++)
		n = grp->rules[r].name != NULL;
	if (!n)
		return 0;
	idx = index_names(grp->n_rules, rule_name, grp->rules, &n);
	if (!idx)
		return -ENOMEM;
	snprintf(what, sizeof(what), "securityGroups[%zu].rules", g);
	report_duplicates(idx, n, file, errs, what, rule_line, grp->rules);
	free(idx);
	return 0;
}

/* One group's own checks and its rules' references (resolves rule.group_index). */
static int validate_group(struct policy_document *doc, size_t g, const char *file,
			  const struct name_index *gidx, size_t n_gidx, struct policy_errors *errs)
{
	struct policy_group *grp = &doc->groups[g];
	char field[96];

	if (!grp->name) {
		snprintf(field, sizeof(field), "securityGroups[%zu]", g);
		policy_errors_add(errs, file, grp->line, field, "name is required");
	}
	for (size_t r = 0; r < grp->n_rules; r++)
		validate_rule(&grp->rules[r], g, r, file, gidx, n_gidx, errs);
	return validate_rule_names(grp, g, file, errs);
}

int policy_validate_groups(struct policy_document *doc, const size_t *which, size_t n,
			   const char *file, struct policy_errors *errs)
{
	size_t before = errs->n + errs->dropped, n_gidx = 0;
	struct name_index *gidx = index_names(doc->n_groups, group_name, doc->groups, &n_gidx);
	int r = 0;

	if (!gidx)
		return -ENOMEM;
	report_duplicates(gidx, n_gidx, file, errs, "securityGroups", group_line, doc->groups);
	for (size_t i = 0; !r && i < n; i++)
		r = validate_group(doc, which[i], file, gidx, n_gidx, errs);
	free(gidx);
	if (r)
		return r;
	return errs->n + errs->dropped > before ? -EINVAL : 0;
}

static const char *endpoint_name(const void *items, size_t i)
{
	return ((const struct policy_endpoint *)items)[i].name;
}

/* The names of a document's groups and endpoints, sorted for lookups and duplicate reports. */
struct document_index {
	struct name_index *groups, *endpoints;
	size_t n_groups, n_endpoints;
};

static void document_index_free(struct document_index *ix)
{
	free(ix->groups);
	free(ix->endpoints);
}

/*
 * What every validation of a document starts with: the error of an empty document, then the
 * name indexes (they report nothing, so the errors keep their order).
 */
static int document_index(const struct policy_document *doc, const char *file,
			  struct policy_errors *errs, struct document_index *ret)
{
	if (!doc->n_groups && !doc->n_endpoints && !doc->n_prefilters)
		policy_errors_add(errs, file, 1, "document",
				  "empty document: no securityGroups, endpoints or prefilter");
	*ret = (struct document_index){0};
	ret->groups = index_names(doc->n_groups, group_name, doc->groups, &ret->n_groups);
	ret->endpoints =
	    index_names(doc->n_endpoints, endpoint_name, doc->endpoints, &ret->n_endpoints);
	if (!ret->groups || !ret->endpoints) {
		document_index_free(ret);
		return -ENOMEM;
	}
	return 0;
}

int policy_validate_endpoints(struct policy_document *doc, const char *file,
			      struct policy_errors *errs)
{
	size_t before = errs->n + errs->dropped;
	struct document_index ix;
	int r = document_index(doc, file, errs, &ix);

	if (r)
		return r;
	report_duplicates(ix.endpoints, ix.n_endpoints, file, errs, "endpoints", endpoint_line,
			  doc->endpoints);
	for (size_t e = 0; !r && e < doc->n_endpoints; e++)
		r = validate_endpoint(&doc->endpoints[e], e, file, ix.groups, ix.n_groups, errs);
	if (!r)
		r = validate_address_owners(doc, file, errs);
	document_index_free(&ix);
	if (r)
		return r;
	return errs->n + errs->dropped > before ? -EINVAL : 0;
}

/* validate_endpoint()'s checks without the errors; resolves the groups by name. */
static bool endpoint_is_valid(const struct policy_document *doc, struct policy_endpoint *ep)
{
	if (!ep->name || !ep->node || (!ep->interface && !ep->cgroup) ||
	    (ep->interface && !valid_ifname(ep->interface)) || (ep->cgroup && ep->cgroup[0] != '/'))
		return false;
	free(ep->group_index);
	ep->group_index = calloc(ep->n_groups ? ep->n_groups : 1, sizeof(*ep->group_index));
	if (!ep->group_index)
		return false;
	for (size_t g = 0; g < ep->n_groups; g++) {
		size_t i = 0;

		while (i < doc->n_groups &&
		       (!doc->groups[i].name || strcmp(doc->groups[i].name, ep->groups[g])))
			i++;
		if (i == doc->n_groups)
			return false;
		ep->group_index[g] = i;
	}
	return true;
}

/* No address of endpoint e is listed twice, by e or by any other endpoint. */
static bool addresses_owned_once(const struct policy_document *doc, size_t e)
{
	const struct policy_endpoint *ep = &doc->endpoints[e];

	for (size_t a = 0; a < ep->n_addresses; a++)
		for (size_t o = 0; o < doc->n_endpoints; o++) {
			const struct policy_endpoint *other = &doc->endpoints[o];

			for (size_t b = 0; b < other->n_addresses; b++)
				if ((o != e || b != a) &&
				    prefix_equal(&ep->addresses[a], &other->addresses[b]))
					return false;
		}
	return true;
}

int policy_validate_endpoints_changed(struct policy_document *doc, const bool *changed,
				      const char *file, struct policy_errors *errs)
{
	/*
	 * The unchanged endpoints passed every check in the valid document, with the same
	 * groups; names stay unique (a put replaces the endpoint of its name). What is left: the
	 * changed endpoints' own checks and their addresses against all others.
	 */
	for (size_t e = 0; e < doc->n_endpoints; e++) {
		if (!changed[e])
			continue;
		if (!endpoint_is_valid(doc, &doc->endpoints[e]) || !addresses_owned_once(doc, e))
			return policy_validate_endpoints(doc, file, errs);
	}
	return 0;
}

int policy_validate(struct policy_document *doc, const char *file, struct policy_errors *errs)
{
	size_t before = errs->n + errs->dropped;
	struct document_index ix;
	bool oom = false;

	if (document_index(doc, file, errs, &ix))
		return -ENOMEM;
	report_duplicates(ix.groups, ix.n_groups, file, errs, "securityGroups", group_line,
			  doc->groups);
	report_duplicates(ix.endpoints, ix.n_endpoints, file, errs, "endpoints", endpoint_line,
			  doc->endpoints);
	for (size_t g = 0; g < doc->n_groups; g++)
		if (validate_group(doc, g, file, ix.groups, ix.n_groups, errs) < 0)
			oom = true;
	for (size_t e = 0; e < doc->n_endpoints; e++)
		if (validate_endpoint(&doc->endpoints[e], e, file, ix.groups, ix.n_groups, errs) <
		    0)
			oom = true;
	if (!oom && validate_address_owners(doc, file, errs) < 0)
		oom = true;
	for (size_t p = 0; p < doc->n_prefilters; p++)
		validate_prefilter(&doc->prefilters[p], p, file, errs);
	document_index_free(&ix);
	if (oom)
		return -ENOMEM;
	return errs->n + errs->dropped > before ? -EINVAL : 0;
}
