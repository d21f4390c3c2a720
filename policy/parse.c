// SPDX-License-Identifier: Apache-2.0
/*
 * The policy document parser: libyaml's events composed into a compact tree (YAML, and JSON
 * through the same path; parse_tree.c) walked into struct policy_document, every syntax and type error collected with its
 * line. Cross-reference checks follow in validate.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "parse.h"
#include "parse_tree.h"
#include "parse_node.h"
#include "prefix.h"

static const char *const action_names[] = {"allow", "deny", NULL};
static const int action_values[] = {POLICY_ALLOW, POLICY_DENY};
static const char *const mode_names[] = {"enforce", "audit", NULL};
static const int mode_values[] = {POLICY_ENFORCE, POLICY_AUDIT};
static const char *const dir_names[] = {"ingress", "egress", NULL};
static const int dir_values[] = {POLICY_INGRESS, POLICY_EGRESS};

static size_t seq_len(const struct tree_node *n)
{
	return n->n;
}

static void *alloc_items(struct parse_ctx *ctx, size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p)
		ctx->oom = 1;
	return p;
}

/* Reads a prefix value; host bits set is an error that names the network. */
static int read_prefix(struct parse_ctx *ctx, struct tree_node *n, const char *path,
		       struct policy_prefix *ret)
{
	const char *v = node_scalar(ctx, n, path);
	char net[PREFIX_STR_MAX];
	int r;

	if (!v)
		return -EINVAL;
	r = prefix_parse(v, ret);
	if (r == -EADDRNOTAVAIL) {
		prefix_format(ret, false, net);
		perr(ctx, n, path, "\"%s\" has host bits set; did you mean %s?", v, net);
	} else if (r < 0) {
		perr(ctx, n, path, "\"%s\" is not an IPv4 or IPv6 prefix", v);
	}
	return r;
}

static void rule_field(struct parse_ctx *ctx, const char *key, struct tree_node *v, const char *path,
		       void *obj)
{
	struct policy_rule *rule = obj;
	uint64_t u;
	int e;

	if (strcmp(key, "direction") == 0) {
		/* an invalid direction is reported here, not again as a missing one */
		rule->direction = POLICY_INGRESS;
		if (node_enum(ctx, v, path, dir_names, dir_values, &e) == 0)
			rule->direction = e;
	} else if (strcmp(key, "action") == 0) {
		if (node_enum(ctx, v, path, action_names, action_values, &e) == 0)
			rule->action = e;
	} else if (strcmp(key, "priority") == 0) {
		if (node_uint(ctx, v, path, POLICY_PRIORITY_MAX, &u) == 0)
			rule->priority = (uint16_t)u;
	} else if (strcmp(key, "protocol") == 0) {
		const char *s = node_scalar(ctx, v, path);

		if (s && policy_parse_protocol(s, &rule->protocol) < 0)
			perr(ctx, v, path,
			     "\"%s\" is not a protocol (tcp | udp | sctp | icmp | icmpv6 | any | "
			     "0..255)",
			     s);
	} else if (strcmp(key, "ports") == 0) {
		rule->ports_line = ctx->key_line;
		if (!node_is_seq(ctx, v, path))
			return;
		free(rule->ports);
		rule->ports = alloc_items(ctx, seq_len(v), sizeof(*rule->ports));
		rule->n_ports = 0;
		for (size_t i = 0; rule->ports && !ctx->stopped && i < seq_len(v); i++) {
			struct tree_node *item = node_item(ctx, v, i);
			char field[PATH_MAX_LEN];
			const char *s;
			int r;

			field_path_index(field, path, i);
			if (!item || !(s = node_scalar(ctx, item, field)))
				continue;
			r = policy_parse_port_range(s, &rule->ports[rule->n_ports]);
			if (r == -ERANGE)
				perr(ctx, item, field, "port range \"%s\" is reversed (low > high)", s);
			else if (r < 0)
				perr(ctx, item, field,
				     "\"%s\" is not a port (1..65535) or range (\"lo-hi\")", s);
			else
				rule->n_ports++;
		}
	} else if (strcmp(key, "cidr") == 0) {
		if (read_prefix(ctx, v, path, &rule->cidr) == 0)
			rule->remote_kind = rule->remote_kind == POLICY_REMOTE_GROUP
						    ? rule->remote_kind
						    : POLICY_REMOTE_CIDR;
		rule->has_cidr = true;
	} else if (strcmp(key, "group") == 0) {
		rule->group_line = ctx->key_line;
		free(rule->group);
		rule->group = NULL;
		if (node_string(ctx, v, path, &rule->group) == 0)
			rule->remote_kind = POLICY_REMOTE_GROUP;
	} else if (strcmp(key, "name") == 0) {
		free(rule->name);
		rule->name = NULL;
		node_string(ctx, v, path, &rule->name);
	}
}

static void parse_rules(struct parse_ctx *ctx, struct tree_node *v, const char *path,
			struct policy_group *grp)
{
	static const char *const keys[] = {"name",  "direction", "action", "priority",
					   "protocol", "ports", "cidr",   "group", NULL};

	if (!node_is_seq(ctx, v, path))
		return;
	grp->rules = alloc_items(ctx, seq_len(v), sizeof(*grp->rules));
	for (size_t i = 0; grp->rules && !ctx->stopped && i < seq_len(v); i++) {
		struct tree_node *item = node_item(ctx, v, i);
		struct policy_rule *rule = &grp->rules[grp->n_rules++];
		char field[PATH_MAX_LEN];

		field_path_index(field, path, i);
		rule->action = POLICY_ALLOW;
		rule->priority = POLICY_PRIORITY_DEFAULT;
		rule->protocol = POLICY_PROTO_ANY;
		rule->direction = -1;
		if (!item)
			continue;
		rule->line = node_line(item);
		if (!node_is_map(ctx, item, field))
			continue;
		node_map_fields(ctx, item, field, keys, rule_field, rule);
		if ((int)rule->direction == -1) {
			perr(ctx, item, field, "direction is required (ingress | egress)");
			rule->direction = POLICY_INGRESS;
		}
	}
}

static void group_field(struct parse_ctx *ctx, const char *key, struct tree_node *v, const char *path,
			void *obj)
{
	struct policy_group *grp = obj;

	if (strcmp(key, "name") == 0)
		node_string(ctx, v, path, &grp->name);
	else if (strcmp(key, "rules") == 0)
		parse_rules(ctx, v, path, grp);
}

static void endpoint_field(struct parse_ctx *ctx, const char *key, struct tree_node *v,
			   const char *path, void *obj)
{
	struct policy_endpoint *ep = obj;

	if (strcmp(key, "name") == 0) {
		node_string(ctx, v, path, &ep->name);
	} else if (strcmp(key, "node") == 0) {
		node_string(ctx, v, path, &ep->node);
	} else if (strcmp(key, "interface") == 0) {
		node_string(ctx, v, path, &ep->interface);
	} else if (strcmp(key, "cgroup") == 0) {
		node_string(ctx, v, path, &ep->cgroup);
	} else if (strcmp(key, "groups") == 0) {
		ep->groups_line = ctx->key_line;
		node_string_list(ctx, v, path, &ep->groups, &ep->n_groups);
	} else if (strcmp(key, "ingress") == 0) {
		node_enum(ctx, v, path, action_names, action_values, &ep->ingress);
	} else if (strcmp(key, "egress") == 0) {
		node_enum(ctx, v, path, action_names, action_values, &ep->egress);
	} else if (strcmp(key, "mode") == 0) {
		node_enum(ctx, v, path, mode_names, mode_values, &ep->mode);
	} else if (strcmp(key, "addresses") == 0) {
		if (!node_is_seq(ctx, v, path))
			return;
		ep->addresses = alloc_items(ctx, seq_len(v), sizeof(*ep->addresses));
		for (size_t i = 0; ep->addresses && !ctx->stopped && i < seq_len(v); i++) {
			struct tree_node *item = node_item(ctx, v, i);
			struct policy_prefix *a = &ep->addresses[ep->n_addresses];
			char field[PATH_MAX_LEN];
			const char *why;

			field_path_index(field, path, i);
			if (!item || read_prefix(ctx, item, field, a) < 0)
				continue;
			why = prefix_unicast_problem(a);
			if (why)
				perr(ctx, item, field, "%s: %s", node_scalar(ctx, item, field), why);
			else
				ep->n_addresses++;
		}
	}
}

static void prefilter_field(struct parse_ctx *ctx, const char *key, struct tree_node *v,
			    const char *path, void *obj)
{
	struct policy_prefilter *pf = obj;

	if (strcmp(key, "node") == 0) {
		node_string(ctx, v, path, &pf->node);
	} else if (strcmp(key, "interfaces") == 0) {
		node_string_list(ctx, v, path, &pf->interfaces, &pf->n_interfaces);
	} else if (strcmp(key, "deny") == 0) {
		if (!node_is_seq(ctx, v, path))
			return;
		pf->deny = alloc_items(ctx, seq_len(v), sizeof(*pf->deny));
		for (size_t i = 0; pf->deny && !ctx->stopped && i < seq_len(v); i++) {
			struct tree_node *item = node_item(ctx, v, i);
			char field[PATH_MAX_LEN];

			field_path_index(field, path, i);
			if (item && read_prefix(ctx, item, field, &pf->deny[pf->n_deny]) == 0)
				pf->n_deny++;
		}
	}
}

static void defaults_field(struct parse_ctx *ctx, const char *key, struct tree_node *v,
			   const char *path, void *obj)
{
	struct policy_defaults *d = obj;
	int e;

	if (strcmp(key, "ingress") == 0 &&
	    node_enum(ctx, v, path, action_names, action_values, &e) == 0)
		d->ingress = e;
	else if (strcmp(key, "egress") == 0 &&
		 node_enum(ctx, v, path, action_names, action_values, &e) == 0)
		d->egress = e;
	else if (strcmp(key, "mode") == 0 &&
		 node_enum(ctx, v, path, mode_names, mode_values, &e) == 0)
		d->mode = e;
}

/* Parses a list of mappings into an array of `size`-byte items with `fields` per item. */
static void *parse_list(struct parse_ctx *ctx, struct tree_node *v, const char *path, size_t size,
			const char *const *keys, map_field_fn fn, void (*init)(void *, unsigned),
			size_t *ret_n)
{
	char *items;

	*ret_n = 0;
	if (!node_is_seq(ctx, v, path))
		return NULL;
	items = alloc_items(ctx, seq_len(v), size);
	for (size_t i = 0; items && !ctx->stopped && i < seq_len(v); i++) {
		struct tree_node *item = node_item(ctx, v, i);
		void *obj = items + size * (*ret_n)++;
		char field[PATH_MAX_LEN];

		field_path_index(field, path, i);
		if (!item)
			continue;
		init(obj, node_line(item));
		if (node_is_map(ctx, item, field))
			node_map_fields(ctx, item, field, keys, fn, obj);
	}
	return items;
}

static void init_group(void *obj, unsigned line)
{
	((struct policy_group *)obj)->line = line;
}

static void init_endpoint(void *obj, unsigned line)
{
	struct policy_endpoint *ep = obj;

	ep->line = line;
	ep->ingress = ep->egress = ep->mode = POLICY_INHERIT;
}

static void init_prefilter(void *obj, unsigned line)
{
	((struct policy_prefilter *)obj)->line = line;
}

static void document_field(struct parse_ctx *ctx, const char *key, struct tree_node *v,
			   const char *path, void *obj)
{
	static const char *const group_keys[] = {"name", "rules", NULL};
	static const char *const ep_keys[] = {"name",   "node",  "interface", "cgroup", "addresses",
					      "groups", "ingress", "egress",  "mode",   NULL};
	static const char *const pf_keys[] = {"node", "interfaces", "deny", NULL};
	static const char *const default_keys[] = {"ingress", "egress", "mode", NULL};
	struct policy_document *doc = obj;

	if (strcmp(key, "revision") == 0) {
		if (node_uint(ctx, v, path, UINT64_MAX >> 1, &doc->revision) == 0)
			doc->has_revision = true;
	} else if (strcmp(key, "defaults") == 0) {
		if (node_is_map(ctx, v, path))
			node_map_fields(ctx, v, path, default_keys, defaults_field, &doc->defaults);
	} else if (strcmp(key, "securityGroups") == 0) {
		doc->groups = parse_list(ctx, v, path, sizeof(*doc->groups), group_keys, group_field,
					 init_group, &doc->n_groups);
	} else if (strcmp(key, "endpoints") == 0) {
		doc->endpoints = parse_list(ctx, v, path, sizeof(*doc->endpoints), ep_keys,
					    endpoint_field, init_endpoint, &doc->n_endpoints);
	} else if (strcmp(key, "prefilter") == 0) {
		doc->prefilters = parse_list(ctx, v, path, sizeof(*doc->prefilters), pf_keys,
					     prefilter_field, init_prefilter, &doc->n_prefilters);
	}
}

static const char *const document_keys[] = {"revision", "defaults", "securityGroups",
					    "endpoints", "prefilter", NULL};

/*
 * Refuses a text with more than DIRECTIVES_MAX lines that begin with "%TAG": libyaml compares
 * every tag directive with every other one, and a policy needs none.
 */
#define DIRECTIVES_MAX 16

static int check_directives(const char *text, size_t len, const char *file,
			    struct policy_errors *errs)
{
	size_t n = 0, line = 1;

	for (const char *p = text, *end = text + len; p < end; line++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if ((size_t)(end - p) >= 4 && memcmp(p, "%TAG", 4) == 0 && ++n > DIRECTIVES_MAX) {
			policy_errors_add(errs, file, (unsigned)line, "document",
					  "more than %d %%TAG directives", DIRECTIVES_MAX);
			return -EINVAL;
		}
		p = nl ? nl + 1 : end;
	}
	return 0;
}

/*
 * Loads the one YAML document of text into an empty tree; syntax errors, extra documents and
 * the limits go to errs. -ETIME (with an error) once the read is past clock (NULL: never).
 * Return 0, -EINVAL, -ETIME or -ENOMEM;
 * the tree is freed on error.
 */
static int load_tree_until(const char *text, size_t len, const char *file,
			   const struct read_clock *clock, struct parse_tree *tree,
			   struct policy_errors *errs)
{
	struct parse_tree extra = {0};
	yaml_parser_t parser;
	int r;

	r = check_directives(text, len, file, errs);
	if (r < 0)
		return r;
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	r = parse_tree_reserve(tree, len);
	if (r == 0)
		r = parse_tree_load_until(&parser, tree, clock);
	if (r == -E2BIG || r == -ENOTSUP || r == -ETIME || r == -ENOMEM) {
		/* later documents are not read: the error is about this one */
	} else if (r == -EINVAL) {
		if (parser.context && !strncmp(parser.context, "while ", 6))
			policy_errors_add(errs, file, (unsigned)parser.problem_mark.line + 1,
					  "document",
					  "syntax error at column %u: %s %s (begun at line %u, column %u)",
					  (unsigned)parser.problem_mark.column + 1,
					  parser.problem ? parser.problem : "invalid", parser.context,
					  (unsigned)parser.context_mark.line + 1,
					  (unsigned)parser.context_mark.column + 1);
		else
			policy_errors_add(errs, file, (unsigned)parser.problem_mark.line + 1,
					  "document", "syntax error at column %u: %s%s%s",
					  (unsigned)parser.problem_mark.column + 1,
					  parser.problem ? parser.problem : "invalid",
					  parser.context ? " " : "", parser.context ? parser.context : "");
	} else if (r == 0) {
		policy_errors_add(errs, file, 1, "document", "empty document");
		r = -EINVAL;
	} else if (r > 0) {
		r = parse_tree_load_until(&parser, &extra, clock);
		if (r > 0) {
			policy_errors_add(errs, file, extra.nodes[0].line, "document",
					  "more than one YAML document; put everything in one");
			r = -EINVAL;
		} else if (r == -EINVAL) {
			policy_errors_add(errs, file, (unsigned)parser.problem_mark.line + 1,
					  "document", "syntax error: %s",
					  parser.problem ? parser.problem : "invalid");
		}
		parse_tree_free(&extra);
	}
	if (r == -E2BIG || r == -ENOTSUP) {
		policy_errors_add(errs, file, (unsigned)parser.problem_mark.line + 1, "document",
				  "%s", parser.problem);
		r = -EINVAL;
	} else if (r == -ETIME) {
		policy_errors_add(errs, file, (unsigned)parser.problem_mark.line + 1, "document",
				  "not read within the time allowed: stopped at this line, "
				  "character %zu of a %zu-byte text",
				  (size_t)parser.problem_mark.index, len);
	}
	if (r < 0)
		parse_tree_free(tree);
	yaml_parser_delete(&parser);
	return r;
}

/*
 * A misspelled top-level key leaves its whole section unread: the references into it
 * ("unknown security group") and the emptiness of the document follow from that one error,
 * so they are not reported again.
 */
static void drop_cascade(struct policy_errors *errs, size_t from)
{
	size_t kept = from;

	for (size_t i = from; i < errs->n; i++) {
		struct policy_error *e = &errs->items[i];

		if (e->message && (!strncmp(e->message, "unknown security group", 22) ||
				   !strncmp(e->message, "empty document", 14))) {
			free(e->file);
			free(e->field);
			free(e->message);
			continue;
		}
		errs->items[kept++] = *e;
	}
	errs->n = kept;
}

/* Reads and validates the document in tree. Return 0, -EINVAL (errors in errs) or -ENOMEM. */
static int build_document(struct parse_tree *tree, const char *file, struct policy_errors *errs,
			  struct policy_document **ret_doc)
{
	struct parse_ctx ctx = {.file = file, .errs = errs, .tree = tree};
	struct policy_document *doc = calloc(1, sizeof(*doc));
	struct tree_node *root;
	size_t errors_before = errs->n + errs->dropped;
	int r;

	*ret_doc = NULL;
	if (!doc) {
		r = -ENOMEM;
		goto out;
	}
	doc->defaults = (struct policy_defaults){POLICY_DENY, POLICY_ALLOW, POLICY_ENFORCE};
	root = node_get(&ctx, 1);
	if (node_is_map(&ctx, root, ""))
		node_map_fields(&ctx, root, "", document_keys, document_field, doc);
	if (ctx.oom) {
		r = -ENOMEM;
		goto out;
	}
	/* a document read in part would give the cross-references phantom errors */
	if (ctx.stopped)
		policy_errors_add(errs, file, ctx.stop_line, "document",
				  "too many errors (%d): the rest of the document was not read",
				  PARSE_ERRORS_MAX);
	size_t before_validate = errs->n;

	if (!ctx.stopped && policy_validate(doc, ctx.file, errs) == -ENOMEM) {
		r = -ENOMEM;
		goto out;
	}
	if (ctx.unknown_top_key)
		drop_cascade(errs, before_validate);
	r = errs->n + errs->dropped > errors_before ? -EINVAL : 0;
out:
	if (r < 0)
		policy_document_free(doc);
	else
		*ret_doc = doc;
	return r;
}

int policy_parse_buffer(const char *text, size_t len, const char *file_name,
			struct policy_document **ret_doc, struct policy_errors *errs)
{
	return policy_parse_buffer_until(text, len, file_name, NULL, ret_doc, errs);
}

struct read_clock policy_parse_stop_clock(const struct policy_parse_stop *stop)
{
	struct read_clock c = {0};
	uint64_t cpu;

	if (!stop)
		return c;
	cpu = read_clock_usec(CLOCK_THREAD_CPUTIME_ID);
	c.deadline_usec = stop->deadline_usec;
	c.cpu_by_usec = stop->cpu_usec ? cpu + stop->cpu_usec : 0;
	c.wall_by_usec = stop->wall_by_usec;
	c.wall_cpu_usec = cpu + stop->wall_min_cpu_usec;
	return c;
}

int policy_parse_buffer_until(const char *text, size_t len, const char *file_name,
			      const struct policy_parse_stop *stop,
			      struct policy_document **ret_doc, struct policy_errors *errs)
{
	const char *file = file_name ? file_name : "<input>";
	struct parse_tree tree = {0};
	struct read_clock clock = policy_parse_stop_clock(stop);
	int r;

	*ret_doc = NULL;
	r = load_tree_until(text, len, file, &clock, &tree, errs);
	if (r < 0)
		return r;
	r = build_document(&tree, file, errs, ret_doc);
	parse_tree_free(&tree);
	return r;
}

/*
 * Reads all of f into one buffer sized from fstat() when f is a regular file, so a large
 * document is neither copied as the buffer grows nor faulted in twice.
 * Return 0, -EIO (ferror) or -ENOMEM.
 */
static int read_text(FILE *f, char **ret_text, size_t *ret_len)
{
	struct stat st;
	size_t cap = 65536, len = 0, n;
	char *text, *p;

	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
		cap = (size_t)st.st_size + 1; /* + 1: EOF is seen without growing */
	text = malloc(cap);
	if (!text)
		return -ENOMEM;
	while ((n = fread(text + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len < cap)
			continue;
		p = realloc(text, cap * 2);
		if (!p) {
			free(text);
			return -ENOMEM;
		}
		text = p;
		cap *= 2;
	}
	if (ferror(f)) {
		free(text);
		return -EIO;
	}
	*ret_text = text;
	*ret_len = len;
	return 0;
}

int policy_parse_file(const char *path, struct policy_document **ret_doc,
		      struct policy_errors *errs)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int r;

	*ret_doc = NULL;
	f = fopen(path, "re");
	if (!f) {
		r = -errno;
		policy_errors_add(errs, path, 0, "document", "cannot read: %s", strerror(-r));
		return r;
	}
	r = read_text(f, &text, &len);
	fclose(f);
	if (r == -EIO)
		policy_errors_add(errs, path, 0, "document", "cannot read: %s", strerror(EIO));
	if (!r)
		r = policy_parse_buffer(text, len, path, ret_doc, errs);
	free(text);
	return r;
}
