/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A compact YAML document tree for the policy parser, composed from libyaml's events. Node
 * ids, alias resolution and composer errors are those of yaml_parser_load(); the storage is
 * not: 16-byte nodes in one array, children ids in another, scalar text in large chunks, the
 * large ones in huge pages (bulk.h): page faults are dear on a VM.
 * Private to policy/parse*.c.
 */
#ifndef IOFENCE_POLICY_PARSE_TREE_H
#define IOFENCE_POLICY_PARSE_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <yaml.h>
#include "read_clock.h"

enum tree_kind {
	TREE_SCALAR = 1,
	TREE_SEQUENCE = 2,
	TREE_MAPPING = 3,
};

/*
 * What the loader refuses, so that no text costs more than its size in plain nodes
 * (docs/AGENT.md, "Bounds"). Each stops the load at once, with the message in
 * parser->problem and the place in parser->problem_mark:
 * - lists and mappings nested deeper than PARSE_TREE_DEPTH_MAX (a policy needs 6): libyaml's
 *   scanner walks a stack of every open flow collection for each token, which makes deep
 *   nesting quadratic; the loader stops before that stack grows;
 * - a mapping with more than PARSE_TREE_KEYS_MAX keys (a policy's have at most 9): each
 *   extra key would only be an error, and a few hundred thousand of them cost a second;
 * - more than PARSE_TREE_ANCHORS_MAX anchors (&name): they serve aliases only;
 * - any alias (*name): not supported (following one would multiply the work).
 */
#define PARSE_TREE_DEPTH_MAX 64
#define PARSE_TREE_KEYS_MAX 64
#define PARSE_TREE_ANCHORS_MAX 64

struct tree_node {
	uint8_t kind;  /* enum tree_kind */
	bool quoted;   /* scalar written in single or double quotes */
	uint32_t line; /* 1-based line of the node's first character */
	union {
		const char *value; /* scalar: NUL-terminated text */
		struct {
			uint32_t n;  /* sequence: items; mapping: pairs */
			uint32_t at; /* first child id at tree.kids[at] */
		};
	};
};

_Static_assert(sizeof(struct tree_node) == 16, "tree_node is 16 bytes");

struct text_chunk;

struct parse_tree {
	struct tree_node *nodes; /* node id i (1-based, as libyaml's) is nodes[i - 1] */
	size_t n_nodes, nodes_bytes; /* nodes_bytes: room, as bulk.h counts it */
	int *kids; /* children ids: a sequence's items; a mapping's key, value pairs */
	size_t n_kids, kids_bytes;
	struct text_chunk *text;
	size_t text_min; /* smallest text chunk; 0: TEXT_CHUNK_MIN */
};

/**
 * parse_tree_load() - composes the next document of parser's stream into tree, which must
 * hold no nodes (zeroed, freed, or only reserved). The root is node id 1.
 *
 * Syntax errors are in parser->problem, ->context and ->problem_mark as yaml_parser_load()
 * leaves them, composer errors (undefined alias, duplicate anchor) included.
 *
 * Return: 1 when a document was loaded; 0 at the end of the stream; -EINVAL on a syntax
 * error; -E2BIG when the text passes one of the limits above, -ENOTSUP at an alias (the
 * message in parser->problem, the place in parser->problem_mark); -ENOMEM when memory
 * (libyaml's too) runs out, or past 4G children ids.
 */
int parse_tree_load(yaml_parser_t *parser, struct parse_tree *tree);

/*
 * As parse_tree_load(), giving up with -ETIME once the read is past clock (read_clock.h;
 * NULL: never; the mark reached in parser->problem_mark).
 */
int parse_tree_load_until(yaml_parser_t *parser, struct parse_tree *tree,
			  const struct read_clock *clock);

/*
 * Sizes an empty tree for a document of text_len bytes (room for a node every 2 bytes and
 * the scalars' text, in huge pages when large: bulk.h), so that loading a large document
 * neither copies the arrays as they grow nor takes a page fault every 4 KiB. 0 or -ENOMEM.
 */
int parse_tree_reserve(struct parse_tree *tree, size_t text_len);

/* Frees what the tree holds and zeroes it. */
void parse_tree_free(struct parse_tree *tree);

/* Entries of a node in tree.kids: a sequence's items, a mapping's keys and values. */
static inline size_t tree_kid_count(const struct tree_node *n)
{
	return n->kind == TREE_SCALAR ? 0 : n->kind == TREE_MAPPING ? 2 * (size_t)n->n : n->n;
}

static inline struct tree_node *tree_node(const struct parse_tree *tree, int id)
{
	return id > 0 && (size_t)id <= tree->n_nodes ? &tree->nodes[id - 1] : NULL;
}

#endif /* IOFENCE_POLICY_PARSE_TREE_H */
