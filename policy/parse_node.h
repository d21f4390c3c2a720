/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers over the parser's document tree (parse_tree.h): typed reads of scalars with errors
 * that name the file, line and field path. Private to policy/parse*.c.
 */
#ifndef IOFENCE_POLICY_PARSE_NODE_H
#define IOFENCE_POLICY_PARSE_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include "errors.h"
#include "field_path.h"
#include "parse_tree.h"

/*
 * The walk stops after this many errors, as a compiler does: the first ones are reported
 * with their lines, then "too many errors". A text of a million bad values would otherwise
 * cost a formatted error each (docs/AGENT.md, "Bounds").
 */
#define PARSE_ERRORS_MAX 100

struct parse_ctx {
	struct parse_tree *tree;
	const char *file;
	struct policy_errors *errs;
	int oom;
	unsigned key_line; /* line of the key whose value a map_field_fn reads */
	bool unknown_top_key; /* a top-level key was misspelled: its section was not read */
	size_t n_errors;      /* errors this walk reported */
	bool stopped;	      /* PARSE_ERRORS_MAX reached: every loop ends, nothing more is read */
	unsigned stop_line;   /* line of the last error reported */
};

#define PATH_MAX_LEN FIELD_PATH_LEN

static inline unsigned node_line(const struct tree_node *n)
{
	return n->line;
}

/* Reports an error at node n (may be NULL: line 0) with field path; counts to the limit. */
void perr(struct parse_ctx *ctx, const struct tree_node *n, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

struct tree_node *node_get(struct parse_ctx *ctx, int id);
const char *node_kind(const struct tree_node *n);

/* Item i of a sequence (i < n->n). */
static inline struct tree_node *node_item(struct parse_ctx *ctx, const struct tree_node *n,
					  size_t i)
{
	return node_get(ctx, ctx->tree->kids[n->at + i]);
}

/* Scalar text, or NULL (with an error) when n is not a scalar. */
const char *node_scalar(struct parse_ctx *ctx, struct tree_node *n, const char *path);

/* True if the scalar was written as a quoted string. */
bool node_quoted(const struct tree_node *n);

/* Typed reads: return 0, or -EINVAL after reporting the error. */
int node_string(struct parse_ctx *ctx, struct tree_node *n, const char *path, char **ret);
int node_uint(struct parse_ctx *ctx, struct tree_node *n, const char *path, uint64_t max,
	      uint64_t *ret);
int node_enum(struct parse_ctx *ctx, struct tree_node *n, const char *path, const char *const *names,
	      const int *values, int *ret);

/* Sequence items: a NULL-safe count; reports a type error when n is not a sequence. */
bool node_is_seq(struct parse_ctx *ctx, struct tree_node *n, const char *path);
bool node_is_map(struct parse_ctx *ctx, struct tree_node *n, const char *path);

/* Iterates a mapping, rejecting duplicate keys and keys not in allowed (NULL-terminated, at
 * most 64 names). */
typedef void (*map_field_fn)(struct parse_ctx *ctx, const char *key, struct tree_node *value,
			     const char *path, void *obj);
void node_map_fields(struct parse_ctx *ctx, struct tree_node *map, const char *path,
		     const char *const *allowed, map_field_fn fn, void *obj);

/* Strings of a sequence; reports item errors. Return 0 or -EINVAL. */
int node_string_list(struct parse_ctx *ctx, struct tree_node *n, const char *path, char ***ret,
		     size_t *ret_n);

#endif /* IOFENCE_POLICY_PARSE_NODE_H */
