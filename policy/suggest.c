// SPDX-License-Identifier: Apache-2.0
/* The closest known name to a misspelled one (policy/suggest.h): a bounded edit distance. */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "suggest.h"

#define NAME_MAX_LEN 64 /* longer names are not compared */

static bool same(char a, char b)
{
	return tolower((unsigned char)a) == tolower((unsigned char)b);
}

/* Optimal string alignment distance: a swap of two neighbours ("wbe") is one edit. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), d[NAME_MAX_LEN + 1][NAME_MAX_LEN + 1];

	if (la > NAME_MAX_LEN || lb > NAME_MAX_LEN)
		return (size_t)-1;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			size_t best = d[i - 1][j - 1] + !same(a[i - 1], b[j - 1]);

			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && same(a[i - 1], b[j - 2]) && same(a[i - 2], b[j - 1]) &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	return d[la][lb];
}

const char *policy_closest(const char *name, const char *const *candidates, size_t n)
{
	size_t len = strlen(name), limit = len <= 4 ? 1 : len <= 8 ? 2 : 3, best_d = limit + 1;
	const char *best = NULL;

	for (size_t i = 0; n ? i < n : candidates[i] != NULL; i++) {
		size_t d = candidates[i] ? distance(name, candidates[i]) : (size_t)-1;

		if (d < best_d && strcmp(name, candidates[i])) {
			best_d = d;
			best = candidates[i];
		}
	}
	return best;
}
