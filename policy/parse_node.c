// SPDX-License-Identifier: Apache-2.0
/*
 * Typed access to libyaml document nodes for the policy parser, reporting type errors with
 * the line of the offending node.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse_node.h"

yaml_node_t *node_get(struct parse_ctx *ctx, int id)
{
	yaml_node_t *n = yaml_document_get_node(ctx->doc, id);

	if (n && id > 0 && (size_t)id <= ctx->n_nodes) {
		/*
		 * An alias is a second visit. It is not followed: that would double what it
		 * points to (and a self-referencing alias, or nested ones, multiply the work).
		 */
		if (ctx->seen[id - 1]) {
			if (!ctx->alias_reported)
				perr(ctx, n, "document", "YAML aliases (*name) are not supported");
			ctx->alias_reported = true;
			return NULL;
		}
		ctx->seen[id - 1] = 1;
	}
	return n;
}

const char *node_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return "a scalar";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}

const char *node_scalar(struct parse_ctx *ctx, yaml_node_t *n, const char *path)
{
	if (n->type != YAML_SCALAR_NODE) {
		perr(ctx, n, path, "expected a value, got %s", node_kind(n));
		return NULL;
	}
	return (const char *)n->data.scalar.value;
}

bool node_quoted(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE &&
	       (n->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
		n->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE);
}

static bool is_null_scalar(const yaml_node_t *n)
{
	const char *v = (const char *)n->data.scalar.value;

	return !node_quoted(n) && (strcmp(v, "") == 0 || strcmp(v, "~") == 0 ||
				   strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
				   strcmp(v, "NULL") == 0);
}

int node_string(struct parse_ctx *ctx, yaml_node_t *n, const char *path, char **ret)
{
	const char *v = node_scalar(ctx, n, path);

	if (!v)
		return -EINVAL;
	if (is_null_scalar(n) || *v == '\0') {
		perr(ctx, n, path, "must not be empty");
		return -EINVAL;
	}
	*ret = strdup(v);
	if (!*ret) {
		ctx->oom = 1;
		return -ENOMEM;
	}
	return 0;
}

int node_uint(struct parse_ctx *ctx, yaml_node_t *n, const char *path, uint64_t max,
	      uint64_t *ret)
{
	const char *v = node_scalar(ctx, n, path);
	char *end;
	unsigned long long x;

	if (!v)
		return -EINVAL;
	if (node_quoted(n) || *v < '0' || *v > '9') {
		perr(ctx, n, path, "expected a non-negative integer, got \"%s\"", v);
		return -EINVAL;
	}
	errno = 0;
	x = strtoull(v, &end, 10);
	if (*end != '\0') {
		perr(ctx, n, path, "expected a non-negative integer, got \"%s\"", v);
		return -EINVAL;
	}
	if (errno == ERANGE || x > max) {
		perr(ctx, n, path, "%s is out of range 0..%llu", v, (unsigned long long)max);
		return -EINVAL;
	}
	*ret = x;
	return 0;
}

int node_enum(struct parse_ctx *ctx, yaml_node_t *n, const char *path, const char *const *names,
	      const int *values, int *ret)
{
	const char *v = node_scalar(ctx, n, path);
	char expected[128] = "";

	if (!v)
		return -EINVAL;
	for (size_t i = 0; names[i]; i++) {
		if (strcmp(v, names[i]) == 0) {
			*ret = values[i];
			return 0;
		}
		snprintf(expected + strlen(expected), sizeof(expected) - strlen(expected), "%s%s",
			 i ? " | " : "", names[i]);
	}
	perr(ctx, n, path, "\"%s\" is not one of %s", v, expected);
	return -EINVAL;
}

bool node_is_seq(struct parse_ctx *ctx, yaml_node_t *n, const char *path)
{
	if (n->type == YAML_SEQUENCE_NODE)
		return true;
	perr(ctx, n, path, "expected a list, got %s", node_kind(n));
	return false;
}

bool node_is_map(struct parse_ctx *ctx, yaml_node_t *n, const char *path)
{
	if (n->type == YAML_MAPPING_NODE)
		return true;
	perr(ctx, n, path, "expected a mapping, got %s", node_kind(n));
	return false;
}

void node_map_fields(struct parse_ctx *ctx, yaml_node_t *map, const char *path,
		     const char *const *allowed, map_field_fn fn, void *obj)
{
	yaml_node_pair_t *first = map->data.mapping.pairs.start;
	yaml_node_pair_t *top = map->data.mapping.pairs.top;

	for (yaml_node_pair_t *pair = first; pair < top; pair++) {
		yaml_node_t *key = node_get(ctx, pair->key);
		yaml_node_t *value = node_get(ctx, pair->value);
		char field[PATH_MAX_LEN];
		const char *name;
		size_t i;
		bool dup = false;

		if (!key || !value)
			continue;
		if (key->type != YAML_SCALAR_NODE) {
			perr(ctx, key, path, "keys must be plain names, got %s", node_kind(key));
			continue;
		}
		name = (const char *)key->data.scalar.value;
		snprintf(field, sizeof(field), "%s%s%s", path, *path ? "." : "", name);
		for (yaml_node_pair_t *prev = first; prev < pair; prev++) {
			yaml_node_t *pk = yaml_document_get_node(ctx->doc, prev->key);

			if (pk && pk->type == YAML_SCALAR_NODE &&
			    strcmp((const char *)pk->data.scalar.value, name) == 0)
				dup = true;
		}
		if (dup) {
			perr(ctx, key, field, "duplicate key");
			continue;
		}
		for (i = 0; allowed[i]; i++)
			if (strcmp(allowed[i], name) == 0)
				break;
		if (!allowed[i]) {
			perr(ctx, key, field, "unknown key \"%s\"", name);
			continue;
		}
		fn(ctx, name, value, field, obj);
	}
}

int node_string_list(struct parse_ctx *ctx, yaml_node_t *n, const char *path, char ***ret,
		     size_t *ret_n)
{
	size_t count, k = 0;
	char **v;
	int r = 0;

	if (!node_is_seq(ctx, n, path))
		return -EINVAL;
	count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	v = calloc(count ? count : 1, sizeof(*v));
	if (!v) {
		ctx->oom = 1;
		return -ENOMEM;
	}
	for (size_t i = 0; i < count; i++) {
		yaml_node_t *item = node_get(ctx, n->data.sequence.items.start[i]);
		char field[PATH_MAX_LEN];

		snprintf(field, sizeof(field), "%s[%zu]", path, i);
		if (item && node_string(ctx, item, field, &v[k]) == 0)
			k++;
		else
			r = -EINVAL;
	}
	*ret = v;
	*ret_n = k;
	return r;
}
