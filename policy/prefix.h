/* SPDX-License-Identifier: Apache-2.0 */
/*
 * IPv4/IPv6 prefixes and host addresses as struct policy_prefix: parsing, formatting and
 * the few predicates the validator and the compiler need.
 */
#ifndef IOFENCE_POLICY_PREFIX_H
#define IOFENCE_POLICY_PREFIX_H

#include "model.h"

#define PREFIX_STR_MAX 64 /* "ffff:...:ffff/128" and NUL */

/*
 * Parses "10.0.0.0/8", "fd00::/64" or a bare address (host prefix). Return 0; -EINVAL if it
 * is not a prefix; -EADDRNOTAVAIL if host bits are set past the length (ret is then the
 * masked network, for the "did you mean" hint).
 */
int prefix_parse(const char *text, struct policy_prefix *ret);

/* Formats p as "addr/len", or just "addr" when host is true and p is a host prefix. */
void prefix_format(const struct policy_prefix *p, bool host, char buf[PREFIX_STR_MAX]);

static inline unsigned prefix_max_len(const struct policy_prefix *p)
{
	return p->family == 4 ? 32 : 128;
}

static inline bool prefix_is_host(const struct policy_prefix *p)
{
	return p->len == prefix_max_len(p);
}

/* True if inner lies inside outer (same family, outer no longer, leading bits equal). */
bool prefix_covers(const struct policy_prefix *outer, const struct policy_prefix *inner);

bool prefix_equal(const struct policy_prefix *a, const struct policy_prefix *b);

/* Clears every bit past p->len. */
void prefix_mask(struct policy_prefix *p);

/* Bit i (0 = most significant bit of addr[0]). */
static inline unsigned prefix_bit(const uint8_t *addr, unsigned i)
{
	return (addr[i / 8] >> (7 - i % 8)) & 1;
}

/* Why a host address is not a unicast workload address, or NULL if it is one. */
const char *prefix_unicast_problem(const struct policy_prefix *p);

#endif /* IOFENCE_POLICY_PREFIX_H */
