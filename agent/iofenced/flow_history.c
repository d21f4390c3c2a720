// SPDX-License-Identifier: Apache-2.0
/* The recent verdict events (flow_history.h): a ring of records ordered by sequence number. */
#include <errno.h>
#include <stdlib.h>

#include "flow_history.h"

int flow_history_init(struct flow_history *h, size_t cap)
{
	*h = (struct flow_history){.cap = cap, .next_seq = 1};
	if (!cap)
		return 0;
	h->ring = calloc(cap, sizeof(*h->ring));
	return h->ring ? 0 : -ENOMEM;
}

void flow_history_free(struct flow_history *h)
{
	free(h->ring);
	h->ring = NULL;
	h->cap = h->count = 0;
}

void flow_history_set_next(struct flow_history *h, uint64_t seq)
{
	if (!h->count)
		h->next_seq = seq;
}

void flow_history_push(struct flow_history *h, const struct iof_event *ev, uint64_t seq)
{
	if (seq < h->next_seq) /* a new ring numbers from 1 again */
		h->first = h->count = 0;
	h->next_seq = seq + 1;
	if (!h->cap)
		return;
	if (h->count == h->cap) {
		h->first = (h->first + 1) % h->cap;
		h->count--;
	}
	h->ring[(h->first + h->count) % h->cap] = (struct flow_record){.ev = *ev, .seq = seq};
	h->count++;
}

const struct flow_record *flow_history_at(const struct flow_history *h, size_t i)
{
	return &h->ring[(h->first + i) % h->cap];
}

size_t flow_history_find(const struct flow_history *h, uint64_t seq)
{
	size_t lo = 0, hi = h->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (flow_history_at(h, mid)->seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint64_t flow_history_oldest(const struct flow_history *h)
{
	return h->count ? flow_history_at(h, 0)->seq : h->next_seq;
}
