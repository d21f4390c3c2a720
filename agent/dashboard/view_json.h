/* SPDX-License-Identifier: Apache-2.0 */
/* The page's JSON document: the cluster view, and the SVG of its graph. */
#ifndef IOFENCE_DASHBOARD_VIEW_JSON_H
#define IOFENCE_DASHBOARD_VIEW_JSON_H

#include <stddef.h>

#include "cluster.h"

struct view_meta {
	const char *datastore; /* "direct (--agent)" or the etcd endpoints */
	int refresh_ms;
};

/* malloc'ed JSON text (length in *ret_len); NULL on out of memory. svg may be NULL. */
char *view_json(const struct cluster_view *v, const struct view_meta *meta, const char *svg,
		size_t *ret_len);

#endif /* IOFENCE_DASHBOARD_VIEW_JSON_H */
