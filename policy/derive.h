/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A document derived from another by changes of endpoints and of security groups: what an
 * agent in cluster mode does when a workload starts or stops, or a group's rules change. The
 * groups that did not change and the prefilters are shared with the base document (not
 * copied), and only what changed is checked again, so the cost follows the size of the
 * change, not the number of rules.
 */
#ifndef IOFENCE_POLICY_DERIVE_H
#define IOFENCE_POLICY_DERIVE_H

#include <stddef.h>

#include <iofence/v1/agent.pb-c.h>

#include "errors.h"
#include "model.h"

/* One endpoint put (added or replaced, by name) or removed (put NULL). */
struct policy_endpoint_change {
	const char *name;
	const Iofence__V1__Endpoint *put;
};

/* One security group replaced, by name (the group must exist in the base document). */
struct policy_group_change {
	const char *name;
	const Iofence__V1__SecurityGroup *put;
};

/* The order of a document's endpoints (a new one is inserted where it belongs). */
typedef int (*policy_endpoint_order)(const struct policy_endpoint *a,
				     const struct policy_endpoint *b);

struct policy_changes {
	const struct policy_endpoint_change *endpoints;
	size_t n_endpoints;
	const struct policy_group_change *groups;
	size_t n_groups;
	policy_endpoint_order order; /* NULL: new endpoints go last */
};

/**
 * policy_derive() - base with the changes applied
 * @base: a validated document; its groups and prefilters become shared (policy_document_share)
 * @source_name: file name of the errors ("<etcd>")
 * @ret: the new document (revision unset), validated as policy_validate() would
 *
 * Groups are replaced in place (a group keeps its index, so the rules of the other groups,
 * shared, still name the right ones); adding or removing a group is not a change this
 * function makes (the indexes would move): read the document whole. The changed groups are
 * checked (their rules, their remote groups, names unique), then the endpoints: removals are
 * applied first, then puts (an endpoint moved to another node is a removal and a put of the
 * same name), a replaced endpoint keeps its place, and removing an endpoint that is not there
 * changes nothing (added and removed again within one batch). The endpoints are checked again
 * whenever anything changed (a group's name appears in their lists).
 *
 * Return: 0; -EINVAL with the errors in @errs (a put whose name differs from the change's, a
 * group that is not in base, a rule or endpoint check...); -ENOMEM.
 */
int policy_derive(struct policy_document *base, const struct policy_changes *changes,
		  const char *source_name, struct policy_document **ret,
		  struct policy_errors *errs);

#endif /* IOFENCE_POLICY_DERIVE_H */
