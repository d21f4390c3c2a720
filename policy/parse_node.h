/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers over libyaml's document tree for the policy parser: typed reads of scalars with
 * errors that name the file, line and field path. Private to policy/parse*.c.
 */
#ifndef IOFENCE_POLICY_PARSE_NODE_H
#define IOFENCE_POLICY_PARSE_NODE_H

#include <stdbool.h>
#include <stdint.h>
#include <yaml.h>

#include "errors.h"

struct parse_ctx {
	yaml_document_t *doc;
	const char *file;
	struct policy_errors *errs;
	uint8_t *seen; /* node ids visited: a second visit means an alias */
	size_t n_nodes;
	bool alias_reported;
	int oom;
};

#define PATH_MAX_LEN 160

static inline unsigned node_line(const yaml_node_t *n)
{
	return (unsigned)n->start_mark.line + 1;
}

/* Reports an error at node n with field path. */
#define perr(ctx, n, path, ...)                                                                \
	policy_errors_add((ctx)->errs, (ctx)->file, (n) ? node_line(n) : 0, path, __VA_ARGS__)

yaml_node_t *node_get(struct parse_ctx *ctx, int id);
const char *node_kind(const yaml_node_t *n);

/* Scalar text, or NULL (with an error) when n is not a scalar. */
const char *node_scalar(struct parse_ctx *ctx, yaml_node_t *n, const char *path);

/* True if the scalar was written as a quoted string. */
bool node_quoted(const yaml_node_t *n);

/* Typed reads: return 0, or -EINVAL after reporting the error. */
int node_string(struct parse_ctx *ctx, yaml_node_t *n, const char *path, char **ret);
int node_uint(struct parse_ctx *ctx, yaml_node_t *n, const char *path, uint64_t max,
	      uint64_t *ret);
int node_enum(struct parse_ctx *ctx, yaml_node_t *n, const char *path, const char *const *names,
	      const int *values, int *ret);

/* Sequence items: a NULL-safe count; reports a type error when n is not a sequence. */
bool node_is_seq(struct parse_ctx *ctx, yaml_node_t *n, const char *path);
bool node_is_map(struct parse_ctx *ctx, yaml_node_t *n, const char *path);

/* Iterates a mapping, rejecting duplicate keys and keys not in allowed (NULL-terminated). */
typedef void (*map_field_fn)(struct parse_ctx *ctx, const char *key, yaml_node_t *value,
			     const char *path, void *obj);
void node_map_fields(struct parse_ctx *ctx, yaml_node_t *map, const char *path,
		     const char *const *allowed, map_field_fn fn, void *obj);

/* Strings of a sequence; reports item errors. Return 0 or -EINVAL. */
int node_string_list(struct parse_ctx *ctx, yaml_node_t *n, const char *path, char ***ret,
		     size_t *ret_n);

#endif /* IOFENCE_POLICY_PARSE_NODE_H */
