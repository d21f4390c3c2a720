/* SPDX-License-Identifier: Apache-2.0 */
/* The page's files, compiled in from assets/ (see CMakeLists.txt and embed.cmake). */
#ifndef IOFENCE_DASHBOARD_ASSETS_H
#define IOFENCE_DASHBOARD_ASSETS_H

#include <stddef.h>

struct dashboard_asset {
	const char *path; /* "/index.html" */
	const char *type; /* Content-Type */
	const unsigned char *data;
	size_t len;
};

/* The asset served at url, or NULL. */
const struct dashboard_asset *dashboard_asset_find(const char *url);

#endif /* IOFENCE_DASHBOARD_ASSETS_H */
