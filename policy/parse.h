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
#include "read_clock.h"

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
 * at most 64 levels, a mapping has at most 64 keys, a text at most 64 anchors, no alias and
 * at most 16 %TAG directives, each refused with a `file:line: document: ...` error where it
 * was found; the walk stops after 100 errors with `too many errors`. Parsing is linear in the
 * text's size.
 *
 * policy_parse_buffer_until() - policy_parse_buffer() that gives up at @stop: -ETIME, with an
 * error naming the line reached. The CPU time is the budget of the work a text may cost, which
 * a busy machine does not shorten; the deadline is the caller's (a client's) wall clock.
 */
struct policy_parse_stop {
	uint64_t deadline_usec; /* CLOCK_MONOTONIC microseconds; 0: none */
	uint64_t cpu_usec;	/* CPU time of the calling thread spent parsing; 0: none */
	/*
	 * A wall-clock budget (CLOCK_MONOTONIC microseconds; 0: none) that stops the parse only
	 * once it has also had wall_min_cpu_usec of CPU time (0: at once): on a node short of
	 * CPU a cheap document is read to its end, an expensive one is stopped.
	 */
	uint64_t wall_by_usec;
	uint64_t wall_min_cpu_usec;
};

/* The clocks of stop (NULL: none) for a read starting now on the calling thread. */
struct read_clock policy_parse_stop_clock(const struct policy_parse_stop *stop);

int policy_parse_buffer_until(const char *text, size_t len, const char *file_name,
			      const struct policy_parse_stop *stop,
			      struct policy_document **ret_doc, struct policy_errors *errs);

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
int policy_validate(struct policy_document *doc, const char *file_name, struct policy_errors *errs);

/*
 * policy_validate_endpoints() - the checks of policy_validate() that involve endpoints (names
 * unique, groups defined, attachable, addresses owned once), for a document whose groups and
 * prefilters were validated before (policy/derive.h): its cost follows the endpoints, not the
 * rules. Return: 0, -EINVAL (errors appended to @errs) or -ENOMEM.
 */
int policy_validate_endpoints(struct policy_document *doc, const char *file_name,
			      struct policy_errors *errs);

/*
 * policy_validate_endpoints_changed() - policy_validate_endpoints() for a document that differs
 * from a valid one only by the endpoints flagged in changed[0..n_endpoints) (added or
 * replaced; others removed), its groups the same: the unchanged endpoints keep their
 * resolved groups (group_index set by the caller), the changed ones are checked, their
 * addresses against every other endpoint's. Should any check fail, the document is validated
 * whole by policy_validate_endpoints(), so the errors are exactly its errors.
 * Return: as policy_validate_endpoints().
 */
int policy_validate_endpoints_changed(struct policy_document *doc, const bool *changed,
				      const char *file_name, struct policy_errors *errs);

/*
 * policy_validate_groups() - the checks of policy_validate() for the groups at which[0..n)
 * (their rules, rule names, remote groups defined) and group names unique, for a document
 * whose other groups were validated before (policy/derive.h). Return: 0, -EINVAL (errors
 * appended to @errs) or -ENOMEM.
 */
int policy_validate_groups(struct policy_document *doc, const size_t *which, size_t n,
			   const char *file_name, struct policy_errors *errs);

/* Parses "80" or "8000-8080" (1..65535, lo <= hi). Return 0 or -EINVAL / -ERANGE. */
int policy_parse_port_range(const char *text, struct policy_port_range *ret);

/* Protocol names as in CONTRACT.md; numbers 0..255. Return 0 or -EINVAL. */
int policy_parse_protocol(const char *text, int *ret);
const char *policy_protocol_name(int proto); /* "tcp", ..., "any", or NULL for others */

#endif /* IOFENCE_POLICY_PARSE_H */
