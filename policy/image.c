// SPDX-License-Identifier: Apache-2.0
/*
 * Map images (policy/image.h): capacity checks, freeing, and the user-space lookup that
 * performs the datapath's lookups over the image's entries.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "lpm.h"

struct image_index {
	struct lpm_table *remote4, *remote6, *policy;
};

static void index_free(struct image_index *ix)
{
	if (!ix)
		return;
	lpm_free(ix->remote4);
	lpm_free(ix->remote6);
	lpm_free(ix->policy);
	free(ix);
}

void policy_image_free(struct policy_image *img)
{
	if (!img)
		return;
	index_free(img->index);
	free(img->remote4);
	free(img->remote6);
	free(img->policy);
	free(img->any_ports);
	free(img->any_groups);
	free(img->endpoints);
	free(img->rules);
	free(img->prefilter);
	free(img);
}

void policy_image_release_entries(struct policy_image *img)
{
	index_free(img->index);
	img->index = NULL;
	free(img->remote4);
	free(img->remote6);
	free(img->policy);
	free(img->any_ports);
	img->remote4 = NULL;
	img->remote6 = NULL;
	img->policy = NULL;
	img->any_ports = NULL;
	img->entries_released = true;
}

int policy_image_check_capacity(const struct policy_image *img, char *msg, size_t msg_len)
{
	const struct {
		const char *map;
		size_t have, cap;
	} limits[] = {
	    {"endpoints", img->n_endpoints, IOF_MAX_ENDPOINTS},
	    {"rules", img->n_rules, IOF_MAX_RULES},
	    {"iof_remote4", img->n_remote4, IOF_MAX_REMOTE_ENTRIES},
	    {"iof_remote6", img->n_remote6, IOF_MAX_REMOTE_ENTRIES},
	    {"iof_policy", img->n_policy, IOF_MAX_POLICY_ENTRIES},
	    {"iof_prefilter", img->n_prefilter, IOF_MAX_PREFILTER_ENTRIES},
	};

	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		if (limits[i].have > limits[i].cap) {
			snprintf(msg, msg_len, "%s: %zu entries exceed the capacity of %zu",
				 limits[i].map, limits[i].have, limits[i].cap);
			return -E2BIG;
		}
	}
	return 0;
}

static int index_build(struct policy_image *img)
{
	struct image_index *ix = calloc(1, sizeof(*ix));
	int err;

	if (!ix)
		return -ENOMEM;
	err = lpm_build(img->remote4, img->n_remote4, sizeof(struct iof_remote4_key),
			sizeof(*img->remote4), &ix->remote4);
	if (!err)
		err = lpm_build(img->remote6, img->n_remote6, sizeof(struct iof_remote6_key),
				sizeof(*img->remote6), &ix->remote6);
	if (!err)
		err = lpm_build(img->policy, img->n_policy, sizeof(struct iof_policy_key),
				sizeof(*img->policy), &ix->policy);
	if (err) {
		index_free(ix);
		return err;
	}
	img->index = ix;
	return 0;
}

/* The class to look up first: IOF_CLASS_ANY when the class has no rules in direction dir. */
static uint32_t remote_class(const struct policy_image *img, uint32_t profile, unsigned dir,
			     const struct policy_prefix *addr)
{
	const struct iof_remote_val *v;
	long i;

	if (addr->family == 4) {
		struct iof_remote4_key k = {.prefixlen = IOF_REMOTE_PREFIX_BASE + 32,
					    .profile = profile};

		memcpy(k.addr, addr->addr, 4);
		i = lpm_lookup(img->index->remote4, &k);
		v = i < 0 ? NULL : &img->remote4[i].val;
	} else {
		struct iof_remote6_key k = {.prefixlen = IOF_REMOTE_PREFIX_BASE + 128,
					    .profile = profile};

		memcpy(k.addr, addr->addr, 16);
		i = lpm_lookup(img->index->remote6, &k);
		v = i < 0 ? NULL : &img->remote6[i].val;
	}
	return v && (v->flags & (1u << dir)) ? v->remote_class : IOF_CLASS_ANY;
}

static const struct iof_policy_val *policy_lookup(const struct policy_image *img,
						  const struct image_packet *pkt, uint32_t cls)
{
	struct iof_policy_key k = {.prefixlen = IOF_POLICY_PLEN_MAX};
	long i;

	k.dir = pkt->direction == POLICY_INGRESS ? IOF_DIR_INGRESS : IOF_DIR_EGRESS;
	k.profile = img->endpoints[pkt->endpoint_index].profile;
	k.remote_class = cls;
	k.proto = pkt->proto;
	k.dport = htons(policy_proto_has_ports(pkt->proto) ? pkt->dport : 0);
	i = lpm_lookup(img->index->policy, &k);
	return i < 0 ? NULL : &img->policy[i].val;
}

int policy_image_lookup(const struct policy_image *cimg, const struct image_packet *pkt,
			struct image_verdict *ret)
{
	struct policy_image *img = (struct policy_image *)cimg; /* the index is a cache */
	const struct iof_policy_val *v, *any;
	uint32_t cls;
	int err;

	if (img->entries_released)
		return -ENODATA;
	if (!img->index && (err = index_build(img)))
		return err;
	if (pkt->endpoint_index >= img->n_endpoints)
		return -ENOENT;
	cls = remote_class(img, img->endpoints[pkt->endpoint_index].profile,
			   pkt->direction == POLICY_INGRESS ? IOF_DIR_INGRESS : IOF_DIR_EGRESS,
			   &pkt->remote);
	ret->lookups = 2;
	v = policy_lookup(img, pkt, cls);
	if (!v)
		return -ENOENT;
	if (cls != IOF_CLASS_ANY && !(v->flags & IOF_F_FINAL)) {
		ret->lookups = 3;
		any = policy_lookup(img, pkt, IOF_CLASS_ANY);
		if (!any)
			return -ENOENT;
		if (any->rank < v->rank)
			v = any;
	}
	ret->action = v->action == IOF_ACT_ALLOW ? POLICY_ALLOW : POLICY_DENY;
	ret->audit = v->flags & IOF_F_AUDIT;
	ret->is_default = v->flags & IOF_F_DEFAULT;
	ret->rule_id = v->rule_id;
	return 0;
}
