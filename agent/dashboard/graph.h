/* SPDX-License-Identifier: Apache-2.0 */
/* The cluster graph as SVG, laid out and drawn by Graphviz (libgvc) on the server. */
#ifndef IOFENCE_DASHBOARD_GRAPH_H
#define IOFENCE_DASHBOARD_GRAPH_H

#include <stddef.h>

#include "cluster.h"

struct graph_renderer;

/* NULL with errno when Graphviz cannot start (no plugins). */
struct graph_renderer *graph_renderer_new(void);
void graph_renderer_free(struct graph_renderer *r);

/*
 * graph_render_svg() - the view as an <svg> element (no XML prolog), nodes as <g id="node-N"
 * class="node">, tunnels as <g id="tunnel-A-B" class="edge">. malloc'ed; NULL with errno.
 * Not thread-safe: one renderer per thread.
 */
char *graph_render_svg(struct graph_renderer *r, const struct cluster_view *v);

#endif /* IOFENCE_DASHBOARD_GRAPH_H */
