// SPDX-License-Identifier: Apache-2.0
/*
 * Draws the cluster view with Graphviz: nodes as boxes coloured by health with their rates,
 * one edge per node pair with a tunnel, its width by traffic and its colour by health. circo
 * lays out three or more nodes on a circle; dot (left to right) lays out fewer.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <graphviz/cgraph.h>
#include <graphviz/gvc.h>

#include "graph.h"

struct graph_renderer {
	GVC_t *gvc;
};

struct graph_renderer *graph_renderer_new(void)
{
	struct graph_renderer *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->gvc = gvContext();
	if (!r->gvc) {
		free(r);
		errno = ENOTSUP;
		return NULL;
	}
	return r;
}

void graph_renderer_free(struct graph_renderer *r)
{
	if (!r)
		return;
	gvFreeContext(r->gvc);
	free(r);
}

static const struct {
	const char *health, *fill, *line, *style;
} colours[] = {
    {"converged", "#eaf7ef", "#2e9d5b", "rounded,filled"},
    {"pending", "#fff5dd", "#d08c0b", "rounded,filled"},
    {"unreachable", "#fdeae8", "#d2453b", "rounded,filled,dashed"},
    {"unknown", "#f0f1f3", "#8a94a0", "rounded,filled,dotted"},
    {"failed", "#fdeae8", "#d2453b", "rounded,filled"},
    {"absent", "#f3ecea", "#a0524b", "rounded,filled,dashed"},
    {"ok", NULL, "#2e9d5b", "solid"},
    {"idle", NULL, "#9aa5b1", "solid"},
    {"denies", NULL, "#d08c0b", "solid"},
    {"down", NULL, "#d2453b", "dashed"},
};

static unsigned colour_of(const char *health)
{
	for (unsigned i = 0; i < sizeof(colours) / sizeof(colours[0]); i++)
		if (!strcmp(colours[i].health, health))
			return i;
	return 3;
}

/* Text for an HTML-like label: the five XML specials escaped. */
static void esc(char *out, size_t len, const char *s)
{
	size_t n = 0;

	for (; *s && n + 7 < len; s++) {
		const char *e = *s == '<'    ? "&lt;"
				: *s == '>'  ? "&gt;"
				: *s == '&'  ? "&amp;"
				: *s == '"'  ? "&quot;"
				: *s == '\'' ? "&#39;"
					     : NULL;

		if (e)
			n += (size_t)snprintf(out + n, len - n, "%s", e);
		else
			out[n++] = *s;
	}
	out[n] = 0;
}

static void set_html(void *obj, const char *attr, const char *html)
{
	Agraph_t *g = agraphof(obj);
	char *h = agstrdup_html(g, (char *)html);

	agsafeset(obj, (char *)attr, h, "");
	agstrfree(g, h);
}

static void set(void *obj, const char *attr, const char *value)
{
	agsafeset(obj, (char *)attr, (char *)value, "");
}

static double drops_pps(const struct view_node *n)
{
	double s = 0;

	for (unsigned i = 0; i < n->n_drops; i++)
		s += n->drops[i].pps;
	return s;
}

static void add_node(Agraph_t *g, const struct view_node *n)
{
	const unsigned c = colour_of(n->health);
	Agnode_t *an = agnode(g, (char *)n->id, 1);
	char name[160], traffic[32], line2[160], html[1024];

	esc(name, sizeof(name), n->name);
	view_fmt_rate(n->tunnel_bps > 0 ? n->tunnel_bps : n->allowed_bps, traffic, sizeof(traffic));
	if (!strcmp(n->health, "unknown"))
		snprintf(line2, sizeof(line2), "not polled");
	else if (!strcmp(n->health, "unreachable"))
		snprintf(line2, sizeof(line2), "agent not answering");
	else
		snprintf(line2, sizeof(line2), "rev %llu &#183; %u/%u endpoints",
			 (unsigned long long)n->revision, n->enforced, n->endpoints);
	snprintf(html, sizeof(html),
		 "<table border=\"0\" cellspacing=\"0\" cellpadding=\"1\">"
		 "<tr><td><font point-size=\"15\"><b>%s</b></font></td></tr>"
		 "<tr><td><font point-size=\"11\" color=\"%s\"><b>%s</b></font></td></tr>"
		 "<tr><td><font point-size=\"10\" color=\"#4a5563\">%s</font></td></tr>"
		 "<tr><td><font point-size=\"10\" color=\"#4a5563\">%s &#183; </font>"
		 "<font point-size=\"10\" color=\"%s\">drops %.0f/s</font></td></tr></table>",
		 name, colours[c].line, n->health, line2, traffic,
		 drops_pps(n) >= 0.5 ? "#b45309" : "#4a5563", drops_pps(n));
	set(an, "id", n->id);
	set(an, "class", n->health);
	set(an, "shape", "box");
	set(an, "style", colours[c].style);
	set(an, "fillcolor", colours[c].fill);
	set(an, "color", colours[c].line);
	set(an, "penwidth", "2");
	set(an, "margin", "0.18,0.1");
	set_html(an, "label", html);
}

static void add_tunnel(Agraph_t *g, const struct cluster_view *v, const struct view_tunnel *t)
{
	const unsigned c = colour_of(t->health);
	Agnode_t *a = agnode(g, (char *)v->nodes[t->a].id, 0);
	Agnode_t *b = agnode(g, (char *)v->nodes[t->b].id, 0);
	Agedge_t *e;
	char total[32], html[512], width[16], extra[64] = "";
	double bps = t->ab_bps + t->ba_bps;

	if (!a || !b)
		return;
	e = agedge(g, a, b, (char *)t->id, 1);
	view_fmt_rate(bps, total, sizeof(total));
	if (!strcmp(t->health, "down"))
		snprintf(extra, sizeof(extra), " &#183; end down");
	else if (t->recent_denies)
		snprintf(extra, sizeof(extra), " &#183; %u denies", t->recent_denies);
	snprintf(html, sizeof(html),
		 "<table border=\"0\" cellspacing=\"0\" cellpadding=\"1\" bgcolor=\"#ffffffd0\">"
		 "<tr><td><font point-size=\"12\" color=\"%s\"><b>%s</b></font></td></tr>"
		 "<tr><td><font point-size=\"9\" color=\"#4a5563\">vni %u%s</font></td></tr>"
		 "</table>",
		 colours[c].line, total, t->vni, extra);
	/* Width grows with the log of the rate: 1 kB/s and 1 GB/s both stay readable. */
	snprintf(width, sizeof(width), "%.1f", fmin(14.0, 1.5 + 1.8 * log10(1.0 + bps / 1000.0)));
	set(e, "id", t->id);
	set(e, "class", t->health);
	set(e, "color", colours[c].line);
	set(e, "style", colours[c].style);
	set(e, "penwidth", width);
	set_html(e, "label", html);
}

char *graph_render_svg(struct graph_renderer *r, const struct cluster_view *v)
{
	Agraph_t *g = agopen("cluster", Agundirected, NULL);
	char *out = NULL, *data = NULL, *svg;
	unsigned int len = 0;
	bool circle = v->n_nodes >= 3;

	if (!g) {
		errno = ENOMEM;
		return NULL;
	}
	agattr(g, AGRAPH, "bgcolor", "transparent");
	agattr(g, AGRAPH, "pad", "0.25");
	agattr(g, AGRAPH, "mindist", "2.4");
	agattr(g, AGRAPH, "nodesep", "1.2");
	agattr(g, AGRAPH, "ranksep", "2.2");
	agattr(g, AGRAPH, "rankdir", "LR");
	agattr(g, AGNODE, "fontname", "Helvetica");
	agattr(g, AGEDGE, "fontname", "Helvetica");
	for (size_t i = 0; i < v->n_nodes; i++)
		add_node(g, &v->nodes[i]);
	for (size_t i = 0; i < v->n_tunnels; i++)
		add_tunnel(g, v, &v->tunnels[i]);
	if (gvLayout(r->gvc, g, circle ? "circo" : "dot")) {
		agclose(g);
		errno = ENOTSUP;
		return NULL;
	}
	if (!gvRenderData(r->gvc, g, "svg", &data, &len) && data) {
		svg = strstr(data, "<svg");
		out = strdup(svg ? svg : data);
	}
	if (data)
		gvFreeRenderData(data);
	gvFreeLayout(r->gvc, g);
	agclose(g);
	if (!out)
		errno = ENOMEM;
	return out;
}
