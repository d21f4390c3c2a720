// SPDX-License-Identifier: Apache-2.0
/* The follower's batch window (batch_window.h): the rule alone, on times passed in. */
#include "batch_window.h"

uint64_t batch_window_open(struct batch_window *b, uint64_t first_usec)
{
	/* a change that arrives during an apply is churn too */
	bool churn = b->applying ||
		     (b->last_end_usec &&
		      first_usec < b->last_end_usec + BATCH_WINDOW_CHURN_GAP_MS * 1000ull);
	uint32_t w = 0; /* alone: the leading edge, applied as it arrives */

	if (churn) {
		w = b->window_ms * 2;
		if (w < BATCH_WINDOW_MIN_MS)
			w = BATCH_WINDOW_MIN_MS;
		if (w > BATCH_WINDOW_MAX_MS)
			w = BATCH_WINDOW_MAX_MS;
	}
	b->window_ms = w;
	return first_usec + w * 1000ull;
}

void batch_window_applying(struct batch_window *b)
{
	b->applying = true;
}

void batch_window_applied(struct batch_window *b, uint64_t end_usec)
{
	b->applying = false;
	b->last_end_usec = end_usec;
}
