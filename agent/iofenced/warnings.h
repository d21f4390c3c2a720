/* SPDX-License-Identifier: Apache-2.0 */
/*
 * No silent no-ops (warnings.c): what in a document does nothing on this node, said as
 * warning lines by Apply (and refused with ApplyRequest.strict) and GetStatus, and why an
 * endpoint of this node is not enforced.
 */
#ifndef IOFENCE_IOFENCED_WARNINGS_H
#define IOFENCE_IOFENCED_WARNINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/model.h"

/* Why ep (of this node) is not enforced now, or NULL if it is. datapath: one is loaded. */
const char *warnings_endpoint_reason(const struct policy_endpoint *ep, bool datapath, char *buf,
				     size_t len);

/*
 * Calls add(ctx, line) for each warning of doc on node: no endpoint and no prefilter for the
 * node, an endpoint whose interface or cgroup is missing, no revision (had_revision false).
 * Returns the number of warnings.
 */
size_t warnings_of(const struct policy_document *doc, const char *node, bool had_revision,
		   bool datapath, void (*add)(void *ctx, const char *line), void *ctx);

#endif /* IOFENCE_IOFENCED_WARNINGS_H */
