// SPDX-License-Identifier: Apache-2.0
/*
 * The object-level difference between two documents (policy/diff.h): objects matched by name,
 * unnamed rules by content, each change described in one line a person can read.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "parse.h"
#include "prefix.h"
#include "vec.h"

/* A growing one-line text; on failure it stays NULL and the diff returns -ENOMEM. */
struct line {
	char *text;
	size_t len;
	FILE *f;
};

static int line_open(struct line *l)
{
	l->text = NULL;
	l->f = open_memstream(&l->text, &l->len);
	return l->f ? 0 : -ENOMEM;
}

/* Closes the stream; returns the text (malloc'd) or NULL. */
static char *line_close(struct line *l)
{
	if (fclose(l->f) != 0) {
		free(l->text);
		return NULL;
	}
	return l->text;
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static int add_change(struct policy_diff *d, enum policy_change_kind kind,
		      enum policy_object_kind object, char *name, char *detail)
{
	struct policy_change *c = name && detail ? VEC_PUSH(d->changes, d->n, d->cap) : NULL;

	if (!c) {
		free(name);
		free(detail);
		return -ENOMEM;
	}
	c->kind = kind;
	c->object = object;
	c->name = name;
	c->detail = detail;
	return 0;
}

static char *fmt(const char *format, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *format, ...)
{
	va_list ap;
	char *s;

	va_start(ap, format);
	if (vasprintf(&s, format, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

static const char *action_name(int a)
{
	return a == POLICY_DENY ? "deny" : a == POLICY_ALLOW ? "allow" : "inherit";
}

static const char *mode_name(int m)
{
	return m == POLICY_AUDIT ? "audit" : m == POLICY_ENFORCE ? "enforce" : "inherit";
}

void policy_rule_describe(const struct policy_rule *rule, char *buf, size_t len)
{
	char pfx[PREFIX_STR_MAX], proto[16];
	const char *pname = policy_protocol_name(rule->protocol);
	struct line l;
	FILE *f;

	if (len)
		buf[0] = '\0';
	if (line_open(&l))
		return;
	f = l.f;
	if (!pname) {
		snprintf(proto, sizeof(proto), "proto-%d", rule->protocol);
		pname = proto;
	}
	fprintf(f, "%s %s %s", action_name(rule->action),
		rule->direction == POLICY_INGRESS ? "ingress" : "egress", pname);
	for (size_t i = 0; i < rule->n_ports; i++) {
		const struct policy_port_range *p = &rule->ports[i];

		fprintf(f, "%c%u", i ? ',' : '/', p->lo);
		if (p->hi != p->lo)
			fprintf(f, "-%u", p->hi);
	}
	fprintf(f, " %s ", rule->direction == POLICY_INGRESS ? "from" : "to");
	if (rule->remote_kind == POLICY_REMOTE_CIDR) {
		prefix_format(&rule->cidr, false, pfx);
		fputs(pfx, f);
	} else if (rule->remote_kind == POLICY_REMOTE_GROUP) {
		fprintf(f, "group %s", rule->group);
	} else {
		fputs("any", f);
	}
	fprintf(f, " priority %u", rule->priority);
	char *text = line_close(&l);

	if (text && len)
		snprintf(buf, len, "%s", text);
	free(text);
}

static char *rule_label(const struct policy_group *g, size_t index)
{
	const struct policy_rule *r = &g->rules[index];

	return r->name ? fmt("%s/%s", g->name, r->name) : fmt("%s[%zu]", g->name, index);
}

static char *rule_text(const struct policy_rule *r)
{
	char buf[1024];

	policy_rule_describe(r, buf, sizeof(buf));
	return strdup(buf);
}

/* ---- rules of a group present in both documents ---- */

struct rule_match {
	size_t *old_for_new; /* SIZE_MAX: unmatched */
	bool *old_used;
};

static size_t find_named(const struct policy_group *g, const char *name)
{
	for (size_t i = 0; i < g->n_rules; i++)
		if (str_eq(g->rules[i].name, name))
			return i;
	return SIZE_MAX;
}

/* Named rules by name, unnamed rules by equal content (first unused), then by rank. */
static void match_rules(const struct policy_group *og, const struct policy_group *ng,
			struct rule_match *m)
{
	for (size_t n = 0; n < ng->n_rules; n++) {
		const struct policy_rule *nr = &ng->rules[n];
		size_t o = nr->name ? find_named(og, nr->name) : SIZE_MAX;

		m->old_for_new[n] = SIZE_MAX;
		if (nr->name) {
			if (o != SIZE_MAX) {
				m->old_for_new[n] = o;
				m->old_used[o] = true;
			}
			continue;
		}
		for (o = 0; o < og->n_rules; o++)
			if (!m->old_used[o] && !og->rules[o].name &&
			    policy_rule_equal(&og->rules[o], nr)) {
				m->old_for_new[n] = o;
				m->old_used[o] = true;
				break;
			}
	}
	size_t o = 0;

	for (size_t n = 0; n < ng->n_rules; n++) {
		if (m->old_for_new[n] != SIZE_MAX || ng->rules[n].name)
			continue;
		while (o < og->n_rules && (m->old_used[o] || og->rules[o].name))
			o++;
		if (o == og->n_rules)
			break;
		m->old_for_new[n] = o;
		m->old_used[o] = true;
	}
}

static int diff_rules(struct policy_diff *d, const struct policy_group *og,
		      const struct policy_group *ng)
{
	struct rule_match m = {
		.old_for_new = calloc(ng->n_rules + 1, sizeof(size_t)),
		.old_used = calloc(og->n_rules + 1, sizeof(bool)),
	};
	bool moved = false;
	int r = m.old_for_new && m.old_used ? 0 : -ENOMEM;
	size_t prev = 0;

	if (!r)
		match_rules(og, ng, &m);
	for (size_t n = 0; !r && n < ng->n_rules; n++) {
		size_t o = m.old_for_new[n];

		if (o == SIZE_MAX) {
			r = add_change(d, POLICY_CHANGE_ADDED, POLICY_OBJECT_RULE,
				       rule_label(ng, n), rule_text(&ng->rules[n]));
			continue;
		}
		if (n && o < prev)
			moved = true;
		prev = o;
		if (policy_rule_equal(&og->rules[o], &ng->rules[n]))
			continue;
		char *before = rule_text(&og->rules[o]), *after = rule_text(&ng->rules[n]);

		r = add_change(d, POLICY_CHANGE_CHANGED, POLICY_OBJECT_RULE, rule_label(ng, n),
			       before && after ? fmt("%s -> %s", before, after) : NULL);
		free(before);
		free(after);
	}
	for (size_t o = 0; !r && o < og->n_rules; o++)
		if (!m.old_used[o])
			r = add_change(d, POLICY_CHANGE_REMOVED, POLICY_OBJECT_RULE,
				       rule_label(og, o), rule_text(&og->rules[o]));
	if (!r && moved)
		r = add_change(d, POLICY_CHANGE_CHANGED, POLICY_OBJECT_GROUP, strdup(ng->name),
			       strdup("rule order"));
	free(m.old_for_new);
	free(m.old_used);
	return r;
}

/* ---- groups ---- */

static const struct policy_group *find_group(const struct policy_document *doc, const char *name)
{
	for (size_t i = 0; doc && i < doc->n_groups; i++)
		if (str_eq(doc->groups[i].name, name))
			return &doc->groups[i];
	return NULL;
}

static char *rule_count(const struct policy_group *g)
{
	return fmt("%zu rule%s", g->n_rules, g->n_rules == 1 ? "" : "s");
}

static int diff_groups(struct policy_diff *d, const struct policy_document *od,
		       const struct policy_document *nd)
{
	int r = 0;

	for (size_t i = 0; !r && i < nd->n_groups; i++) {
		const struct policy_group *ng = &nd->groups[i], *og = find_group(od, ng->name);

		if (!og)
			r = add_change(d, POLICY_CHANGE_ADDED, POLICY_OBJECT_GROUP,
				       strdup(ng->name), rule_count(ng));
		else
			r = diff_rules(d, og, ng);
	}
	for (size_t i = 0; !r && od && i < od->n_groups; i++)
		if (!find_group(nd, od->groups[i].name))
			r = add_change(d, POLICY_CHANGE_REMOVED, POLICY_OBJECT_GROUP,
				       strdup(od->groups[i].name), rule_count(&od->groups[i]));
	return r;
}

/* ---- endpoints ---- */

static bool has_string(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (str_eq(v[i], s))
			return true;
	return false;
}

static bool has_prefix(const struct policy_prefix *v, size_t n, const struct policy_prefix *p)
{
	for (size_t i = 0; i < n; i++)
		if (prefix_equal(&v[i], p))
			return true;
	return false;
}

/* "; field: +a -b" for set-like lists; "; field: order" when only the order differs. */
static void set_delta_strings(FILE *f, const char *field, char *const *a, size_t na,
			      char *const *b, size_t nb)
{
	bool any = false, same_order = na == nb;

	for (size_t i = 0; same_order && i < na; i++)
		same_order = str_eq(a[i], b[i]);
	if (same_order)
		return;
	fprintf(f, "; %s:", field);
	for (size_t i = 0; i < nb; i++)
		if (!has_string(a, na, b[i]))
			fprintf(f, " +%s", b[i]), any = true;
	for (size_t i = 0; i < na; i++)
		if (!has_string(b, nb, a[i]))
			fprintf(f, " -%s", a[i]), any = true;
	if (!any)
		fputs(" order", f);
}

static void set_delta_prefixes(FILE *f, const char *field, const struct policy_prefix *a,
			       size_t na, const struct policy_prefix *b, size_t nb, bool host)
{
	char buf[PREFIX_STR_MAX];
	bool any = false, same_order = na == nb;

	for (size_t i = 0; same_order && i < na; i++)
		same_order = prefix_equal(&a[i], &b[i]);
	if (same_order)
		return;
	fprintf(f, "; %s:", field);
	for (size_t i = 0; i < nb; i++)
		if (!has_prefix(a, na, &b[i]))
			prefix_format(&b[i], host, buf), fprintf(f, " +%s", buf), any = true;
	for (size_t i = 0; i < na; i++)
		if (!has_prefix(b, nb, &a[i]))
			prefix_format(&a[i], host, buf), fprintf(f, " -%s", buf), any = true;
	if (!any)
		fputs(" order", f);
}

static void text_delta(FILE *f, const char *field, const char *a, const char *b)
{
	if (!str_eq(a, b))
		fprintf(f, "; %s: %s -> %s", field, a ? a : "(none)", b ? b : "(none)");
}

static void override_delta(FILE *f, const char *field, int a, int b, bool mode)
{
	if (a != b)
		fprintf(f, "; %s: %s -> %s", field, mode ? mode_name(a) : action_name(a),
			mode ? mode_name(b) : action_name(b));
}

/* The fields of an endpoint that differ, "" when none; the leading "; " is cut. */
static char *endpoint_delta(const struct policy_endpoint *a, const struct policy_endpoint *b)
{
	struct line l;

	if (line_open(&l))
		return NULL;
	text_delta(l.f, "node", a->node, b->node);
	text_delta(l.f, "interface", a->interface, b->interface);
	text_delta(l.f, "cgroup", a->cgroup, b->cgroup);
	set_delta_prefixes(l.f, "addresses", a->addresses, a->n_addresses, b->addresses,
			   b->n_addresses, true);
	set_delta_strings(l.f, "groups", a->groups, a->n_groups, b->groups, b->n_groups);
	override_delta(l.f, "ingress", a->ingress, b->ingress, false);
	override_delta(l.f, "egress", a->egress, b->egress, false);
	override_delta(l.f, "mode", a->mode, b->mode, true);
	char *s = line_close(&l);

	if (s && s[0])
		memmove(s, s + 2, strlen(s + 2) + 1);
	return s;
}

static char *endpoint_text(const struct policy_endpoint *ep)
{
	return fmt("node %s, %zu address%s, %zu group%s", ep->node ? ep->node : "(none)",
		   ep->n_addresses, ep->n_addresses == 1 ? "" : "es", ep->n_groups,
		   ep->n_groups == 1 ? "" : "s");
}

static const struct policy_endpoint *find_endpoint(const struct policy_document *doc,
						   const char *name)
{
	for (size_t i = 0; doc && i < doc->n_endpoints; i++)
		if (str_eq(doc->endpoints[i].name, name))
			return &doc->endpoints[i];
	return NULL;
}

static int diff_endpoints(struct policy_diff *d, const struct policy_document *od,
			  const struct policy_document *nd)
{
	int r = 0;

	for (size_t i = 0; !r && i < nd->n_endpoints; i++) {
		const struct policy_endpoint *ne = &nd->endpoints[i];
		const struct policy_endpoint *oe = find_endpoint(od, ne->name);
		char *delta;

		if (!oe) {
			r = add_change(d, POLICY_CHANGE_ADDED, POLICY_OBJECT_ENDPOINT,
				       strdup(ne->name), endpoint_text(ne));
			continue;
		}
		delta = endpoint_delta(oe, ne);
		if (delta && !delta[0]) {
			free(delta);
			continue;
		}
		r = add_change(d, POLICY_CHANGE_CHANGED, POLICY_OBJECT_ENDPOINT, strdup(ne->name),
			       delta);
	}
	for (size_t i = 0; !r && od && i < od->n_endpoints; i++)
		if (!find_endpoint(nd, od->endpoints[i].name))
			r = add_change(d, POLICY_CHANGE_REMOVED, POLICY_OBJECT_ENDPOINT,
				       strdup(od->endpoints[i].name),
				       endpoint_text(&od->endpoints[i]));
	return r;
}

/* ---- prefilters: keyed by node and rank among that node's entries ---- */

static const struct policy_prefilter *find_prefilter(const struct policy_document *doc,
						     const char *node, size_t rank)
{
	for (size_t i = 0; doc && i < doc->n_prefilters; i++)
		if (str_eq(doc->prefilters[i].node, node) && rank-- == 0)
			return &doc->prefilters[i];
	return NULL;
}

static size_t prefilter_rank(const struct policy_document *doc, size_t index)
{
	size_t rank = 0;

	for (size_t i = 0; i < index; i++)
		rank += str_eq(doc->prefilters[i].node, doc->prefilters[index].node);
	return rank;
}

static char *prefilter_text(const struct policy_prefilter *pf)
{
	return fmt("%zu interface%s, %zu denied prefix%s", pf->n_interfaces,
		   pf->n_interfaces == 1 ? "" : "s", pf->n_deny, pf->n_deny == 1 ? "" : "es");
}

static char *prefilter_delta(const struct policy_prefilter *a, const struct policy_prefilter *b)
{
	struct line l;

	if (line_open(&l))
		return NULL;
	set_delta_strings(l.f, "interfaces", a->interfaces, a->n_interfaces, b->interfaces,
			  b->n_interfaces);
	set_delta_prefixes(l.f, "deny", a->deny, a->n_deny, b->deny, b->n_deny, false);
	char *s = line_close(&l);

	if (s && s[0])
		memmove(s, s + 2, strlen(s + 2) + 1);
	return s;
}

static int diff_prefilters(struct policy_diff *d, const struct policy_document *od,
			   const struct policy_document *nd)
{
	int r = 0;

	for (size_t i = 0; !r && i < nd->n_prefilters; i++) {
		const struct policy_prefilter *np = &nd->prefilters[i];
		const struct policy_prefilter *op =
			find_prefilter(od, np->node, prefilter_rank(nd, i));
		char *delta;

		if (!op) {
			r = add_change(d, POLICY_CHANGE_ADDED, POLICY_OBJECT_PREFILTER,
				       strdup(np->node), prefilter_text(np));
			continue;
		}
		delta = prefilter_delta(op, np);
		if (delta && !delta[0]) {
			free(delta);
			continue;
		}
		r = add_change(d, POLICY_CHANGE_CHANGED, POLICY_OBJECT_PREFILTER,
			       strdup(np->node), delta);
	}
	for (size_t i = 0; !r && od && i < od->n_prefilters; i++)
		if (!find_prefilter(nd, od->prefilters[i].node, prefilter_rank(od, i)))
			r = add_change(d, POLICY_CHANGE_REMOVED, POLICY_OBJECT_PREFILTER,
				       strdup(od->prefilters[i].node),
				       prefilter_text(&od->prefilters[i]));
	return r;
}

static int diff_defaults(struct policy_diff *d, const struct policy_document *od,
			 const struct policy_document *nd)
{
	const struct policy_defaults *a = &od->defaults, *b = &nd->defaults;
	struct line l;

	if (a->ingress == b->ingress && a->egress == b->egress && a->mode == b->mode)
		return 0;
	if (line_open(&l))
		return -ENOMEM;
	override_delta(l.f, "ingress", a->ingress, b->ingress, false);
	override_delta(l.f, "egress", a->egress, b->egress, false);
	override_delta(l.f, "mode", a->mode, b->mode, true);
	char *s = line_close(&l);

	if (s)
		memmove(s, s + 2, strlen(s + 2) + 1);
	return add_change(d, POLICY_CHANGE_CHANGED, POLICY_OBJECT_DEFAULTS, strdup("defaults"), s);
}

int policy_diff(const struct policy_document *old_doc, const struct policy_document *new_doc,
		struct policy_diff *ret)
{
	int r;

	memset(ret, 0, sizeof(*ret));
	r = old_doc ? diff_defaults(ret, old_doc, new_doc) : 0;
	if (!r)
		r = diff_groups(ret, old_doc, new_doc);
	if (!r)
		r = diff_endpoints(ret, old_doc, new_doc);
	if (!r)
		r = diff_prefilters(ret, old_doc, new_doc);
	if (r)
		policy_diff_free(ret);
	return r;
}

void policy_diff_free(struct policy_diff *diff)
{
	for (size_t i = 0; i < diff->n; i++) {
		free(diff->changes[i].name);
		free(diff->changes[i].detail);
	}
	free(diff->changes);
	memset(diff, 0, sizeof(*diff));
}

const char *policy_change_kind_name(enum policy_change_kind kind)
{
	return kind == POLICY_CHANGE_ADDED ? "added"
	       : kind == POLICY_CHANGE_REMOVED ? "removed"
					       : "changed";
}

const char *policy_object_kind_name(enum policy_object_kind object)
{
	static const char *const names[] = {"defaults", "group", "rule", "endpoint", "prefilter"};

	return (unsigned)object < sizeof(names) / sizeof(names[0]) ? names[object] : "?";
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

int policy_diff_write(const struct policy_diff *diff, enum policy_format fmt, FILE *out)
{
	static const char marks[] = {'+', '~', '-'};

	if (fmt == POLICY_FORMAT_JSON) {
		fprintf(out, "{\"equal\": %s, \"changes\": [", diff->n ? "false" : "true");
		for (size_t i = 0; i < diff->n; i++) {
			const struct policy_change *c = &diff->changes[i];

			fprintf(out, "%s\n  {\"change\": \"%s\", \"object\": \"%s\", \"name\": ",
				i ? "," : "", policy_change_kind_name(c->kind),
				policy_object_kind_name(c->object));
			json_string(out, c->name);
			fputs(", \"detail\": ", out);
			json_string(out, c->detail);
			fputc('}', out);
		}
		fprintf(out, "%s]}\n", diff->n ? "\n" : "");
	} else {
		if (!diff->n)
			fputs("no changes\n", out);
		for (size_t i = 0; i < diff->n; i++) {
			const struct policy_change *c = &diff->changes[i];

			fprintf(out, "%c %-9s %-24s %s\n", marks[c->kind],
				policy_object_kind_name(c->object), c->name, c->detail);
		}
	}
	return ferror(out) ? -EIO : 0;
}
