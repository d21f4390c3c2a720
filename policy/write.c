// SPDX-License-Identifier: Apache-2.0
/*
 * Writing the policy model as YAML (libyaml's emitter) or JSON (by hand), through one walk of
 * the document over a small "sink" interface, and the document equality the round-trip tests
 * rely on.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "parse.h"
#include "prefix.h"
#include "write.h"

#define JSON_MAX_DEPTH 16

struct sink;

struct sink_ops {
	void (*map_start)(struct sink *s);
	void (*map_end)(struct sink *s);
	void (*seq_start)(struct sink *s, bool flow);
	void (*seq_end)(struct sink *s);
	void (*key)(struct sink *s, const char *name);
	void (*str)(struct sink *s, const char *text); /* a string value */
	void (*num)(struct sink *s, const char *text); /* a number, written bare */
};

struct sink {
	const struct sink_ops *ops;
	int err;
	/* YAML */
	yaml_emitter_t emitter;
	/* JSON */
	FILE *out;
	int depth;
	bool first[JSON_MAX_DEPTH];
	bool flow[JSON_MAX_DEPTH];
	bool after_key;
};

/* ---- YAML sink ---- */

static void yaml_emit(struct sink *s, yaml_event_t *ev, int ok)
{
	if (s->err)
		return;
	if (!ok) {
		s->err = -ENOMEM;
		return;
	}
	if (!yaml_emitter_emit(&s->emitter, ev))
		s->err = s->emitter.error == YAML_MEMORY_ERROR ? -ENOMEM : -EIO;
}

static void yaml_map_start(struct sink *s)
{
	yaml_event_t ev;

	yaml_emit(s, &ev,
		  yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
						      YAML_BLOCK_MAPPING_STYLE));
}

static void yaml_map_end(struct sink *s)
{
	yaml_event_t ev;

	yaml_emit(s, &ev, yaml_mapping_end_event_initialize(&ev));
}

static void yaml_seq_start(struct sink *s, bool flow)
{
	yaml_event_t ev;

	yaml_emit(s, &ev,
		  yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
						       flow ? YAML_FLOW_SEQUENCE_STYLE
							    : YAML_BLOCK_SEQUENCE_STYLE));
}

static void yaml_seq_end(struct sink *s)
{
	yaml_event_t ev;

	yaml_emit(s, &ev, yaml_sequence_end_event_initialize(&ev));
}

static void yaml_scalar(struct sink *s, const char *text, yaml_scalar_style_t style)
{
	yaml_event_t ev;

	yaml_emit(s, &ev,
		  yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text,
					       (int)strlen(text), 1, 1, style));
}

/* The parser reads these plain scalars as "no value": such strings must be quoted. */
static bool reads_as_null(const char *text)
{
	return !*text || strcmp(text, "~") == 0 || strcmp(text, "null") == 0 ||
	       strcmp(text, "Null") == 0 || strcmp(text, "NULL") == 0;
}

static void yaml_key(struct sink *s, const char *name)
{
	yaml_scalar(s, name, YAML_PLAIN_SCALAR_STYLE);
}

static void yaml_str(struct sink *s, const char *text)
{
	/* the emitter falls back to a quoted style when plain would not read back the same */
	yaml_scalar(s, text, reads_as_null(text) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
						 : YAML_ANY_SCALAR_STYLE);
}

static void yaml_num(struct sink *s, const char *text)
{
	yaml_scalar(s, text, YAML_PLAIN_SCALAR_STYLE);
}

static const struct sink_ops yaml_ops = {yaml_map_start, yaml_map_end, yaml_seq_start,
					 yaml_seq_end,	 yaml_key,     yaml_str,
					 yaml_num};

/* ---- JSON sink ---- */

static void json_indent(struct sink *s, int depth)
{
	fputc('\n', s->out);
	for (int i = 0; i < depth; i++)
		fputs("  ", s->out);
}

/* Separator and indentation before a value or a key. */
static void json_item(struct sink *s)
{
	if (s->after_key) {
		s->after_key = false;
		return;
	}
	if (s->depth == 0)
		return;
	if (!s->first[s->depth])
		fputc(',', s->out);
	if (s->flow[s->depth]) {
		if (!s->first[s->depth])
			fputc(' ', s->out);
	} else {
		json_indent(s, s->depth);
	}
	s->first[s->depth] = false;
}

static void json_open(struct sink *s, char c, bool flow)
{
	json_item(s);
	fputc(c, s->out);
	if (s->depth + 1 >= JSON_MAX_DEPTH) {
		s->err = -EINVAL;
		return;
	}
	s->depth++;
	s->first[s->depth] = true;
	s->flow[s->depth] = flow;
}

static void json_close(struct sink *s, char c)
{
	if (!s->flow[s->depth] && !s->first[s->depth])
		json_indent(s, s->depth - 1);
	if (s->depth > 0)
		s->depth--;
	fputc(c, s->out);
	if (s->depth == 0)
		fputc('\n', s->out);
}

static void json_map_start(struct sink *s)
{
	json_open(s, '{', false);
}

static void json_map_end(struct sink *s)
{
	json_close(s, '}');
}

static void json_seq_start(struct sink *s, bool flow)
{
	json_open(s, '[', flow);
}

static void json_seq_end(struct sink *s)
{
	json_close(s, ']');
}

/* Length of the UTF-8 sequence at p and its code point; 0 if p is not valid UTF-8. */
static size_t utf8_decode(const unsigned char *p, uint32_t *ret)
{
	size_t n;
	uint32_t c;

	if (p[0] < 0x80) {
		*ret = p[0];
		return 1;
	}
	if ((p[0] & 0xe0) == 0xc0)
		n = 2, c = p[0] & 0x1f;
	else if ((p[0] & 0xf0) == 0xe0)
		n = 3, c = p[0] & 0x0f;
	else if ((p[0] & 0xf8) == 0xf0)
		n = 4, c = p[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) || (n == 4 && c < 0x10000) ||
	    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*ret = c;
	return n;
}

/*
 * Characters written as \uXXXX: JSON's controls, and what a YAML reader (which reads our JSON)
 * refuses raw or folds as a line break: DEL, C1 controls, NEL, LS, PS, BOM, U+FFFE/U+FFFF.
 */
static bool json_must_escape(uint32_t c)
{
	return c < 0x20 || c == '"' || c == '\\' || (c >= 0x7f && c <= 0x9f) || c == 0x2028 ||
	       c == 0x2029 || c == 0xfeff || c == 0xfffe || c == 0xffff;
}

static void json_string(struct sink *s, const char *text)
{
	const unsigned char *p = (const unsigned char *)text;

	fputc('"', s->out);
	while (*p) {
		uint32_t c;
		size_t n = utf8_decode(p, &c);

		if (n == 0) { /* not UTF-8: the replacement character */
			fputs("\\ufffd", s->out);
			p++;
			continue;
		}
		if (c == '"' || c == '\\')
			fprintf(s->out, "\\%c", (char)c);
		else if (c == '\n')
			fputs("\\n", s->out);
		else if (c == '\t')
			fputs("\\t", s->out);
		else if (c == '\r')
			fputs("\\r", s->out);
		else if (json_must_escape(c))
			fprintf(s->out, "\\u%04x", (unsigned)c);
		else
			fwrite(p, 1, n, s->out);
		p += n;
	}
	fputc('"', s->out);
}

static void json_key(struct sink *s, const char *name)
{
	json_item(s);
	json_string(s, name);
	fputs(": ", s->out);
	s->after_key = true;
}

static void json_str(struct sink *s, const char *text)
{
	json_item(s);
	json_string(s, text);
}

static void json_num(struct sink *s, const char *text)
{
	json_item(s);
	fputs(text, s->out);
}

static const struct sink_ops json_ops = {json_map_start, json_map_end, json_seq_start,
					 json_seq_end,	 json_key,     json_str,
					 json_num};

/* ---- the document walk ---- */

static const char *action_name(int a)
{
	return a == POLICY_DENY ? "deny" : "allow";
}

static const char *mode_name(int m)
{
	return m == POLICY_AUDIT ? "audit" : "enforce";
}

static void put_str(struct sink *s, const char *key, const char *value)
{
	s->ops->key(s, key);
	s->ops->str(s, value);
}

static void put_uint(struct sink *s, const char *key, unsigned long long value)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%llu", value);
	s->ops->key(s, key);
	s->ops->num(s, buf);
}

static void put_prefix(struct sink *s, const struct policy_prefix *p, bool host)
{
	char buf[PREFIX_STR_MAX];

	prefix_format(p, host, buf);
	s->ops->str(s, buf);
}

static void put_strings(struct sink *s, const char *key, char *const *v, size_t n)
{
	s->ops->key(s, key);
	s->ops->seq_start(s, true);
	for (size_t i = 0; i < n; i++)
		s->ops->str(s, v[i]);
	s->ops->seq_end(s);
}

static void put_prefixes(struct sink *s, const char *key, const struct policy_prefix *v,
			 size_t n, bool host)
{
	s->ops->key(s, key);
	s->ops->seq_start(s, true);
	for (size_t i = 0; i < n; i++)
		put_prefix(s, &v[i], host);
	s->ops->seq_end(s);
}

static void write_rule(struct sink *s, const struct policy_rule *rule)
{
	const char *proto = policy_protocol_name(rule->protocol);
	char buf[32];

	s->ops->map_start(s);
	if (rule->name)
		put_str(s, "name", rule->name);
	put_str(s, "direction", rule->direction == POLICY_EGRESS ? "egress" : "ingress");
	put_str(s, "action", action_name(rule->action));
	put_uint(s, "priority", rule->priority);
	s->ops->key(s, "protocol");
	if (proto) {
		s->ops->str(s, proto);
	} else {
		snprintf(buf, sizeof(buf), "%d", rule->protocol);
		s->ops->num(s, buf);
	}
	if (rule->n_ports) {
		s->ops->key(s, "ports");
		s->ops->seq_start(s, true);
		for (size_t i = 0; i < rule->n_ports; i++) {
			const struct policy_port_range *p = &rule->ports[i];

			if (p->lo == p->hi) {
				snprintf(buf, sizeof(buf), "%u", p->lo);
				s->ops->num(s, buf);
			} else {
				snprintf(buf, sizeof(buf), "%u-%u", p->lo, p->hi);
				s->ops->str(s, buf);
			}
		}
		s->ops->seq_end(s);
	}
	if (rule->has_cidr) {
		s->ops->key(s, "cidr");
		put_prefix(s, &rule->cidr, false);
	}
	if (rule->group)
		put_str(s, "group", rule->group);
	s->ops->map_end(s);
}

static void write_group(struct sink *s, const struct policy_group *grp)
{
	s->ops->map_start(s);
	if (grp->name)
		put_str(s, "name", grp->name);
	s->ops->key(s, "rules");
	s->ops->seq_start(s, false);
	for (size_t r = 0; r < grp->n_rules; r++)
		write_rule(s, &grp->rules[r]);
	s->ops->seq_end(s);
	s->ops->map_end(s);
}

static void write_endpoint(struct sink *s, const struct policy_endpoint *ep)
{
	s->ops->map_start(s);
	if (ep->name)
		put_str(s, "name", ep->name);
	if (ep->node)
		put_str(s, "node", ep->node);
	if (ep->interface)
		put_str(s, "interface", ep->interface);
	if (ep->cgroup)
		put_str(s, "cgroup", ep->cgroup);
	put_prefixes(s, "addresses", ep->addresses, ep->n_addresses, true);
	put_strings(s, "groups", ep->groups, ep->n_groups);
	if (ep->ingress != POLICY_INHERIT)
		put_str(s, "ingress", action_name(ep->ingress));
	if (ep->egress != POLICY_INHERIT)
		put_str(s, "egress", action_name(ep->egress));
	if (ep->mode != POLICY_INHERIT)
		put_str(s, "mode", mode_name(ep->mode));
	s->ops->map_end(s);
}

static void write_prefilter(struct sink *s, const struct policy_prefilter *pf)
{
	s->ops->map_start(s);
	if (pf->node)
		put_str(s, "node", pf->node);
	put_strings(s, "interfaces", pf->interfaces, pf->n_interfaces);
	put_prefixes(s, "deny", pf->deny, pf->n_deny, false);
	s->ops->map_end(s);
}

static void write_document(struct sink *s, const struct policy_document *doc)
{
	s->ops->map_start(s);
	if (doc->has_revision)
		put_uint(s, "revision", doc->revision);
	s->ops->key(s, "defaults");
	s->ops->map_start(s);
	put_str(s, "ingress", action_name(doc->defaults.ingress));
	put_str(s, "egress", action_name(doc->defaults.egress));
	put_str(s, "mode", mode_name(doc->defaults.mode));
	s->ops->map_end(s);
	if (doc->n_groups) {
		s->ops->key(s, "securityGroups");
		s->ops->seq_start(s, false);
		for (size_t g = 0; g < doc->n_groups; g++)
			write_group(s, &doc->groups[g]);
		s->ops->seq_end(s);
	}
	if (doc->n_endpoints) {
		s->ops->key(s, "endpoints");
		s->ops->seq_start(s, false);
		for (size_t e = 0; e < doc->n_endpoints; e++)
			write_endpoint(s, &doc->endpoints[e]);
		s->ops->seq_end(s);
	}
	if (doc->n_prefilters) {
		s->ops->key(s, "prefilter");
		s->ops->seq_start(s, false);
		for (size_t p = 0; p < doc->n_prefilters; p++)
			write_prefilter(s, &doc->prefilters[p]);
		s->ops->seq_end(s);
	}
	s->ops->map_end(s);
}

static int write_yaml(const struct policy_document *doc, FILE *out)
{
	struct sink s = {.ops = &yaml_ops};
	yaml_event_t ev;

	if (!yaml_emitter_initialize(&s.emitter))
		return -ENOMEM;
	yaml_emitter_set_output_file(&s.emitter, out);
	yaml_emitter_set_unicode(&s.emitter, 1);
	yaml_emitter_set_width(&s.emitter, -1);
	yaml_emit(&s, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING));
	yaml_emit(&s, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1));
	write_document(&s, doc);
	yaml_emit(&s, &ev, yaml_document_end_event_initialize(&ev, 1));
	yaml_emit(&s, &ev, yaml_stream_end_event_initialize(&ev));
	if (!s.err && !yaml_emitter_flush(&s.emitter))
		s.err = -EIO;
	yaml_emitter_delete(&s.emitter);
	return s.err;
}

int policy_write(const struct policy_document *doc, enum policy_format fmt, FILE *out)
{
	struct sink s = {.ops = &json_ops, .out = out};
	int r;

	switch (fmt) {
	case POLICY_FORMAT_YAML:
		r = write_yaml(doc, out);
		break;
	case POLICY_FORMAT_JSON:
		write_document(&s, doc);
		r = s.err;
		break;
	default:
		return -EINVAL;
	}
	if (!r && (fflush(out) != 0 || ferror(out)))
		r = -EIO;
	return r;
}

int policy_write_buffer(const struct policy_document *doc, enum policy_format fmt,
			char **ret_text, size_t *ret_len)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	int r;

	*ret_text = NULL;
	*ret_len = 0;
	if (!mem)
		return -ENOMEM;
	r = policy_write(doc, fmt, mem);
	if (fclose(mem) != 0 && !r)
		r = -ENOMEM;
	if (r < 0) {
		free(text);
		return r;
	}
	*ret_text = text;
	*ret_len = len;
	return 0;
}

/* ---- equality ---- */

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool strings_eq(char *const *a, size_t na, char *const *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!str_eq(a[i], b[i]))
			return false;
	return true;
}

static bool prefixes_eq(const struct policy_prefix *a, size_t na, const struct policy_prefix *b,
			size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!prefix_equal(&a[i], &b[i]))
			return false;
	return true;
}

bool policy_rule_equal(const struct policy_rule *a, const struct policy_rule *b)
{
	if (a->direction != b->direction || a->action != b->action ||
	    a->priority != b->priority || a->protocol != b->protocol ||
	    a->n_ports != b->n_ports || a->remote_kind != b->remote_kind ||
	    a->has_cidr != b->has_cidr || !str_eq(a->group, b->group) ||
	    !str_eq(a->name, b->name))
		return false;
	if (a->has_cidr && !prefix_equal(&a->cidr, &b->cidr))
		return false;
	for (size_t i = 0; i < a->n_ports; i++)
		if (a->ports[i].lo != b->ports[i].lo || a->ports[i].hi != b->ports[i].hi)
			return false;
	return true;
}

static bool group_eq(const struct policy_group *a, const struct policy_group *b)
{
	if (!str_eq(a->name, b->name) || a->n_rules != b->n_rules)
		return false;
	for (size_t r = 0; r < a->n_rules; r++)
		if (!policy_rule_equal(&a->rules[r], &b->rules[r]))
			return false;
	return true;
}

static bool endpoint_eq(const struct policy_endpoint *a, const struct policy_endpoint *b)
{
	return str_eq(a->name, b->name) && str_eq(a->node, b->node) &&
	       str_eq(a->interface, b->interface) && str_eq(a->cgroup, b->cgroup) &&
	       prefixes_eq(a->addresses, a->n_addresses, b->addresses, b->n_addresses) &&
	       strings_eq(a->groups, a->n_groups, b->groups, b->n_groups) &&
	       a->ingress == b->ingress && a->egress == b->egress && a->mode == b->mode;
}

static bool prefilter_eq(const struct policy_prefilter *a, const struct policy_prefilter *b)
{
	return str_eq(a->node, b->node) &&
	       strings_eq(a->interfaces, a->n_interfaces, b->interfaces, b->n_interfaces) &&
	       prefixes_eq(a->deny, a->n_deny, b->deny, b->n_deny);
}

bool policy_document_equal(const struct policy_document *a, const struct policy_document *b)
{
	if (a->has_revision != b->has_revision || a->revision != b->revision ||
	    a->defaults.ingress != b->defaults.ingress || a->defaults.egress != b->defaults.egress ||
	    a->defaults.mode != b->defaults.mode || a->n_groups != b->n_groups ||
	    a->n_endpoints != b->n_endpoints || a->n_prefilters != b->n_prefilters)
		return false;
	for (size_t g = 0; g < a->n_groups; g++)
		if (!group_eq(&a->groups[g], &b->groups[g]))
			return false;
	for (size_t e = 0; e < a->n_endpoints; e++)
		if (!endpoint_eq(&a->endpoints[e], &b->endpoints[e]))
			return false;
	for (size_t p = 0; p < a->n_prefilters; p++)
		if (!prefilter_eq(&a->prefilters[p], &b->prefilters[p]))
			return false;
	return true;
}
