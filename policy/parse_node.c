// SPDX-License-Identifier: Apache-2.0
/*
 * Typed access to the parser's document tree nodes, reporting type errors with the line of
 * the offending node.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse_node.h"
#include "suggest.h"

void perr(struct parse_ctx *ctx, const struct tree_node *n, const char *path, const char *fmt, ...)
{
	va_list ap;

	if (ctx->stopped)
		return;
	va_start(ap, fmt);
	policy_errors_vadd(ctx->errs, ctx->file, n ? node_line(n) : 0, path, fmt, ap);
	va_end(ap);
	ctx->stop_line = n ? node_line(n) : ctx->stop_line;
	ctx->stopped = ++ctx->n_errors >= PARSE_ERRORS_MAX;
}

/* The loader refuses aliases (parse_tree.h), so every id names a node visited once. */
struct tree_node *node_get(struct parse_ctx *ctx, int id)
{
	return tree_node(ctx->tree, id);
}

const char *node_kind(const struct tree_node *n)
{
	switch (n->kind) {
	case TREE_SCALAR:
		return "a scalar";
	case TREE_SEQUENCE:
		return "a list";
	case TREE_MAPPING:
		return "a mapping";
	default:
		return "nothing";
	}
}

const char *node_scalar(struct parse_ctx *ctx, struct tree_node *n, const char *path)
{
	if (n->kind != TREE_SCALAR) {
		perr(ctx, n, path, "expected a value, got %s", node_kind(n));
		return NULL;
	}
	return n->value;
}

bool node_quoted(const struct tree_node *n)
{
	return n->kind == TREE_SCALAR && n->quoted;
}

static bool is_null_scalar(const struct tree_node *n)
{
	const char *v = n->value;

	return !node_quoted(n) && (strcmp(v, "") == 0 || strcmp(v, "~") == 0 ||
				   strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
				   strcmp(v, "NULL") == 0);
}

int node_string(struct parse_ctx *ctx, struct tree_node *n, const char *path, char **ret)
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

int node_uint(struct parse_ctx *ctx, struct tree_node *n, const char *path, uint64_t max,
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

int node_enum(struct parse_ctx *ctx, struct tree_node *n, const char *path, const char *const *names,
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
	}
	for (size_t i = 0; names[i]; i++)
		snprintf(expected + strlen(expected), sizeof(expected) - strlen(expected), "%s%s",
			 i ? " | " : "", names[i]);
	perr(ctx, n, path, "\"%s\" is not one of %s", v, expected);
	return -EINVAL;
}

bool node_is_seq(struct parse_ctx *ctx, struct tree_node *n, const char *path)
{
	if (n->kind == TREE_SEQUENCE)
		return true;
	perr(ctx, n, path, "expected a list, got %s", node_kind(n));
	return false;
}

bool node_is_map(struct parse_ctx *ctx, struct tree_node *n, const char *path)
{
	if (n->kind == TREE_MAPPING)
		return true;
	perr(ctx, n, path, "expected a mapping, got %s", node_kind(n));
	return false;
}

void node_map_fields(struct parse_ctx *ctx, struct tree_node *map, const char *path,
		     const char *const *allowed, map_field_fn fn, void *obj)
{
	const int *pairs = ctx->tree->kids + map->at;
	uint64_t seen = 0; /* allowed[i] seen: duplicates found in one pass, not pairwise */

	for (size_t p = 0; !ctx->stopped && p < map->n; p++) {
		struct tree_node *key = node_get(ctx, pairs[2 * p]);
		struct tree_node *value = node_get(ctx, pairs[2 * p + 1]);
		char field[PATH_MAX_LEN];
		const char *name;
		size_t i;

		if (!key || !value)
			continue;
		if (key->kind != TREE_SCALAR) {
			perr(ctx, key, path, "keys must be plain names, got %s", node_kind(key));
			continue;
		}
		name = key->value;
		field_path_key(field, path, name);
		for (i = 0; allowed[i]; i++)
			if (strcmp(allowed[i], name) == 0)
				break;
		if (!allowed[i] || i >= 64) {
			const char *hint = policy_closest(name, allowed, 0);

			if (hint)
				perr(ctx, key, field, "unknown key \"%s\"; did you mean %s?", name,
				     hint);
			else
				perr(ctx, key, field, "unknown key \"%s\"", name);
			if (path[0] == '\0')
				ctx->unknown_top_key = true;
			continue;
		}
		if (seen & (1ull << i)) {
			perr(ctx, key, field, "duplicate key");
			continue;
		}
		seen |= 1ull << i;
		ctx->key_line = node_line(key);
		fn(ctx, name, value, field, obj);
	}
}

int node_string_list(struct parse_ctx *ctx, struct tree_node *n, const char *path, char ***ret,
		     size_t *ret_n)
{
	size_t count, k = 0;
	char **v;
	int r = 0;

	if (!node_is_seq(ctx, n, path))
		return -EINVAL;
	count = n->n;
	v = calloc(count ? count : 1, sizeof(*v));
	if (!v) {
		ctx->oom = 1;
		return -ENOMEM;
	}
	for (size_t i = 0; !ctx->stopped && i < count; i++) {
		struct tree_node *item = node_item(ctx, n, i);
		char field[PATH_MAX_LEN];

		field_path_index(field, path, i);
		if (item && node_string(ctx, item, field, &v[k]) == 0)
			k++;
		else
			r = -EINVAL;
	}
	*ret = v;
	*ret_n = k;
	return r;
}
