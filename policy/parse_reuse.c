// SPDX-License-Identifier: Apache-2.0
/*
 * Re-reading a changed document without parsing all of it again. A controller sends the whole
 * document on every change, and libyaml reads about 50 MB/s: a 10,000-rule document costs
 * 15-30 ms to parse, most of the time an Apply takes. This keeps the last document's text,
 * tree and block spans (parse_tree.h), diffs the new text against it by lines, and re-parses
 * only the block items (a "- " item of a block sequence, or a "key:" pair of a block mapping)
 * that hold the changed lines, each on its own, splicing their trees into the kept tree.
 *
 * Why a lone item parses as it does in place: the text before it is unchanged, so the parser
 * reaches its first line in the same state; the item's lines are all indented at least as far
 * as its "-" or key (checked), so nothing in them depends on the collections around it; and the
 * line after it is unchanged and starts a token at that column or left of it (that is where
 * the old item ended), which ends whatever the item left open as it did before. Anything the
 * argument does not cover (aliases, anchors, tags, document markers, tabs or CRs, non-ASCII
 * text, an item sharing its line with another) takes the whole parse instead, and so does any
 * document with errors: those are always reported by the whole parse.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "parse_doc.h"
#include "parse_tree.h"

#define REUSE_MAX_TEXT (4u << 20) /* larger documents are parsed whole, and not kept */
#define RESYNC_LINES 3		  /* equal lines that end a changed hunk */
#define RESYNC_MAX 64		  /* lines skipped on both sides looking for them */
#define MAX_HUNKS 32

struct policy_reuse {
	char *text; /* the last text read (whole or in part) without a syntax error */
	size_t len;
	uint32_t *lines; /* line start offsets, lines[n_lines] == len */
	size_t n_lines;
	struct parse_tree tree;
	struct tree_spans spans;
	size_t spliced; /* text re-read in parts since the last whole parse (dead text in tree) */
	struct policy_reuse_stats stats;
};

/* Lines [o0, o1) of the old text became lines [n0, n1) of the new. */
struct hunk {
	uint32_t o0, o1, n0, n1;
};

/*
 * A run of items [i, j] of one block that holds hunks [h0, h1], and its place in both texts.
 * The block is a copy: splices to the right replace the spans, but leave its id, kind and
 * column, and the items left of theirs, as they were.
 */
struct unit {
	struct tree_block block;
	uint32_t i, j;
	size_t a, b;   /* old text */
	size_t na, nb; /* new text */
	size_t h0, h1;
};

/* A text and its line table. */
struct reading {
	const char *text;
	size_t len;
	uint32_t *lines;
	size_t n_lines;
};

struct policy_reuse *policy_reuse_new(void)
{
	return calloc(1, sizeof(struct policy_reuse));
}

static void forget(struct policy_reuse *r)
{
	free(r->text);
	free(r->lines);
	parse_tree_free(&r->tree);
	tree_spans_free(&r->spans);
	r->text = NULL;
	r->lines = NULL;
	r->len = r->n_lines = r->spliced = 0;
}

void policy_reuse_free(struct policy_reuse *r)
{
	if (!r)
		return;
	forget(r);
	free(r);
}

const struct policy_reuse_stats *policy_reuse_stats(const struct policy_reuse *r)
{
	return &r->stats;
}

/*
 * Line starts of text, when it is one the spans describe: ASCII (libyaml's marks count
 * characters) without CR or NUL. Return 0, -EAGAIN (not such text) or -ENOMEM.
 */
static int line_table(const char *text, size_t len, uint32_t **ret, size_t *ret_n)
{
	size_t cap = 0, n = 0;
	uint32_t *lines = NULL;

	if (len > REUSE_MAX_TEXT)
		return -EAGAIN;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c >= 0x80 || c == '\r' || c == '\0')
			return -EAGAIN;
	}
	for (size_t at = 0;; n++) {
		const char *nl = at < len ? memchr(text + at, '\n', len - at) : NULL;

		if (parse_tree_grow((void **)&lines, &cap, n + 1, sizeof(*lines))) {
			free(lines);
			return -ENOMEM;
		}
		lines[n] = (uint32_t)at; /* after the last line: the end */
		if (at == len)
			break;
		at = nl ? (size_t)(nl - text) + 1 : len;
	}
	*ret = lines;
	*ret_n = n;
	return 0;
}

static bool lines_equal(const struct reading *o, size_t oi, const struct reading *n, size_t ni)
{
	size_t ol, nl;

	if (oi >= o->n_lines || ni >= n->n_lines)
		return oi >= o->n_lines && ni >= n->n_lines;
	ol = o->lines[oi + 1] - o->lines[oi];
	nl = n->lines[ni + 1] - n->lines[ni];
	return ol == nl && memcmp(o->text + o->lines[oi], n->text + n->lines[ni], ol) == 0;
}

/* The line of r that holds offset at (n_lines when at is the end of a text ending in \n). */
static size_t line_of(const struct reading *r, size_t from, size_t at)
{
	size_t lo = from, hi = r->n_lines;

	if (at >= r->len && (r->len == 0 || r->text[r->len - 1] == '\n'))
		return r->n_lines;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->lines[mid] <= at)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* Both texts go on equal for RESYNC_LINES lines from these (or both end before). */
static bool resynced(const struct reading *o, size_t oi, const struct reading *n, size_t ni)
{
	for (size_t t = 0; t < RESYNC_LINES; t++) {
		if (oi + t >= o->n_lines && ni + t >= n->n_lines)
			return true;
		if (!lines_equal(o, oi + t, n, ni + t))
			return false;
	}
	return true;
}

static size_t common_prefix(const char *a, const char *b, size_t max)
{
	size_t k = 0;

	while (k + 256 <= max && memcmp(a + k, b + k, 256) == 0)
		k += 256;
	while (k < max && a[k] == b[k])
		k++;
	return k;
}

/*
 * The changed lines, as few hunks as a greedy resync finds (any alignment of equal lines is
 * correct; a short one only re-reads less). Return the number of hunks, or -EAGAIN when the
 * texts differ too much for reuse to pay.
 */
static int diff_lines(const struct reading *o, const struct reading *n, struct hunk *hunks)
{
	size_t oi = 0, ni = 0;
	int nh = 0;

	for (;;) {
		size_t op = o->lines[oi], np = n->lines[ni]; /* lines[n_lines] is the end */
		size_t max = o->len - op < n->len - np ? o->len - op : n->len - np;
		size_t k = common_prefix(o->text + op, n->text + np, max), oj, nj;
		bool found = false;

		if (op + k == o->len && np + k == n->len)
			return nh;
		if (nh == MAX_HUNKS)
			return -EAGAIN;
		/* the text from op and np is equal up to k: as many whole lines on both sides */
		oj = line_of(o, oi, op + k);
		nj = ni + (oj - oi);
		for (size_t d = 1; d <= RESYNC_MAX && !found; d++)
			for (size_t a = 0; a <= d && !found; a++) {
				size_t oe = oj + a, ne = nj + d - a;

				if (oe > o->n_lines || ne > n->n_lines || !resynced(o, oe, n, ne))
					continue;
				hunks[nh++] = (struct hunk){(uint32_t)oj, (uint32_t)oe,
							    (uint32_t)nj, (uint32_t)ne};
				oi = oe;
				ni = ne;
				found = true;
			}
		if (!found)
			return -EAGAIN;
	}
}

static bool items_qualify(const uint32_t *bounds, uint32_t i, uint32_t j)
{
	for (uint32_t t = i; t <= j + 1; t++)
		if (bounds[t] & TREE_BOUND_NOT)
			return false;
	return true;
}

/* The smallest run of whole items of one block that holds old bytes [x, y]. */
static bool find_unit(const struct tree_spans *sp, size_t x, size_t y, struct unit *u)
{
	size_t best = SIZE_MAX;

	for (size_t k = 0; k < sp->n_blocks; k++) {
		const struct tree_block *b = &sp->blocks[k];
		const uint32_t *bd = sp->bounds + b->at;
		uint32_t lo = 0, hi = b->n, i, j;

		if (tree_bound(bd[0]) > x || tree_bound(bd[b->n]) < y)
			continue;
		while (hi - lo > 1) { /* i: the last item starting at or before x */
			uint32_t mid = lo + (hi - lo) / 2;

			if (tree_bound(bd[mid]) <= x)
				lo = mid;
			else
				hi = mid;
		}
		i = lo;
		for (j = i; tree_bound(bd[j + 1]) < y; j++)
			;
		if (tree_bound(bd[j + 1]) - tree_bound(bd[i]) >= best || !items_qualify(bd, i, j))
			continue;
		best = tree_bound(bd[j + 1]) - tree_bound(bd[i]);
		*u = (struct unit){.block = *b,
				   .i = i,
				   .j = j,
				   .a = tree_bound(bd[i]),
				   .b = tree_bound(bd[j + 1])};
	}
	return best != SIZE_MAX;
}

/* Byte shift of the new text against the old after hunk h (and before h + 1). */
static long shift_after(const struct reading *o, const struct reading *n, const struct hunk *h)
{
	return (long)n->lines[h->n1] - (long)o->lines[h->o1]; /* lines[n_lines] is the end */
}

/*
 * Groups the hunks into units that do not overlap, in text order. Return their number, or
 * -EAGAIN when a hunk lies in no qualifying item.
 */
static int plan_units(const struct reading *o, const struct reading *n, const struct tree_spans *sp,
		      const struct hunk *hunks, int nh, struct unit *units)
{
	int nu = 0;

	for (int h = 0; h < nh;) {
		struct unit u;
		size_t h0 = (size_t)h, h1 = (size_t)h;

		for (;;) {
			size_t x = o->lines[hunks[h0].o0], y = o->lines[hunks[h1].o1];

			if (!find_unit(sp, x, y, &u))
				return -EAGAIN;
			if (nu && units[nu - 1].b > u.a) { /* overlaps the unit before: one unit */
				h0 = units[--nu].h0;
				continue;
			}
			if (h1 + 1 < (size_t)nh && o->lines[hunks[h1 + 1].o0] < u.b) {
				h1++; /* the next hunk starts inside: one unit */
				continue;
			}
			break;
		}
		u.h0 = h0;
		u.h1 = h1;
		u.na = (size_t)((long)u.a + (h0 ? shift_after(o, n, &hunks[h0 - 1]) : 0));
		u.nb = (size_t)((long)u.b + shift_after(o, n, &hunks[h1]));
		units[nu++] = u;
		h = (int)h1 + 1;
	}
	return nu;
}

/* The text of a unit must not hold what the splice cannot reproduce (see the top). */
static bool chunk_fits(const char *s, size_t len, uint32_t column)
{
	for (size_t at = 0; at < len;) {
		const char *nl = memchr(s + at, '\n', len - at);
		size_t end = nl ? (size_t)(nl - s) : len, ind = at;

		if (end - at >= 3 && (!memcmp(s + at, "---", 3) || !memcmp(s + at, "...", 3)))
			return false;
		if (end > at && s[at] == '%')
			return false;
		while (ind < end && s[ind] == ' ')
			ind++;
		if (ind < end && s[ind] != '#' && ind - at < column)
			return false;
		for (size_t i = at; i < end; i++)
			if (s[i] == '&' || s[i] == '*' || s[i] == '!' || s[i] == '\t')
				return false;
		at = end + 1;
	}
	return true;
}

/* Parses a unit's new text alone into tree and spans: its k items, or 0 for no text. */
static int parse_chunk(const char *s, size_t len, const struct unit *u, struct parse_tree *tree,
		       struct tree_spans *spans, uint32_t *ret_k)
{
	struct parse_tree extra = {0};
	yaml_parser_t parser;
	int r;

	*ret_k = 0;
	spans->text = s;
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)s, len);
	tree->text_min = len + 64;
	r = parse_tree_load_spans(&parser, tree, spans);
	if (r > 0)
		r = parse_tree_load(&parser, &extra) == 0 ? 1 : -EAGAIN;
	parse_tree_free(&extra);
	yaml_parser_delete(&parser);
	if (r == 0)
		return 0;
	if (r < 0)
		return r == -ENOMEM ? r : -EAGAIN;
	if (tree->nodes[0].kind != u->block.kind || !spans->n_blocks)
		return -EAGAIN;
	/* the root closes last: its block is the last recorded */
	if (spans->blocks[spans->n_blocks - 1].id != 1 ||
	    spans->blocks[spans->n_blocks - 1].column != u->block.column)
		return -EAGAIN;
	*ret_k = tree->nodes[0].n;
	return 0;
}

static size_t count_lines(const char *s, size_t len)
{
	size_t n = 0;

	for (const char *p = s; (p = memchr(p, '\n', len - (size_t)(p - s))); p++)
		n++;
	return n;
}

/* What a splice replaces and with what; ids as in the tree before it. */
struct splice {
	const struct unit *u;
	struct parse_tree *chunk;
	const struct tree_spans *chunk_spans;
	uint32_t k;	/* items the chunk holds */
	int f, end;	/* the replaced items' node ids: [f, end) */
	long shift;	/* node id shift past them */
	long delta;	/* byte shift past them */
	long dlines;	/* line shift past them */
	uint32_t line0; /* line of the unit's first line */
};

static int remap_old(const struct splice *sp, int id)
{
	return id < sp->f ? id : (int)(id + sp->shift);
}

static int remap_chunk(const struct splice *sp, int id)
{
	return sp->f + id - 2;
}

static int append_kids(struct parse_tree *t, const int *kids, size_t n,
		       int (*map)(const struct splice *, int), const struct splice *sp)
{
	if (parse_tree_grow((void **)&t->kids, &t->cap_kids, t->n_kids + n, sizeof(int)))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		t->kids[t->n_kids++] = map(sp, kids[i]);
	return 0;
}

/* The tree with the unit's items replaced by the chunk's, into out (nodes and kids only). */
static int splice_tree(const struct parse_tree *old, const struct splice *sp,
		       struct parse_tree *out)
{
	const struct parse_tree *c = sp->chunk;
	const struct tree_block *b = &sp->u->block;
	size_t w = b->kind == TREE_MAPPING ? 2 : 1, cn = c->n_nodes ? c->n_nodes - 1 : 0;
	size_t n_nodes = (size_t)((long)old->n_nodes + sp->shift);

	*out = (struct parse_tree){0};
	out->nodes = malloc((n_nodes ? n_nodes : 1) * sizeof(*out->nodes));
	if (!out->nodes)
		return -ENOMEM;
	out->n_nodes = out->cap_nodes = n_nodes;
	for (int id = 1; id <= (int)n_nodes; id++) {
		struct tree_node *nn = &out->nodes[id - 1];
		bool from_chunk = id >= sp->f && (size_t)(id - sp->f) < cn;
		const struct parse_tree *from = from_chunk ? c : old;
		int (*map)(const struct splice *, int) = from_chunk ? remap_chunk : remap_old;
		const struct tree_node *src;
		int r;

		if (from_chunk) {
			src = &c->nodes[id - sp->f + 1];
			*nn = *src;
			nn->line += sp->line0 - 1;
		} else if (id < sp->f) {
			src = &old->nodes[id - 1];
			*nn = *src;
		} else {
			src = &old->nodes[id - sp->shift - 1];
			*nn = *src;
			nn->line = (uint32_t)((long)nn->line + sp->dlines);
		}
		nn->seen = false;
		if (nn->kind == TREE_SCALAR)
			continue;
		nn->at = (uint32_t)out->n_kids;
		if (id == b->id) { /* the block itself: the chunk's items inside */
			const int *kids = old->kids + src->at;

			r = append_kids(out, kids, sp->u->i * w, remap_old, sp);
			if (!r && sp->k)
				r = append_kids(out, c->kids + c->nodes[0].at, sp->k * w,
						remap_chunk, sp);
			if (!r)
				r = append_kids(out, kids + (sp->u->j + 1) * w,
						(src->n - sp->u->j - 1) * w, remap_old, sp);
			nn->n = src->n - (sp->u->j - sp->u->i + 1) + sp->k;
		} else {
			r = append_kids(out, from->kids + src->at, tree_kid_count(src), map, sp);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/* Bound b moved by `by` bytes, its TREE_BOUND_NOT kept. */
static uint32_t bound_moved(uint32_t b, long by)
{
	return (uint32_t)((long)tree_bound(b) + by) | (b & TREE_BOUND_NOT);
}

static int push_block(struct tree_spans *out, struct tree_block blk, const uint32_t *bounds,
		      long add)
{
	if (parse_tree_grow((void **)&out->blocks, &out->cap_blocks, out->n_blocks + 1,
			    sizeof(*out->blocks)) ||
	    parse_tree_grow((void **)&out->bounds, &out->cap_bounds, out->n_bounds + blk.n + 1,
			    sizeof(*out->bounds)))
		return -ENOMEM;
	blk.at = (uint32_t)out->n_bounds;
	out->blocks[out->n_blocks++] = blk;
	for (uint32_t i = 0; i <= blk.n; i++)
		out->bounds[out->n_bounds++] = bound_moved(bounds[i], add);
	return 0;
}

/* Bounds of old past the unit move by delta; those before it stay. */
static uint32_t moved_bound(const struct splice *sp, uint32_t b)
{
	return tree_bound(b) <= sp->u->a ? b : bound_moved(b, sp->delta);
}

/* The spans after the splice: old blocks moved, the unit's block re-bounded, chunk blocks. */
static int splice_spans(const struct tree_spans *old, const struct splice *sp,
			struct tree_spans *out)
{
	const struct tree_spans *cs = sp->chunk_spans;
	uint32_t *tmp = NULL;
	int r = 0;

	*out = (struct tree_spans){0};
	for (size_t k = 0; k < old->n_blocks && !r; k++) {
		struct tree_block blk = old->blocks[k];
		const uint32_t *bd = old->bounds + blk.at;

		if (blk.id >= sp->f && blk.id < sp->end)
			continue; /* inside the replaced items */
		uint32_t *grown = realloc(tmp, ((size_t)blk.n + sp->k + 2) * sizeof(*tmp));

		if (!grown) {
			free(tmp);
			return -ENOMEM;
		}
		tmp = grown;
		if (blk.id == sp->u->block.id) {
			/* the chunk's root closed last: its block is the last recorded */
			const uint32_t *cb =
			    sp->k ? cs->bounds + cs->blocks[cs->n_blocks - 1].at : NULL;
			uint32_t n = 0;

			for (uint32_t i = 0; i < sp->u->i; i++)
				tmp[n++] = bd[i];
			for (uint32_t i = 0; i < sp->k; i++)
				tmp[n++] = bound_moved(cb[i], (long)sp->u->a);
			for (uint32_t i = sp->u->j + 1; i <= blk.n; i++)
				tmp[n++] = moved_bound(sp, bd[i]);
			blk.n = n - 1;
		} else {
			for (uint32_t i = 0; i <= blk.n; i++) {
				uint32_t v = tree_bound(bd[i]);

				if (v > sp->u->a && v < sp->u->b) {
					free(tmp);
					return -EAGAIN; /* cannot be: the unit is whole items */
				}
				tmp[i] = moved_bound(sp, bd[i]);
			}
		}
		blk.id = remap_old(sp, blk.id);
		r = push_block(out, blk, tmp, 0);
	}
	for (size_t k = 0; sp->k && k + 1 < cs->n_blocks && !r; k++) {
		struct tree_block blk = cs->blocks[k];

		blk.id = remap_chunk(sp, blk.id);
		r = push_block(out, blk, cs->bounds + cs->blocks[k].at, (long)sp->u->a);
	}
	free(tmp);
	return r;
}

/* First node id of item i of block b (its key for a mapping), or end of the block's subtree. */
static int item_id(const struct parse_tree *t, const struct tree_block *b, uint32_t i)
{
	const struct tree_node *n = &t->nodes[b->id - 1];

	if (i >= n->n)
		return tree_subtree_end(t, b->id);
	return t->kids[n->at + (b->kind == TREE_MAPPING ? 2 * i : i)];
}

/*
 * The common change keeps the number of items and of nodes: the chunk's nodes then take the
 * replaced ones' ids and their children's slots in tree.kids, which are contiguous (a
 * collection's children are stored when it ends, and nothing else ends in between).
 */
static bool splice_in_place(struct parse_tree *t, const struct splice *sp)
{
	const struct parse_tree *c = sp->chunk;
	const struct tree_block *b = &sp->u->block;
	size_t w = b->kind == TREE_MAPPING ? 2 : 1, k0 = SIZE_MAX, inner;
	int *block_kids;

	if (sp->shift || !sp->k || sp->k != sp->u->j - sp->u->i + 1)
		return false;
	inner = c->n_nodes - 1 - sp->k * w; /* every node but the root is someone's child once */
	if (c->nodes[0].at != inner)
		return false; /* the root ends last: its children come after all others */
	for (int id = sp->f; id < sp->end; id++) {
		const struct tree_node *o = &t->nodes[id - 1];

		if (o->kind != TREE_SCALAR && o->n && o->at < k0)
			k0 = o->at;
	}
	if (inner && k0 == SIZE_MAX)
		return false;
	for (size_t y = 2; y <= c->n_nodes; y++) {
		struct tree_node n = c->nodes[y - 1];

		n.line += sp->line0 - 1;
		if (n.kind != TREE_SCALAR)
			n.at += (uint32_t)(inner ? k0 : 0);
		t->nodes[remap_chunk(sp, (int)y) - 1] = n;
	}
	for (size_t x = 0; x < inner; x++)
		t->kids[k0 + x] = remap_chunk(sp, c->kids[x]);
	block_kids = t->kids + t->nodes[b->id - 1].at + sp->u->i * w;
	for (size_t x = 0; x < sp->k * w; x++)
		block_kids[x] = remap_chunk(sp, c->kids[inner + x]);
	if (sp->dlines)
		for (size_t id = (size_t)sp->end; id <= t->n_nodes; id++)
			t->nodes[id - 1].line =
			    (uint32_t)((long)t->nodes[id - 1].line + sp->dlines);
	return true;
}

/*
 * Replaces one unit in the kept tree and spans, which describe old[0, u->a) + the text after
 * it as it is now; the chunk's text is new[u->na, u->nb). Return 0, or -EAGAIN / -ENOMEM with
 * *changed set if the kept tree was changed before the failure (it must then be forgotten).
 */
static int splice_unit(struct policy_reuse *r, const struct unit *u, const struct reading *n,
		       bool *changed)
{
	const char *s = n->text + u->na;
	size_t len = u->nb - u->na;
	struct parse_tree chunk = {0}, out = {0};
	struct tree_spans cspans = {0}, ospans;
	struct splice sp = {.u = u, .chunk = &chunk, .chunk_spans = &cspans};
	struct parse_tree *tree = &r->tree;
	uint32_t block_line;
	int err;

	if (!chunk_fits(s, len, u->block.column))
		return -EAGAIN;
	err = parse_tree_reserve(&chunk, len);
	if (!err)
		err = parse_chunk(s, len, u, &chunk, &cspans, &sp.k);
	if (!err && !sp.k && (!u->i || tree->nodes[u->block.id - 1].n == u->j - u->i + 1))
		err = -EAGAIN; /* a collection left empty is a null; one losing its head moves */
	if (err < 0)
		goto out;
	sp.f = item_id(tree, &u->block, u->i);
	sp.end = item_id(tree, &u->block, u->j + 1);
	sp.shift = (long)(chunk.n_nodes ? chunk.n_nodes - 1 : 0) - (sp.end - sp.f);
	sp.delta = (long)len - (long)(u->b - u->a);
	sp.dlines = (long)count_lines(s, len) - (long)count_lines(r->text + u->a, u->b - u->a);
	sp.line0 = tree->nodes[sp.f - 1].line;
	block_line = tree->nodes[u->block.id - 1].line;
	err = splice_spans(&r->spans, &sp, &ospans);
	if (err < 0)
		goto out;
	*changed = true;
	if (!splice_in_place(tree, &sp)) {
		err = splice_tree(tree, &sp, &out);
		if (err < 0) {
			free(out.nodes);
			free(out.kids);
			tree_spans_free(&ospans);
			goto out;
		}
		free(tree->nodes);
		free(tree->kids);
		tree->nodes = out.nodes;
		tree->n_nodes = tree->cap_nodes = out.n_nodes;
		tree->kids = out.kids;
		tree->n_kids = out.n_kids;
		tree->cap_kids = out.cap_kids;
	}
	/*
	 * A collection starts at its tag or anchor if it has one (on an earlier line: items
	 * qualify only alone on theirs), else at its first item, which may have moved down
	 * (lines or comments added before it) or up.
	 */
	if (!u->i && block_line == sp.line0)
		tree->nodes[u->block.id - 1].line = chunk.nodes[0].line + sp.line0 - 1;
	parse_tree_adopt_text(tree, &chunk);
	tree_spans_free(&r->spans);
	r->spans = ospans;
	r->spliced += len;
out:
	parse_tree_free(&chunk);
	tree_spans_free(&cspans);
	return err;
}

/*
 * Brings the kept tree and spans from the kept text to the new one by splicing. Return 0, or
 * -EAGAIN / -ENOMEM with *changed set when the kept tree no longer matches the kept text.
 */
static int reuse_tree(struct policy_reuse *r, const struct reading *n, size_t *reread,
		      bool *changed)
{
	struct reading o = {r->text, r->len, r->lines, r->n_lines};
	struct hunk hunks[MAX_HUNKS];
	struct unit units[MAX_HUNKS];
	int nh, nu, err = 0;

	*reread = 0;
	nh = diff_lines(&o, n, hunks);
	if (nh < 0)
		return nh;
	nu = plan_units(&o, n, &r->spans, hunks, nh, units);
	if (nu < 0)
		return nu;
	for (int k = nu - 1; k >= 0 && !err; k--) { /* right to left: offsets before stay */
		err = splice_unit(r, &units[k], n, changed);
		*reread += units[k].nb - units[k].na;
	}
	for (size_t i = 0; !err && i < r->tree.n_nodes; i++)
		r->tree.nodes[i].seen = false; /* the last reading marked them */
	return err;
}

/* Makes text (and its line table, taken from n) the kept text. Return false without memory. */
static bool keep_text(struct policy_reuse *r, const char *text, size_t len, struct reading *n)
{
	char *copy = malloc(len ? len : 1);

	if (!copy)
		return false;
	memcpy(copy, text, len);
	free(r->text);
	free(r->lines);
	r->text = copy;
	r->len = len;
	r->lines = n->lines;
	r->n_lines = n->n_lines;
	n->lines = NULL;
	return true;
}

int policy_parse_reuse(struct policy_reuse *r, const char *text, size_t len, const char *file_name,
		       struct policy_document **ret_doc, struct policy_errors *errs)
{
	const char *file = file_name ? file_name : "<input>";
	struct reading n = {text, len, NULL, 0};
	struct parse_tree tree = {0};
	struct tree_spans spans = {0};
	bool keep, changed = false;
	size_t reread = 0;
	int err;

	*ret_doc = NULL;
	keep = line_table(text, len, &n.lines, &n.n_lines) == 0;
	if (keep && r->text && r->spliced < r->len / 4 + 65536) {
		err = reuse_tree(r, &n, &reread, &changed);
		if (!err) {
			struct policy_errors scratch = {0};

			err = parse_build_document(&r->tree, file, &scratch, ret_doc);
			policy_errors_free(&scratch); /* errors come from the whole parse */
		}
		/*
		 * A document with errors is still a good tree to start the next one from: keep
		 * it with its text, and let the whole parse report the errors.
		 */
		if ((!err || err == -EINVAL) && keep_text(r, text, len, &n)) {
			if (!err) {
				r->stats.reused++;
				r->stats.reread_bytes = reread;
				return 0;
			}
		} else if (changed || !err) {
			forget(r); /* the kept tree is the new text's, the kept text is not */
		}
		policy_document_free(*ret_doc);
		*ret_doc = NULL;
		if (err == -ENOMEM)
			goto fail;
	}
	r->stats.whole++;
	r->stats.reread_bytes = len;
	spans.text = text;
	err = parse_load_tree(text, len, file, &tree, keep ? &spans : NULL, errs);
	if (!err)
		err = parse_build_document(&tree, file, errs, ret_doc);
	if (err)
		goto fail;
	forget(r);
	if (!keep || !n.lines || !keep_text(r, text, len, &n)) {
		parse_tree_free(&tree); /* the document is read; only the next one is slower */
		tree_spans_free(&spans);
		free(n.lines);
		return 0;
	}
	spans.text = NULL; /* the spans outlive the text they were read from */
	r->tree = tree;
	r->spans = spans;
	return 0;
fail:
	parse_tree_free(&tree);
	tree_spans_free(&spans);
	free(n.lines);
	return err;
}

static bool same_node(const struct parse_tree *a, const struct parse_tree *b, size_t i)
{
	const struct tree_node *x = &a->nodes[i], *y = &b->nodes[i];
	size_t n = tree_kid_count(x);

	if (x->kind != y->kind || x->quoted != y->quoted || x->line != y->line)
		return false;
	if (x->kind == TREE_SCALAR)
		return strcmp(x->value, y->value) == 0;
	return x->n == y->n && (!n || !memcmp(a->kids + x->at, b->kids + y->at, n * sizeof(int)));
}

int policy_reuse_check(const struct policy_reuse *r)
{
	struct policy_errors errs = {0};
	struct parse_tree whole = {0};
	int ok = -1;

	if (r->text && parse_load_tree(r->text, r->len, "<check>", &whole, NULL, &errs) == 0) {
		ok = whole.n_nodes == r->tree.n_nodes;
		for (size_t i = 0; ok && i < whole.n_nodes; i++)
			ok = same_node(&whole, &r->tree, i);
	}
	parse_tree_free(&whole);
	policy_errors_free(&errs);
	return ok;
}
