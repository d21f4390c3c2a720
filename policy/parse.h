/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading a policy document (YAML, or JSON which is parsed by the same YAML path) into the
 * model, with every error reported as `file:line: field: message`.
 */
#ifndef IOFENCE_POLICY_PARSE_H
#define IOFENCE_POLICY_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "model.h"

/**
 * policy_parse_buffer() - parse and validate a document.
 * @text: YAML or JSON text (need not be NUL-terminated).
 * @file_name: used in error messages.
 * @ret_doc: the document on success; NULL on error.
 * @errs: receives every error.
 *
 * Return: 0; -EINVAL if the document has errors (all of them in @errs); -ENOMEM.
 */
int policy_parse_buffer(const char *text, size_t len, const char *file_name,
			struct policy_document **ret_doc, struct policy_errors *errs);

/*
 * Limits that bound the work of any text (docs/AGENT.md, "Bounds"): lists and mappings nest
 * at most PARSE_TREE_DEPTH_MAX (64) levels, at most 16 %TAG directives; each refused with a
 * `file:line: document: ...` error, and parsing is linear in the text's size.
 *
 * policy_parse_buffer_until() - policy_parse_buffer() that gives up once CLOCK_MONOTONIC
 * passes @deadline_usec (microseconds; 0: never): -ETIME, with an error naming the line
 * reached.
 */
int policy_parse_buffer_until(const char *text, size_t len, const char *file_name,
			      uint64_t deadline_usec, struct policy_document **ret_doc,
			      struct policy_errors *errs);

/*
 * The last document read by policy_parse_reuse(), kept (text, tree and item spans; up to
 * 4 MiB of ASCII text) so that the next one re-parses only the items whose lines changed.
 * Use from one thread at a time.
 */
struct policy_reuse;

struct policy_reuse_stats {
	unsigned long whole;  /* documents parsed whole */
	unsigned long reused; /* documents read by re-parsing changed items only */
	size_t reread_bytes;  /* text the last document had parsed */
};

struct policy_reuse *policy_reuse_new(void);
void policy_reuse_free(struct policy_reuse *reuse);
const struct policy_reuse_stats *policy_reuse_stats(const struct policy_reuse *reuse);

/**
 * policy_parse_reuse() - policy_parse_buffer() with what @reuse keeps of the last document:
 * the same document (lines included) or the same errors, usually much sooner for a document
 * that differs from the last in a few items. A document with errors is not kept.
 */
int policy_parse_reuse(struct policy_reuse *reuse, const char *text, size_t len,
		       const char *file_name, struct policy_document **ret_doc,
		       struct policy_errors *errs);

/*
 * Tests: 1 if the tree @reuse keeps equals a whole parse of the text it keeps (every node,
 * line and child), 0 if not, -1 if it keeps none.
 */
int policy_reuse_check(const struct policy_reuse *reuse);

/* As policy_parse_buffer() on a file's contents; -errno if it cannot be read (also in errs). */
int policy_parse_file(const char *path, struct policy_document **ret_doc,
		      struct policy_errors *errs);

/**
 * policy_validate() - cross-reference checks of a parsed document: names unique, groups
 * defined (and resolves rule.group_index / endpoint.group_index), ports only with tcp, udp or
 * sctp, addresses unicast and owned by one endpoint, endpoints attachable, document not empty.
 *
 * Return: 0 or -EINVAL (errors appended to @errs).
 */
int policy_validate(struct policy_document *doc, const char *file_name,
		    struct policy_errors *errs);

/* Parses "80" or "8000-8080" (1..65535, lo <= hi). Return 0 or -EINVAL / -ERANGE. */
int policy_parse_port_range(const char *text, struct policy_port_range *ret);

/* Protocol names as in CONTRACT.md; numbers 0..255. Return 0 or -EINVAL. */
int policy_parse_protocol(const char *text, int *ret);
const char *policy_protocol_name(int proto); /* "tcp", ..., "any", or NULL for others */

#endif /* IOFENCE_POLICY_PARSE_H */
