/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Whether two documents carry the same source lines (groups, rules, endpoints, prefilters):
 * what policy_document_equal() leaves out, for tests that compare two readings of one text.
 * Both must be equal documents (policy_document_equal()) first.
 */
#ifndef IOFENCE_TESTS_DOC_LINES_H
#define IOFENCE_TESTS_DOC_LINES_H

#include <stdbool.h>

#include "policy/model.h"

static inline bool policy_lines_equal(const struct policy_document *a,
				      const struct policy_document *b)
{
	for (size_t g = 0; g < a->n_groups; g++) {
		if (a->groups[g].line != b->groups[g].line)
			return false;
		for (size_t r = 0; r < a->groups[g].n_rules; r++)
			if (a->groups[g].rules[r].line != b->groups[g].rules[r].line)
				return false;
	}
	for (size_t e = 0; e < a->n_endpoints; e++)
		if (a->endpoints[e].line != b->endpoints[e].line)
			return false;
	for (size_t p = 0; p < a->n_prefilters; p++)
		if (a->prefilters[p].line != b->prefilters[p].line)
			return false;
	return true;
}

#endif /* IOFENCE_TESTS_DOC_LINES_H */
