/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The two halves of policy_parse_buffer(), for the parser that re-reads only what changed
 * (parse_reuse.c): text to tree, tree to document. Private to policy/parse*.c.
 */
#ifndef IOFENCE_POLICY_PARSE_DOC_H
#define IOFENCE_POLICY_PARSE_DOC_H

#include "errors.h"
#include "model.h"
#include "parse_tree.h"

/*
 * Loads the one YAML document of text into an empty tree (and its block spans when spans is
 * not NULL); syntax errors and extra documents go to errs. Return 0, -EINVAL or -ENOMEM; the
 * tree (and spans) are freed on error.
 */
int parse_load_tree(const char *text, size_t len, const char *file, struct parse_tree *tree,
		    struct tree_spans *spans, struct policy_errors *errs);

/* As parse_load_tree(), -ETIME (with an error) once CLOCK_MONOTONIC passes deadline_usec. */
int parse_load_tree_until(const char *text, size_t len, const char *file, uint64_t deadline_usec,
			  struct parse_tree *tree, struct tree_spans *spans,
			  struct policy_errors *errs);

/*
 * Reads and validates the document in tree (whose nodes must be unvisited: seen false).
 * Return 0, -EINVAL (errors in errs) or -ENOMEM.
 */
int parse_build_document(struct parse_tree *tree, const char *file, struct policy_errors *errs,
			 struct policy_document **ret_doc);

#endif /* IOFENCE_POLICY_PARSE_DOC_H */
