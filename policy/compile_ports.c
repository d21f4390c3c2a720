// SPDX-License-Identifier: Apache-2.0
/*
 * The listed any-remote ports of one profile (bpf/policy_layout.h: iof_any_ports): for each
 * direction and port protocol, the IOF_CLASS_ANY port entries of the profile's template expanded
 * to one entry per covered port holding the longest match among them, when they cover at most
 * IOF_ANY_PORTS_GROUP_MAX ports and the image has room.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compile_internal.h"
#include "vec.h"

/* One port of one port entry: sorted by port, then longest prefix first. */
struct covered {
	uint16_t port;
	uint8_t plen;
	uint32_t entry; /* index in the template */
};

static int covered_cmp(const void *a, const void *b)
{
	const struct covered *x = a, *y = b;

	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	return (int)y->plen - (int)x->plen;
}

static bool in_group(const struct layout_policy *e, uint8_t dir, uint8_t proto)
{
	return layout_policy_class(&e->key) == IOF_CLASS_ANY && e->key.dir == dir &&
	       e->key.proto == proto && e->key.prefixlen > IOF_POLICY_PLEN_PROTO;
}

/* Ports the group's entries cover, overlaps counted; stops counting past the cap. */
static size_t group_ports(const struct compile_ctx *ctx, uint8_t dir, uint8_t proto)
{
	size_t n = 0;

	for (size_t i = 0; i < ctx->n_tmpl && n <= IOF_ANY_PORTS_GROUP_MAX; i++)
		if (in_group(&ctx->tmpl[i], dir, proto))
			n += (size_t)1 << (IOF_POLICY_PLEN_MAX - ctx->tmpl[i].key.prefixlen);
	return n;
}

/* Lists one group's ports (n of them counted) for profile. */
static int list_group(struct compile_ctx *ctx, struct covered *cov, size_t n, uint32_t profile,
		      uint8_t dir, uint8_t proto, size_t *cap)
{
	struct policy_image *img = ctx->img;
	size_t k = 0;

	for (size_t i = 0; i < ctx->n_tmpl; i++) {
		const struct layout_policy *e = &ctx->tmpl[i];

		if (!in_group(e, dir, proto))
			continue;
		uint32_t size = 1u << (IOF_POLICY_PLEN_MAX - e->key.prefixlen);
		uint32_t lo = ntohs(e->key.dport);

		for (uint32_t p = lo; p < lo + size && k < n; p++)
			cov[k++] = (struct covered){.port = (uint16_t)p,
						    .plen = (uint8_t)e->key.prefixlen,
						    .entry = (uint32_t)i};
	}
	qsort(cov, k, sizeof(*cov), covered_cmp);
	for (size_t i = 0; i < k; i++) {
		if (i && cov[i].port == cov[i - 1].port)
			continue; /* a shorter prefix: the longest match is listed already */
		struct layout_any_port *a = VEC_PUSH(img->any_ports, img->n_any_ports, *cap);

		if (!a)
			return -ENOMEM;
		*a = layout_any_port_entry(profile, dir, proto, cov[i].port,
					   ctx->tmpl[cov[i].entry].val);
	}
	return 0;
}

/* The group's longest match above its port entries: protocol, class or endpoint default. */
static int list_group_verdict(struct compile_ctx *ctx, uint32_t profile, uint8_t dir, uint8_t proto)
{
	const struct layout_policy *best = NULL;
	struct layout_any_group *g;

	for (size_t i = 0; i < ctx->n_tmpl; i++) {
		const struct layout_policy *e = &ctx->tmpl[i];
		uint32_t plen = e->key.prefixlen;

		if (layout_policy_class(&e->key) != IOF_CLASS_ANY || e->key.dir != dir ||
		    plen > IOF_POLICY_PLEN_PROTO ||
		    (plen == IOF_POLICY_PLEN_PROTO && e->key.proto != proto))
			continue;
		if (!best || plen > best->key.prefixlen)
			best = e;
	}
	if (!best)
		return -EINVAL; /* every profile has its default for each direction */
	g = VEC_PUSH(ctx->img->any_groups, ctx->img->n_any_groups, ctx->cap_any_groups);
	if (!g)
		return -ENOMEM;
	*g = layout_any_group_entry(profile, (uint32_t)iof_any_group_of(dir, proto), best->val);
	return 0;
}

int compile_any_ports(struct compile_ctx *ctx, uint32_t profile, uint16_t *ret_bits)
{
	static const uint8_t protos[] = {6, 17, 132};
	struct covered *cov = malloc(IOF_ANY_PORTS_GROUP_MAX * sizeof(*cov));
	int err = cov ? 0 : -ENOMEM;

	*ret_bits = 0;
	for (uint8_t dir = 0; dir < 2 && !err; dir++)
		for (size_t p = 0; p < sizeof(protos) && !err; p++) {
			size_t n = group_ports(ctx, dir, protos[p]);

			/* nothing to list (the walk stops at the protocol anyway), or too much */
			if (!n || n > IOF_ANY_PORTS_GROUP_MAX ||
			    ctx->img->n_any_ports + n > IOF_MAX_ANY_PORTS)
				continue;
			err = list_group(ctx, cov, n, profile, dir, protos[p], &ctx->cap_any_ports);
			if (!err)
				err = list_group_verdict(ctx, profile, dir, protos[p]);
			*ret_bits |= iof_any_ports_bit(dir, protos[p]);
		}
	free(cov);
	return err;
}
