/* SPDX-License-Identifier: Apache-2.0 */
/* "Did you mean ...?": the closest known name to a misspelled one (policy/suggest.c). */
#ifndef IOFENCE_POLICY_SUGGEST_H
#define IOFENCE_POLICY_SUGGEST_H

#include <stddef.h>

/*
 * The candidate closest to name by edit distance (insertions, deletions, substitutions,
 * letter case ignored), if it is close enough to be a likely misspelling (at most 1 edit for
 * names up to 4 letters, 2 up to 8, 3 beyond); else NULL. candidates: n names, or NULL-ended
 * when n is 0.
 */
const char *policy_closest(const char *name, const char *const *candidates, size_t n);

#endif /* IOFENCE_POLICY_SUGGEST_H */
