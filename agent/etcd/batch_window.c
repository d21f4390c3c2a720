// SPDX-License-Identifier: Apache-2.0
/* The follower's batch window (batch_window.h): the rule alone, on times passed in. */
#include <stdbool.h>

#include "batch_window.h"

uint64_t batch_window_open(struct batch_window *b, uint64_t first_usec)
{
	/* a change that arrived during the last apply (first < end) is churn too */
	bool churn = b->last_end_usec &&
		     first_usec < b->last_end_usec + BATCH_WINDOW_CHURN_GAP_MS * 1000ull;
	uint32_t w = churn ? b->window_ms * 2 : BATCH_WINDOW_MIN_MS;

	if (w < BATCH_WINDOW_MIN_MS)
		w = BATCH_WINDOW_MIN_MS;
	if (w > BATCH_WINDOW_MAX_MS)
		w = BATCH_WINDOW_MAX_MS;
	b->window_ms = w;
	return first_usec + w * 1000ull;
}

void batch_window_applied(struct batch_window *b, uint64_t end_usec)
{
	b->last_end_usec = end_usec;
}
