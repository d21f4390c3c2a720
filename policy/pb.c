// SPDX-License-Identifier: Apache-2.0
/*
 * Conversion between the policy model and iofence.v1.PolicyDocument. Messages built here are
 * malloc'd field by field so protobuf-c's free_unpacked() with the default allocator frees
 * them; documents read from messages get the parser's field checks and policy_validate().
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "field_path.h"
#include "parse.h"
#include "pb.h"
#include "prefix.h"

#define FIELD_LEN FIELD_PATH_LEN

/* ---- model -> message ---- */

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

static Iofence__V1__Action action_to_pb(int action)
{
	switch (action) {
	case POLICY_ALLOW:
		return IOFENCE__V1__ACTION__ACTION_ALLOW;
	case POLICY_DENY:
		return IOFENCE__V1__ACTION__ACTION_DENY;
	default:
		return IOFENCE__V1__ACTION__ACTION_UNSPECIFIED;
	}
}

static Iofence__V1__Mode mode_to_pb(int mode)
{
	switch (mode) {
	case POLICY_ENFORCE:
		return IOFENCE__V1__MODE__MODE_ENFORCE;
	case POLICY_AUDIT:
		return IOFENCE__V1__MODE__MODE_AUDIT;
	default:
		return IOFENCE__V1__MODE__MODE_UNSPECIFIED;
	}
}

static char *prefix_to_string(const struct policy_prefix *p, bool host)
{
	char buf[PREFIX_STR_MAX];

	prefix_format(p, host, buf);
	return strdup(buf);
}

/* Copies n strings into *ret (count in *ret_n as they are made, for a partial free). */
static int strings_to_pb(char *const *v, size_t n, char ***ret, size_t *ret_n)
{
	*ret = calloc(n ? n : 1, sizeof(**ret));
	if (!*ret)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		(*ret)[i] = dup_or_empty(v[i]);
		if (!(*ret)[i])
			return -ENOMEM;
		*ret_n = i + 1;
	}
	return 0;
}

static int prefixes_to_pb(const struct policy_prefix *v, size_t n, bool host, char ***ret,
			  size_t *ret_n)
{
	*ret = calloc(n ? n : 1, sizeof(**ret));
	if (!*ret)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		(*ret)[i] = prefix_to_string(&v[i], host);
		if (!(*ret)[i])
			return -ENOMEM;
		*ret_n = i + 1;
	}
	return 0;
}

static int rule_to_pb(const struct policy_rule *rule, Iofence__V1__Rule **ret)
{
	Iofence__V1__Rule *m = malloc(sizeof(*m));

	*ret = m;
	if (!m)
		return -ENOMEM;
	iofence__v1__rule__init(m);
	m->cidr = m->group = m->name = NULL;
	m->direction = rule->direction == POLICY_EGRESS ? IOFENCE__V1__DIRECTION__DIRECTION_EGRESS
							: IOFENCE__V1__DIRECTION__DIRECTION_INGRESS;
	m->action = action_to_pb(rule->action);
	m->priority = rule->priority;
	m->has_priority = true;
	m->protocol = rule->protocol;
	m->has_protocol = rule->protocol != POLICY_PROTO_ANY;
	m->line = rule->line;
	m->cidr = rule->has_cidr ? prefix_to_string(&rule->cidr, false) : strdup("");
	m->group = dup_or_empty(rule->group);
	m->name = dup_or_empty(rule->name);
	if (!m->cidr || !m->group || !m->name)
		return -ENOMEM;
	m->ports = calloc(rule->n_ports ? rule->n_ports : 1, sizeof(*m->ports));
	if (!m->ports)
		return -ENOMEM;
	for (size_t i = 0; i < rule->n_ports; i++) {
		Iofence__V1__PortRange *p = malloc(sizeof(*p));

		if (!p)
			return -ENOMEM;
		iofence__v1__port_range__init(p);
		p->lo = rule->ports[i].lo;
		p->hi = rule->ports[i].hi;
		m->ports[i] = p;
		m->n_ports = i + 1;
	}
	return 0;
}

static int group_to_pb(const struct policy_group *grp, Iofence__V1__SecurityGroup **ret)
{
	Iofence__V1__SecurityGroup *m = malloc(sizeof(*m));
	int r;

	*ret = m;
	if (!m)
		return -ENOMEM;
	iofence__v1__security_group__init(m);
	m->name = dup_or_empty(grp->name);
	m->rules = calloc(grp->n_rules ? grp->n_rules : 1, sizeof(*m->rules));
	if (!m->name || !m->rules)
		return -ENOMEM;
	for (size_t i = 0; i < grp->n_rules; i++) {
		r = rule_to_pb(&grp->rules[i], &m->rules[i]);
		if (m->rules[i])
			m->n_rules = i + 1;
		if (r < 0)
			return r;
	}
	return 0;
}

static int endpoint_to_pb(const struct policy_endpoint *ep, Iofence__V1__Endpoint **ret)
{
	Iofence__V1__Endpoint *m = malloc(sizeof(*m));

	*ret = m;
	if (!m)
		return -ENOMEM;
	iofence__v1__endpoint__init(m);
	m->name = dup_or_empty(ep->name);
	m->node = dup_or_empty(ep->node);
	m->interface = dup_or_empty(ep->interface);
	m->cgroup = dup_or_empty(ep->cgroup);
	m->ingress = action_to_pb(ep->ingress);
	m->egress = action_to_pb(ep->egress);
	m->mode = mode_to_pb(ep->mode);
	if (!m->name || !m->node || !m->interface || !m->cgroup)
		return -ENOMEM;
	if (prefixes_to_pb(ep->addresses, ep->n_addresses, true, &m->addresses, &m->n_addresses) < 0)
		return -ENOMEM;
	return strings_to_pb(ep->groups, ep->n_groups, &m->groups, &m->n_groups);
}

static int prefilter_to_pb(const struct policy_prefilter *pf, Iofence__V1__Prefilter **ret)
{
	Iofence__V1__Prefilter *m = malloc(sizeof(*m));

	*ret = m;
	if (!m)
		return -ENOMEM;
	iofence__v1__prefilter__init(m);
	m->node = dup_or_empty(pf->node);
	if (!m->node)
		return -ENOMEM;
	if (strings_to_pb(pf->interfaces, pf->n_interfaces, &m->interfaces, &m->n_interfaces) < 0)
		return -ENOMEM;
	return prefixes_to_pb(pf->deny, pf->n_deny, false, &m->deny, &m->n_deny);
}

/* Allocates the pointer array of a repeated message field, filled by fn item by item. */
#define REPEATED_TO_PB(dst, n_dst, src, n_src, fn)                                             \
	do {                                                                                   \
		(dst) = calloc((n_src) ? (n_src) : 1, sizeof(*(dst)));                         \
		if (!(dst)) {                                                                  \
			r = -ENOMEM;                                                           \
			goto err;                                                              \
		}                                                                              \
		for (size_t i_ = 0; i_ < (n_src); i_++) {                                      \
			r = fn(&(src)[i_], &(dst)[i_]);                                        \
			if ((dst)[i_])                                                         \
				(n_dst) = i_ + 1;                                              \
			if (r < 0)                                                             \
				goto err;                                                      \
		}                                                                              \
	} while (0)

int policy_to_pb(const struct policy_document *doc, Iofence__V1__PolicyDocument **ret)
{
	Iofence__V1__PolicyDocument *m = malloc(sizeof(*m));
	int r = -ENOMEM;

	*ret = NULL;
	if (!m)
		return -ENOMEM;
	iofence__v1__policy_document__init(m);
	m->revision = doc->revision;
	m->has_revision = doc->has_revision;
	m->defaults = malloc(sizeof(*m->defaults));
	if (!m->defaults)
		goto err;
	iofence__v1__defaults__init(m->defaults);
	m->defaults->ingress = action_to_pb(doc->defaults.ingress);
	m->defaults->egress = action_to_pb(doc->defaults.egress);
	m->defaults->mode = mode_to_pb(doc->defaults.mode);
	REPEATED_TO_PB(m->security_groups, m->n_security_groups, doc->groups, doc->n_groups,
		       group_to_pb);
	REPEATED_TO_PB(m->endpoints, m->n_endpoints, doc->endpoints, doc->n_endpoints,
		       endpoint_to_pb);
	REPEATED_TO_PB(m->prefilter, m->n_prefilter, doc->prefilters, doc->n_prefilters,
		       prefilter_to_pb);
	*ret = m;
	return 0;
err:
	policy_pb_free(m);
	return r;
}

void policy_pb_free(Iofence__V1__PolicyDocument *msg)
{
	if (msg)
		iofence__v1__policy_document__free_unpacked(msg, NULL);
}

/* ---- message -> model ---- */

struct pb_ctx {
	const char *file;
	struct policy_errors *errs;
	int oom;
	struct read_clock clock; /* policy_parse_stop's */
	unsigned items;		 /* rules and list items read so far */
	bool late;		 /* past a deadline: every loop ends */
};

/*
 * One more item read; true once the read is past its time (the clocks are looked at every
 * 1024 items), with an error naming the item where it stopped.
 */
static bool pb_late(struct pb_ctx *ctx, const char *path)
{
	if (ctx->late || read_clock_unbounded(&ctx->clock) || ++ctx->items % 1024)
		return ctx->late;
	ctx->late = read_clock_passed(&ctx->clock);
	if (ctx->late)
		policy_errors_add(ctx->errs, ctx->file, 0, path,
				  "not read within the time allowed: stopped here, item %u",
				  ctx->items);
	return ctx->late;
}

#define pberr(ctx, field, ...) policy_errors_add((ctx)->errs, (ctx)->file, 0, field, __VA_ARGS__)

/*
 * True if s is UTF-8. protobuf-c does not check string fields, and a name that is not UTF-8
 * could not be written back as YAML or JSON.
 */
static bool utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3
			 : (*p & 0xf8) == 0xf0 ? 4 : 0;
		uint32_t c = n == 1 ? *p : n == 2 ? *p & 0x1fu : n == 3 ? *p & 0x0fu : *p & 0x07u;

		if (n == 0)
			return false;
		for (size_t i = 1; i < n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			c = c << 6 | (p[i] & 0x3fu);
		}
		if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) || (n == 4 && c < 0x10000) ||
		    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return false;
		p += n;
	}
	return true;
}

/*
 * Errors at "<path><suffix>": the field is formatted only when reported, since every rule has
 * a dozen fields and almost none has an error.
 */
#define pberr_at(ctx, path, suffix, ...)                                                       \
	do {                                                                                   \
		char f_[FIELD_LEN];                                                            \
                                                                                               \
		snprintf(f_, sizeof(f_), "%s%s", path, suffix);                                \
		pberr(ctx, f_, __VA_ARGS__);                                                   \
	} while (0)

/* An optional string: "" (or NULL) is absent. */
static char *opt_str(struct pb_ctx *ctx, const char *s, const char *path, const char *suffix)
{
	char *copy;

	if (!s || !*s)
		return NULL;
	if (!utf8_valid(s)) {
		pberr_at(ctx, path, suffix, "not valid UTF-8");
		return NULL;
	}
	copy = strdup(s);
	if (!copy)
		ctx->oom = 1;
	return copy;
}

static void *alloc_items(struct pb_ctx *ctx, size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p)
		ctx->oom = 1;
	return p;
}

static int str_list(struct pb_ctx *ctx, char *const *v, size_t n, const char *path,
		    const char *suffix, char ***ret, size_t *ret_n)
{
	*ret_n = 0;
	*ret = alloc_items(ctx, n, sizeof(**ret));
	for (size_t i = 0; *ret && i < n; i++) {
		char list[FIELD_LEN], item[FIELD_LEN];

		if (v[i] && *v[i] && utf8_valid(v[i])) {
			(*ret)[*ret_n] = strdup(v[i]);
			if ((*ret)[*ret_n])
				(*ret_n)++;
			else
				ctx->oom = 1;
			continue;
		}
		snprintf(list, sizeof(list), "%s%s", path, suffix);
		field_path_index(item, list, i);
		if (!v[i] || !*v[i])
			pberr(ctx, item, "must not be empty");
		else
			pberr(ctx, item, "not valid UTF-8");
	}
	return 0;
}

/* As the parser's read_prefix(): the same messages. */
static int read_prefix(struct pb_ctx *ctx, const char *text, const char *path,
		       const char *suffix, struct policy_prefix *ret)
{
	char net[PREFIX_STR_MAX];
	int r = prefix_parse(text ? text : "", ret);

	if (r == -EADDRNOTAVAIL) {
		prefix_format(ret, false, net);
		pberr_at(ctx, path, suffix, "\"%s\" has host bits set; did you mean %s?", text,
			 net);
	} else if (r < 0) {
		pberr_at(ctx, path, suffix, "\"%s\" is not an IPv4 or IPv6 prefix",
			 text ? text : "");
	}
	return r;
}

static int read_action(struct pb_ctx *ctx, Iofence__V1__Action a, const char *path,
		       const char *suffix, int unset, int *ret)
{
	switch (a) {
	case IOFENCE__V1__ACTION__ACTION_UNSPECIFIED:
		*ret = unset;
		return 0;
	case IOFENCE__V1__ACTION__ACTION_ALLOW:
		*ret = POLICY_ALLOW;
		return 0;
	case IOFENCE__V1__ACTION__ACTION_DENY:
		*ret = POLICY_DENY;
		return 0;
	default:
		pberr_at(ctx, path, suffix, "%d is not one of allow | deny", (int)a);
		return -EINVAL;
	}
}

static int read_mode(struct pb_ctx *ctx, Iofence__V1__Mode m, const char *path,
		     const char *suffix, int unset, int *ret)
{
	switch (m) {
	case IOFENCE__V1__MODE__MODE_UNSPECIFIED:
		*ret = unset;
		return 0;
	case IOFENCE__V1__MODE__MODE_ENFORCE:
		*ret = POLICY_ENFORCE;
		return 0;
	case IOFENCE__V1__MODE__MODE_AUDIT:
		*ret = POLICY_AUDIT;
		return 0;
	default:
		pberr_at(ctx, path, suffix, "%d is not one of enforce | audit", (int)m);
		return -EINVAL;
	}
}

static void rule_ports_from_pb(struct pb_ctx *ctx, const Iofence__V1__Rule *m,
			       const char *path, struct policy_rule *rule)
{
	rule->ports = alloc_items(ctx, m->n_ports, sizeof(*rule->ports));
	for (size_t i = 0; rule->ports && i < m->n_ports && !pb_late(ctx, path); i++) {
		const Iofence__V1__PortRange *p = m->ports[i];
		char field[FIELD_LEN];
		uint32_t lo, hi;

		if (!p)
			continue;
		lo = p->lo;
		hi = p->hi ? p->hi : p->lo;
		if (lo >= 1 && lo <= 65535 && hi <= 65535 && lo <= hi) {
			rule->ports[rule->n_ports].lo = (uint16_t)lo;
			rule->ports[rule->n_ports].hi = (uint16_t)hi;
			rule->n_ports++;
			continue;
		}
		snprintf(field, sizeof(field), "%s.ports[%zu]", path, i);
		if (lo < 1 || lo > 65535 || hi > 65535) {
			if (lo == hi)
				pberr(ctx, field, "\"%u\" is not a port (1..65535) or range (\"lo-hi\")",
				      lo);
			else
				pberr(ctx, field,
				      "\"%u-%u\" is not a port (1..65535) or range (\"lo-hi\")", lo,
				      hi);
		} else {
			pberr(ctx, field, "port range \"%u-%u\" is reversed (low > high)", lo, hi);
		}
	}
}

static void rule_from_pb(struct pb_ctx *ctx, const Iofence__V1__Rule *m, const char *path,
			 struct policy_rule *rule)
{
	int action;

	rule->direction = POLICY_INGRESS;
	rule->action = POLICY_ALLOW;
	rule->priority = POLICY_PRIORITY_DEFAULT;
	rule->protocol = POLICY_PROTO_ANY;
	if (!m)
		return;
	if (m->direction == IOFENCE__V1__DIRECTION__DIRECTION_EGRESS)
		rule->direction = POLICY_EGRESS;
	else if (m->direction == IOFENCE__V1__DIRECTION__DIRECTION_UNSPECIFIED)
		pberr(ctx, path, "direction is required (ingress | egress)");
	else if (m->direction != IOFENCE__V1__DIRECTION__DIRECTION_INGRESS)
		pberr_at(ctx, path, ".direction", "%d is not one of ingress | egress",
			 (int)m->direction);
	if (read_action(ctx, m->action, path, ".action", POLICY_ALLOW, &action) == 0)
		rule->action = action;
	if (m->has_priority && m->priority > POLICY_PRIORITY_MAX)
		pberr_at(ctx, path, ".priority", "%u is out of range 0..%d", m->priority,
			 POLICY_PRIORITY_MAX);
	else if (m->has_priority)
		rule->priority = (uint16_t)m->priority;
	if (!m->has_protocol && m->protocol == 0)
		rule->protocol = POLICY_PROTO_ANY; /* unset in proto3 */
	else if (m->protocol < POLICY_PROTO_ANY || m->protocol > 255)
		pberr_at(ctx, path, ".protocol",
			 "\"%d\" is not a protocol (tcp | udp | sctp | icmp | icmpv6 | any | 0..255)",
			 m->protocol);
	else
		rule->protocol = m->protocol;
	rule_ports_from_pb(ctx, m, path, rule);
	if (m->cidr && *m->cidr) {
		rule->has_cidr = true;
		if (read_prefix(ctx, m->cidr, path, ".cidr", &rule->cidr) == 0)
			rule->remote_kind = POLICY_REMOTE_CIDR;
	}
	rule->group = opt_str(ctx, m->group, path, ".group");
	if (rule->group)
		rule->remote_kind = POLICY_REMOTE_GROUP;
	rule->name = opt_str(ctx, m->name, path, ".name");
}

static void group_from_pb(struct pb_ctx *ctx, const Iofence__V1__SecurityGroup *m,
			  const char *path, struct policy_group *grp)
{
	char rules[FIELD_LEN], field[FIELD_LEN];

	if (!m)
		return;
	grp->name = opt_str(ctx, m->name, path, ".name");
	grp->rules = alloc_items(ctx, m->n_rules, sizeof(*grp->rules));
	field_path_key(rules, path, "rules");
	for (size_t i = 0; grp->rules && i < m->n_rules && !pb_late(ctx, rules); i++) {
		field_path_index(field, rules, i);
		rule_from_pb(ctx, m->rules[i], field, &grp->rules[grp->n_rules++]);
	}
}

static void addresses_from_pb(struct pb_ctx *ctx, const Iofence__V1__Endpoint *m,
			      const char *path, struct policy_endpoint *ep)
{
	char list[FIELD_LEN], field[FIELD_LEN];

	ep->addresses = alloc_items(ctx, m->n_addresses, sizeof(*ep->addresses));
	field_path_key(list, path, "addresses");
	for (size_t i = 0; ep->addresses && i < m->n_addresses && !pb_late(ctx, path); i++) {
		struct policy_prefix *a = &ep->addresses[ep->n_addresses];
		const char *why;

		field_path_index(field, list, i);
		if (read_prefix(ctx, m->addresses[i], field, "", a) < 0)
			continue;
		why = prefix_unicast_problem(a);
		if (why)
			pberr(ctx, field, "%s: %s", m->addresses[i], why);
		else
			ep->n_addresses++;
	}
}

static void endpoint_from_pb(struct pb_ctx *ctx, const Iofence__V1__Endpoint *m,
			     const char *path, struct policy_endpoint *ep)
{
	ep->ingress = ep->egress = ep->mode = POLICY_INHERIT;
	if (!m)
		return;
	ep->name = opt_str(ctx, m->name, path, ".name");
	ep->node = opt_str(ctx, m->node, path, ".node");
	ep->interface = opt_str(ctx, m->interface, path, ".interface");
	ep->cgroup = opt_str(ctx, m->cgroup, path, ".cgroup");
	addresses_from_pb(ctx, m, path, ep);
	str_list(ctx, m->groups, m->n_groups, path, ".groups", &ep->groups, &ep->n_groups);
	read_action(ctx, m->ingress, path, ".ingress", POLICY_INHERIT, &ep->ingress);
	read_action(ctx, m->egress, path, ".egress", POLICY_INHERIT, &ep->egress);
	read_mode(ctx, m->mode, path, ".mode", POLICY_INHERIT, &ep->mode);
}

int policy_endpoint_from_pb(const Iofence__V1__Endpoint *m, const char *source_name,
			    const char *path, struct policy_endpoint *ep,
			    struct policy_errors *errs)
{
	struct pb_ctx ctx = {.file = source_name ? source_name : "<message>", .errs = errs};
	size_t errors_before = errs->n + errs->dropped;

	memset(ep, 0, sizeof(*ep));
	endpoint_from_pb(&ctx, m, path, ep);
	if (ctx.oom) {
		policy_endpoint_clear(ep);
		return -ENOMEM;
	}
	return errs->n + errs->dropped > errors_before ? -EINVAL : 0;
}

int policy_group_from_pb(const Iofence__V1__SecurityGroup *m, const char *source_name,
			 const char *path, struct policy_group *grp, struct policy_errors *errs)
{
	struct pb_ctx ctx = {.file = source_name ? source_name : "<message>", .errs = errs};
	size_t errors_before = errs->n + errs->dropped;

	memset(grp, 0, sizeof(*grp));
	group_from_pb(&ctx, m, path, grp);
	if (ctx.oom) {
		policy_group_clear(grp);
		return -ENOMEM;
	}
	return errs->n + errs->dropped > errors_before ? -EINVAL : 0;
}

static void prefilter_from_pb(struct pb_ctx *ctx, const Iofence__V1__Prefilter *m,
			      const char *path, struct policy_prefilter *pf)
{
	char field[FIELD_LEN];

	if (!m)
		return;
	pf->node = opt_str(ctx, m->node, path, ".node");
	str_list(ctx, m->interfaces, m->n_interfaces, path, ".interfaces", &pf->interfaces,
		 &pf->n_interfaces);
	pf->deny = alloc_items(ctx, m->n_deny, sizeof(*pf->deny));
	for (size_t i = 0; pf->deny && i < m->n_deny && !pb_late(ctx, path); i++) {
		snprintf(field, sizeof(field), "%s.deny[%zu]", path, i);
		if (read_prefix(ctx, m->deny[i], field, "", &pf->deny[pf->n_deny]) == 0)
			pf->n_deny++;
	}
}

static void defaults_from_pb(struct pb_ctx *ctx, const Iofence__V1__Defaults *m,
			     struct policy_defaults *d)
{
	int v;

	d->ingress = POLICY_DENY;
	d->egress = POLICY_ALLOW;
	d->mode = POLICY_ENFORCE;
	if (!m)
		return;
	if (read_action(ctx, m->ingress, "defaults.ingress", "", POLICY_DENY, &v) == 0)
		d->ingress = v;
	if (read_action(ctx, m->egress, "defaults.egress", "", POLICY_ALLOW, &v) == 0)
		d->egress = v;
	if (read_mode(ctx, m->mode, "defaults.mode", "", POLICY_ENFORCE, &v) == 0)
		d->mode = v;
}

/* Converts the repeated field src[n] into doc array dst (count n_dst), item by item. */
#define REPEATED_FROM_PB(ctx, dst, n_dst, src, n_src, name, fn)                                \
	do {                                                                                   \
		(dst) = alloc_items(ctx, (n_src), sizeof(*(dst)));                             \
		for (size_t i_ = 0; (dst) && i_ < (n_src) && !pb_late(ctx, name); i_++) {      \
			char field_[FIELD_LEN];                                                \
                                                                                               \
			field_path_index(field_, name, i_);                                    \
			fn(ctx, (src)[i_], field_, &(dst)[(n_dst)++]);                         \
		}                                                                              \
	} while (0)

int policy_from_pb(const Iofence__V1__PolicyDocument *msg, const char *source_name,
		   struct policy_document **ret, struct policy_errors *errs)
{
	return policy_from_pb_until(msg, source_name, NULL, ret, errs);
}

int policy_from_pb_until(const Iofence__V1__PolicyDocument *msg, const char *source_name,
			 const struct policy_parse_stop *stop, struct policy_document **ret,
			 struct policy_errors *errs)
{
	struct pb_ctx ctx = {
	    .file = source_name ? source_name : "<message>",
	    .errs = errs,
	    .clock = policy_parse_stop_clock(stop)};
	size_t errors_before = errs->n + errs->dropped;
	struct policy_document *doc;
	int r;

	*ret = NULL;
	doc = calloc(1, sizeof(*doc));
	if (!doc)
		return -ENOMEM;
	/* a revision without has_revision is still meant as one (proto3 has no presence) */
	doc->revision = msg->revision;
	doc->has_revision = msg->has_revision || msg->revision != 0;
	if (msg->has_revision && msg->revision > (UINT64_MAX >> 1))
		pberr(&ctx, "revision", "%llu is out of range 0..%llu",
		      (unsigned long long)msg->revision, (unsigned long long)(UINT64_MAX >> 1));
	defaults_from_pb(&ctx, msg->defaults, &doc->defaults);
	REPEATED_FROM_PB(&ctx, doc->groups, doc->n_groups, msg->security_groups,
			 msg->n_security_groups, "securityGroups", group_from_pb);
	REPEATED_FROM_PB(&ctx, doc->endpoints, doc->n_endpoints, msg->endpoints, msg->n_endpoints,
			 "endpoints", endpoint_from_pb);
	REPEATED_FROM_PB(&ctx, doc->prefilters, doc->n_prefilters, msg->prefilter,
			 msg->n_prefilter, "prefilter", prefilter_from_pb);
	if (ctx.oom || ctx.late) {
		r = ctx.oom ? -ENOMEM : -ETIME;
		goto out;
	}
	r = policy_validate(doc, ctx.file, errs);
	if (r != -ENOMEM)
		r = errs->n + errs->dropped > errors_before ? -EINVAL : 0;
out:
	if (r < 0)
		policy_document_free(doc);
	else
		*ret = doc;
	return r;
}
