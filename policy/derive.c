// SPDX-License-Identifier: Apache-2.0
/*
 * Documents derived by changes (policy/derive.h): the endpoints are copied (a few hundred
 * small records), the rules of unchanged groups are shared, a changed group is read anew.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "derive.h"
#include "parse.h"
#include "pb.h"

static char *dup_opt(const char *s, bool *oom)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	*oom |= !d;
	return d;
}

static void *dup_mem(const void *p, size_t n, size_t size, bool *oom)
{
	void *d = malloc(n ? n * size : 1);

	if (!d)
		*oom = true;
	else if (n)
		memcpy(d, p, n * size);
	return d;
}

/* A deep copy of src into dst (group indexes are resolved again by the validation). */
static int endpoint_copy(struct policy_endpoint *dst, const struct policy_endpoint *src)
{
	bool oom = false;

	*dst = *src;
	dst->name = dup_opt(src->name, &oom);
	dst->node = dup_opt(src->node, &oom);
	dst->interface = dup_opt(src->interface, &oom);
	dst->cgroup = dup_opt(src->cgroup, &oom);
	dst->addresses = dup_mem(src->addresses, src->n_addresses, sizeof(*src->addresses), &oom);
	dst->group_index = NULL;
	dst->groups = calloc(src->n_groups ? src->n_groups : 1, sizeof(*dst->groups));
	if (!dst->groups) {
		oom = true;
		dst->n_groups = 0;
	}
	for (size_t g = 0; dst->groups && g < src->n_groups; g++)
		dst->groups[g] = dup_opt(src->groups[g], &oom);
	if (oom) {
		policy_endpoint_clear(dst);
		return -ENOMEM;
	}
	return 0;
}

static int copy_resolution(struct policy_endpoint *dst, const struct policy_endpoint *src)
{
	bool oom = false;

	dst->group_index = dup_mem(src->group_index, src->n_groups, sizeof(*src->group_index), &oom);
	return oom ? -ENOMEM : 0;
}

static long find_endpoint(const struct policy_document *doc, const char *name);

/*
 * Only endpoints changed: the others were valid with these groups, so the checks concern the
 * endpoints put (policy_validate_endpoints_changed); any error and the document is checked
 * whole, with the same errors as always.
 */
static int validate_changed(struct policy_document *doc, const struct policy_changes *ch,
			    const char *file, struct policy_errors *errs)
{
	bool *changed = calloc(doc->n_endpoints + 1, sizeof(*changed));
	int r;

	if (!changed)
		return -ENOMEM;
	for (size_t i = 0; i < ch->n_endpoints; i++) {
		long at = ch->endpoints[i].put ? find_endpoint(doc, ch->endpoints[i].name) : -1;

		if (at >= 0)
			changed[at] = true;
	}
	r = policy_validate_endpoints_changed(doc, changed, file, errs);
	free(changed);
	return r;
}

static long find_endpoint(const struct policy_document *doc, const char *name)
{
	for (size_t e = 0; e < doc->n_endpoints; e++)
		if (doc->endpoints[e].name && !strcmp(doc->endpoints[e].name, name))
			return (long)e;
	return -1;
}

/* Where ep goes among doc's endpoints (sorted by order). */
static size_t insert_at(const struct policy_document *doc, const struct policy_endpoint *ep,
			policy_endpoint_order order)
{
	size_t lo = 0, hi = doc->n_endpoints;

	if (!order)
		return hi;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (order(&doc->endpoints[mid], ep) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Applies one change to doc's endpoint array (room for one more is there). */
static int apply_change(struct policy_document *doc, const struct policy_endpoint_change *c,
			policy_endpoint_order order, const char *file,
			struct policy_errors *errs)
{
	long at = find_endpoint(doc, c->name);
	struct policy_endpoint ep;
	char path[64];
	int r;

	if (!c->put) {
		if (at < 0)
			return 0;
		policy_endpoint_clear(&doc->endpoints[at]);
		memmove(&doc->endpoints[at], &doc->endpoints[at + 1],
			(doc->n_endpoints - (size_t)at - 1) * sizeof(ep));
		doc->n_endpoints--;
		return 0;
	}
	snprintf(path, sizeof(path), "endpoints[%zu]", at < 0 ? doc->n_endpoints : (size_t)at);
	r = policy_endpoint_from_pb(c->put, file, path, &ep, errs);
	if (r)
		return r;
	if (!ep.name || strcmp(ep.name, c->name)) {
		policy_errors_add(errs, file, 0, path, "name \"%s\" where \"%s\" was expected",
				  ep.name ? ep.name : "", c->name);
		policy_endpoint_clear(&ep);
		return -EINVAL;
	}
	if (at >= 0) {
		policy_endpoint_clear(&doc->endpoints[at]);
		doc->endpoints[at] = ep;
	} else {
		size_t i = insert_at(doc, &ep, order);

		memmove(&doc->endpoints[i + 1], &doc->endpoints[i],
			(doc->n_endpoints - i) * sizeof(ep));
		doc->endpoints[i] = ep;
		doc->n_endpoints++;
	}
	return 0;
}

static long find_group(const struct policy_document *doc, const char *name)
{
	for (size_t g = 0; g < doc->n_groups; g++)
		if (doc->groups[g].name && !strcmp(doc->groups[g].name, name))
			return (long)g;
	return -1;
}

/* Replaces the changed groups of doc (its array is its own: policy_document_share). */
static int replace_groups(struct policy_document *doc, const struct policy_changes *ch,
			  const char *file, struct policy_errors *errs)
{
	size_t *which = malloc((ch->n_groups ? ch->n_groups : 1) * sizeof(*which));
	int r = which ? 0 : -ENOMEM;

	for (size_t i = 0; !r && i < ch->n_groups; i++) {
		const struct policy_group_change *c = &ch->groups[i];
		long at = find_group(doc, c->name);
		struct policy_group grp;
		char path[64];

		if (at < 0) {
			policy_errors_add(errs, file, 0, "securityGroups",
					  "group \"%s\" is not in revision %llu: a group added "
					  "or removed needs the document read whole",
					  c->name, (unsigned long long)doc->revision);
			r = -EINVAL;
			break;
		}
		snprintf(path, sizeof(path), "securityGroups[%ld]", at);
		r = policy_group_from_pb(c->put, file, path, &grp, errs);
		if (!r && (!grp.name || strcmp(grp.name, c->name))) {
			policy_errors_add(errs, file, 0, path,
					  "name \"%s\" where \"%s\" was expected",
					  grp.name ? grp.name : "", c->name);
			policy_group_clear(&grp);
			r = -EINVAL;
		}
		if (r)
			break;
		policy_group_clear(&doc->groups[at]);
		doc->groups[at] = grp;
		which[i] = (size_t)at;
	}
	if (!r && ch->n_groups)
		r = policy_validate_groups(doc, which, ch->n_groups, file, errs);
	free(which);
	return r;
}

int policy_derive(struct policy_document *base, const struct policy_changes *ch,
		  const char *source_name, struct policy_document **ret,
		  struct policy_errors *errs)
{
	const char *file = source_name ? source_name : "<delta>";
	struct policy_document *doc = calloc(1, sizeof(*doc));
	size_t n = ch->n_endpoints;
	int r = 0;

	*ret = NULL;
	if (!doc)
		return -ENOMEM;
	doc->defaults = base->defaults;
	doc->revision = base->revision; /* for the errors; the caller sets the new one */
	/* room for every put to be an addition */
	doc->endpoints = calloc(base->n_endpoints + n + 1, sizeof(*doc->endpoints));
	if (!doc->endpoints || policy_document_share(base, doc)) {
		r = -ENOMEM;
		goto out;
	}
	r = replace_groups(doc, ch, file, errs);
	for (size_t e = 0; !r && e < base->n_endpoints; e++) {
		r = endpoint_copy(&doc->endpoints[e], &base->endpoints[e]);
		if (!r)
			doc->n_endpoints++;
		/* the same groups: the endpoint's resolution holds (checked again otherwise) */
		if (!r && !ch->n_groups)
			r = copy_resolution(&doc->endpoints[e], &base->endpoints[e]);
	}
	for (size_t i = 0; !r && i < n; i++)
		if (!ch->endpoints[i].put)
			r = apply_change(doc, &ch->endpoints[i], ch->order, file, errs);
	for (size_t i = 0; !r && i < n; i++)
		if (ch->endpoints[i].put)
			r = apply_change(doc, &ch->endpoints[i], ch->order, file, errs);
	if (!r && !ch->n_groups)
		r = validate_changed(doc, ch, file, errs);
	else if (!r)
		r = policy_validate_endpoints(doc, file, errs);
out:
	if (r) {
		policy_document_free(doc);
		return r;
	}
	doc->revision = 0;
	*ret = doc;
	return 0;
}
