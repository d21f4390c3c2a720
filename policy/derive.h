/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A document derived from another by endpoint changes only: what an agent in cluster mode
 * does when a workload of another node starts or stops. The groups and prefilters are shared
 * with the base document (not copied), and only the endpoints are checked again, so the cost
 * follows the number of endpoints, not the number of rules.
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

/**
 * policy_derive_endpoints() - base with the endpoint changes applied, in order
 * @base: a validated document; its groups and prefilters become shared (policy_document_share)
 * @order: the order of base's endpoints (a new endpoint is inserted where it belongs, so the
 *         document equals one read whole in that order); NULL: new endpoints go last
 * @source_name: file name of the errors ("<etcd>")
 * @ret: the new document (revision unset), validated as policy_validate() would
 *
 * Removals are applied first, then puts (an endpoint moved to another node is a removal and a
 * put of the same name). A replaced endpoint keeps its place.
 *
 * Removing an endpoint that is not there changes nothing (added and removed again within
 * one batch of changes).
 *
 * Return: 0; -EINVAL with the errors in @errs (a put whose name differs from the change's, or
 * an endpoint check: unknown group, address of another endpoint...); -ENOMEM.
 */
typedef int (*policy_endpoint_order)(const struct policy_endpoint *a,
				     const struct policy_endpoint *b);
int policy_derive_endpoints(struct policy_document *base,
			    const struct policy_endpoint_change *changes, size_t n,
			    policy_endpoint_order order, const char *source_name,
			    struct policy_document **ret, struct policy_errors *errs);

#endif /* IOFENCE_POLICY_DERIVE_H */
