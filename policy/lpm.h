/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A user-space longest-prefix-match table with the semantics of BPF_MAP_TYPE_LPM_TRIE:
 * keys are {u32 prefixlen; u8 data[]}, an entry matches a query when its first prefixlen bits
 * of data equal the query's. Built once, then read-only. Used to check map images without a
 * kernel; one hash table per present prefix length, probed from the longest.
 */
#ifndef IOFENCE_POLICY_LPM_H
#define IOFENCE_POLICY_LPM_H

#include <stddef.h>
#include <stdint.h>

#define LPM_DATA_MAX 24

struct lpm_table;

/* keys: n entries of key_size bytes each, spaced stride bytes apart (prefixlen first). */
int lpm_build(const void *keys, size_t n, size_t key_size, size_t stride,
	      struct lpm_table **ret);

/* Index of the longest match for the full-length query key (its prefixlen is ignored), or -1. */
long lpm_lookup(const struct lpm_table *t, const void *query_key);

void lpm_free(struct lpm_table *t);

#endif /* IOFENCE_POLICY_LPM_H */
