// SPDX-License-Identifier: Apache-2.0
/*
 * Prefix parsing and predicates. Families are stored as 4 and 6 (not AF_*) so the policy
 * layer needs no socket headers; inet_pton does the address syntax.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prefix.h"

void prefix_mask(struct policy_prefix *p)
{
	unsigned max = prefix_max_len(p);

	for (unsigned i = p->len; i < max; i++)
		p->addr[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
	if (p->family == 4)
		memset(p->addr + 4, 0, 12);
}

int prefix_parse(const char *text, struct policy_prefix *ret)
{
	char buf[PREFIX_STR_MAX];
	const char *slash = strchr(text, '/');
	size_t addr_len = slash ? (size_t)(slash - text) : strlen(text);
	struct policy_prefix p = {0};

	if (addr_len == 0 || addr_len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, text, addr_len);
	buf[addr_len] = '\0';
	if (inet_pton(AF_INET, buf, p.addr) == 1)
		p.family = 4;
	else if (inet_pton(AF_INET6, buf, p.addr) == 1)
		p.family = 6;
	else
		return -EINVAL;

	p.len = (uint8_t)prefix_max_len(&p);
	if (slash) {
		const char *digits = slash + 1;
		char *end;
		unsigned long len;

		if (*digits < '0' || *digits > '9' || strlen(digits) > 3)
			return -EINVAL;
		len = strtoul(digits, &end, 10);
		if (*end != '\0' || len > prefix_max_len(&p))
			return -EINVAL;
		p.len = (uint8_t)len;
	}

	struct policy_prefix masked = p;
	prefix_mask(&masked);
	*ret = masked;
	return prefix_equal(&masked, &p) ? 0 : -EADDRNOTAVAIL;
}

/* Writes v (0..255) in decimal; returns the end. */
static char *put_u8(char *at, unsigned v)
{
	if (v >= 100)
		*at++ = (char)('0' + v / 100);
	if (v >= 10)
		*at++ = (char)('0' + v / 10 % 10);
	*at++ = (char)('0' + v % 10);
	return at;
}

void prefix_format(const struct policy_prefix *p, bool host, char buf[PREFIX_STR_MAX])
{
	char *at = buf;

	/* IPv4 by hand: documents hold tens of thousands, and inet_ntop() goes through printf */
	if (p->family == 4) {
		for (int i = 0; i < 4; i++) {
			if (i)
				*at++ = '.';
			at = put_u8(at, p->addr[i]);
		}
	} else {
		inet_ntop(AF_INET6, p->addr, buf, PREFIX_STR_MAX);
		at += strlen(buf);
	}
	if (!(host && prefix_is_host(p))) {
		*at++ = '/';
		at = put_u8(at, p->len);
	}
	*at = '\0';
}

bool prefix_equal(const struct policy_prefix *a, const struct policy_prefix *b)
{
	return a->family == b->family && a->len == b->len &&
	       memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

bool prefix_covers(const struct policy_prefix *outer, const struct policy_prefix *inner)
{
	unsigned full, rest;

	if (outer->family != inner->family || outer->len > inner->len)
		return false;
	full = outer->len / 8;
	rest = outer->len % 8;
	if (memcmp(outer->addr, inner->addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xffu << (8 - rest));
	return (outer->addr[full] & mask) == (inner->addr[full] & mask);
}

const char *prefix_unicast_problem(const struct policy_prefix *p)
{
	static const uint8_t zero[16];
	const uint8_t *a = p->addr;

	if (!prefix_is_host(p))
		return "must be a host address, not a prefix";
	if (p->family == 4) {
		if (memcmp(a, zero, 4) == 0)
			return "unspecified address is not a unicast address";
		if (a[0] >= 224 && a[0] <= 239)
			return "multicast address is not a unicast address";
		if (a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255)
			return "broadcast address is not a unicast address";
		if (a[0] == 127)
			return "loopback address is not a workload address";
		if (a[0] >= 240)
			return "reserved (class E) address is not a unicast address";
		return NULL;
	}
	if (memcmp(a, zero, 16) == 0)
		return "unspecified address is not a unicast address";
	if (a[0] == 0xff)
		return "multicast address is not a unicast address";
	if (memcmp(a, zero, 15) == 0 && a[15] == 1)
		return "loopback address is not a workload address";
	return NULL;
}
