// SPDX-License-Identifier: Apache-2.0
/* LPM lookups over image entries (policy/lpm.h): a hash per prefix length, longest first. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lpm.h"

struct lpm_slot {
	uint32_t plen;
	uint32_t index_plus_one; /* 0: empty */
	uint8_t data[LPM_DATA_MAX];
};

struct lpm_table {
	size_t data_len;
	uint32_t plens[LPM_DATA_MAX * 8 + 1]; /* present prefix lengths, longest first */
	size_t n_plens;
	struct lpm_slot *slots;
	size_t mask;
};

static void mask_data(uint8_t *out, const uint8_t *in, size_t len, uint32_t plen)
{
	for (size_t i = 0; i < len; i++) {
		uint32_t bit = (uint32_t)i * 8;

		if (bit + 8 <= plen)
			out[i] = in[i];
		else if (bit >= plen)
			out[i] = 0;
		else
			out[i] = in[i] & (uint8_t)(0xff00u >> (plen - bit));
	}
}

static uint64_t slot_hash(uint32_t plen, const uint8_t *data, size_t len)
{
	uint64_t h = 1469598103934665603ull ^ plen;

	for (size_t i = 0; i < len; i++)
		h = (h ^ data[i]) * 1099511628211ull;
	return h ^ (h >> 31);
}

int lpm_build(const void *keys, size_t n, size_t key_size, size_t stride,
	      struct lpm_table **ret)
{
	struct lpm_table *t = calloc(1, sizeof(*t));
	bool present[LPM_DATA_MAX * 8 + 1] = {false};
	size_t size = 16;

	if (!t)
		return -ENOMEM;
	t->data_len = key_size - sizeof(uint32_t);
	while (size < n * 2 + 2)
		size *= 2;
	t->slots = calloc(size, sizeof(*t->slots));
	if (!t->slots) {
		free(t);
		return -ENOMEM;
	}
	t->mask = size - 1;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *key = (const uint8_t *)keys + i * stride;
		uint32_t plen;
		uint8_t data[LPM_DATA_MAX] = {0};

		memcpy(&plen, key, sizeof(plen));
		if (plen > t->data_len * 8) {
			lpm_free(t);
			return -EINVAL;
		}
		mask_data(data, key + sizeof(plen), t->data_len, plen);
		size_t k = slot_hash(plen, data, t->data_len) & t->mask;

		while (t->slots[k].index_plus_one &&
		       !(t->slots[k].plen == plen && !memcmp(t->slots[k].data, data, t->data_len)))
			k = (k + 1) & t->mask;
		/* a duplicate key replaces the earlier one, as a map update would */
		t->slots[k].plen = plen;
		t->slots[k].index_plus_one = (uint32_t)i + 1;
		memcpy(t->slots[k].data, data, t->data_len);
		present[plen] = true;
	}
	for (int plen = (int)(t->data_len * 8); plen >= 0; plen--)
		if (present[plen])
			t->plens[t->n_plens++] = (uint32_t)plen;
	*ret = t;
	return 0;
}

long lpm_lookup(const struct lpm_table *t, const void *query_key)
{
	const uint8_t *query = (const uint8_t *)query_key + sizeof(uint32_t);
	uint8_t data[LPM_DATA_MAX];

	for (size_t p = 0; p < t->n_plens; p++) {
		uint32_t plen = t->plens[p];

		mask_data(data, query, t->data_len, plen);
		for (size_t k = slot_hash(plen, data, t->data_len) & t->mask;
		     t->slots[k].index_plus_one; k = (k + 1) & t->mask)
			if (t->slots[k].plen == plen && !memcmp(t->slots[k].data, data, t->data_len))
				return (long)t->slots[k].index_plus_one - 1;
	}
	return -1;
}

void lpm_free(struct lpm_table *t)
{
	if (!t)
		return;
	free(t->slots);
	free(t);
}
