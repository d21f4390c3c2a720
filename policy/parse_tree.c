// SPDX-License-Identifier: Apache-2.0
/*
 * Composes libyaml's events into the parser's compact document tree. yaml_parser_load()
 * allocates a tag and a child stack per node and a 100-byte node record, which made it the
 * largest cost of reading a large policy; this keeps its node numbering and errors.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bulk.h"
#include "parse_tree.h"

#define TEXT_CHUNK_MIN 65536
/* The most parse_tree_reserve() maps for one array before the text is read. */
#define RESERVE_MAX ((size_t)64 << 20)

struct text_chunk {
	struct text_chunk *next;
	size_t used, cap;
	size_t bytes; /* of the chunk, header included, as bulk_alloc gave them */
	char data[];
};

/* A collection whose end event has not come yet; its children wait on the scratch stack. */
struct open_node {
	int id;
	size_t base;
};

struct loader {
	yaml_parser_t *parser;
	struct parse_tree *tree;
	char *anchors[PARSE_TREE_ANCHORS_MAX]; /* names, to refuse a repeated one as libyaml does */
	size_t n_anchors;
	struct open_node *open;
	size_t n_open, open_bytes;
	int *scratch;
	size_t n_scratch, scratch_bytes; /* a list of a million items waits here: bulk.h */
	const struct read_clock *clock; /* NULL: no time limit */
};

/* The clock is read once every this many events. */
#define DEADLINE_EVENTS 1024

/* Grows a tree array (nodes or kids) to hold need items of size bytes, doubling. */
static int tree_grow(void **items, size_t *bytes, size_t need, size_t size)
{
	size_t want = *bytes ? *bytes : 64 * size;
	void *p;

	if (need <= *bytes / size)
		return 0;
	while (want / size < need)
		want *= 2;
	p = bulk_grow(*items, bytes, want);
	if (!p)
		return -ENOMEM;
	*items = p;
	return 0;
}

/* Copies a scalar's text (NUL-terminated) to the tree, in chunks so nothing moves. */
static const char *save_text(struct parse_tree *tree, const char *s, size_t len)
{
	struct text_chunk *c = tree->text;
	char *at;

	if (!c || c->cap - c->used < len + 1) {
		size_t min = tree->text_min ? tree->text_min : TEXT_CHUNK_MIN;
		size_t cap = len + 1 > min ? len + 1 : min, bytes;

		c = bulk_alloc(sizeof(*c) + cap, &bytes);
		if (!c)
			return NULL;
		c->used = 0;
		c->cap = bytes - sizeof(*c);
		c->bytes = bytes;
		c->next = tree->text;
		tree->text = c;
	}
	at = c->data + c->used;
	memcpy(at, s, len);
	at[len] = '\0';
	c->used += len + 1;
	return at;
}

static int composer_error(yaml_parser_t *parser, const char *context, const char *problem,
			  yaml_mark_t mark)
{
	parser->error = YAML_COMPOSER_ERROR;
	parser->context = context;
	parser->problem = problem;
	parser->problem_mark = mark;
	return -EINVAL;
}

#define STR_(x) #x
#define STR(x) STR_(x)

/* Stops the load at mark for a limit of parse_tree.h: -E2BIG, problem in the parser. */
static int limit_passed(struct loader *l, const char *problem, yaml_mark_t mark)
{
	l->parser->problem = problem;
	l->parser->problem_mark = mark;
	return -E2BIG;
}

/* The child id goes to the innermost open collection (the root has none). */
static int add_child(struct loader *l, int id, yaml_mark_t mark)
{
	const struct open_node *o = l->n_open ? &l->open[l->n_open - 1] : NULL;

	if (!o)
		return 0;
	if (l->n_scratch - o->base == 2 * PARSE_TREE_KEYS_MAX &&
	    l->tree->nodes[o->id - 1].kind == TREE_MAPPING)
		return limit_passed(l, "a mapping with more than " STR(PARSE_TREE_KEYS_MAX) " keys",
				    mark);
	if (tree_grow((void **)&l->scratch, &l->scratch_bytes, l->n_scratch + 1, sizeof(int)) < 0)
		return -ENOMEM;
	l->scratch[l->n_scratch++] = id;
	return 0;
}

/* Takes ownership of anchor (may be NULL). As libyaml: a repeated anchor is an error. */
static int register_anchor(struct loader *l, yaml_char_t *anchor, yaml_mark_t mark)
{
	if (!anchor)
		return 0;
	for (size_t i = 0; i < l->n_anchors; i++) {
		if (!strcmp(l->anchors[i], (char *)anchor)) {
			free(anchor);
			return composer_error(l->parser, "found duplicate anchor; first occurrence",
					      "second occurrence", mark);
		}
	}
	if (l->n_anchors == PARSE_TREE_ANCHORS_MAX) {
		free(anchor);
		return limit_passed(l, "more than " STR(PARSE_TREE_ANCHORS_MAX) " anchors (&name)",
				    mark);
	}
	l->anchors[l->n_anchors++] = (char *)anchor;
	return 0;
}

static int add_node(struct loader *l, const yaml_event_t *ev, enum tree_kind kind, int *ret_id)
{
	struct parse_tree *t = l->tree;
	struct tree_node *n;

	if (t->n_nodes >= (size_t)INT_MAX - 1)
		return -ENOMEM; /* libyaml's limit too */
	if (tree_grow((void **)&t->nodes, &t->nodes_bytes, t->n_nodes + 1, sizeof(*t->nodes)) < 0)
		return -ENOMEM;
	n = &t->nodes[t->n_nodes++];
	*n = (struct tree_node){.kind = (uint8_t)kind, .line = (uint32_t)ev->start_mark.line + 1};
	*ret_id = (int)t->n_nodes;
	return add_child(l, *ret_id, ev->start_mark);
}

static int load_scalar(struct loader *l, yaml_event_t *ev)
{
	yaml_scalar_style_t style = ev->data.scalar.style;
	yaml_char_t *anchor = ev->data.scalar.anchor;
	const char *value;
	int id, r;

	r = add_node(l, ev, TREE_SCALAR, &id);
	if (r < 0)
		return r;
	value = save_text(l->tree, (const char *)ev->data.scalar.value, ev->data.scalar.length);
	if (!value)
		return -ENOMEM;
	l->tree->nodes[id - 1].value = value;
	l->tree->nodes[id - 1].quoted =
	    style == YAML_SINGLE_QUOTED_SCALAR_STYLE || style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	ev->data.scalar.anchor = NULL;
	return register_anchor(l, anchor, ev->start_mark);
}

static int load_collection_start(struct loader *l, yaml_event_t *ev, enum tree_kind kind)
{
	yaml_char_t **anchor = kind == TREE_SEQUENCE ? &ev->data.sequence_start.anchor
						     : &ev->data.mapping_start.anchor;
	yaml_char_t *name = *anchor;
	int id, r;

	*anchor = NULL;
	if (l->n_open >= PARSE_TREE_DEPTH_MAX) {
		free(name);
		return limit_passed(
		    l, "lists and mappings nested deeper than " STR(PARSE_TREE_DEPTH_MAX) " levels",
		    ev->start_mark);
	}
	r = add_node(l, ev, kind, &id);
	if (r < 0) {
		free(name);
		return r;
	}
	r = register_anchor(l, name, ev->start_mark);
	if (r < 0)
		return r;
	if (tree_grow((void **)&l->open, &l->open_bytes, l->n_open + 1, sizeof(*l->open)) < 0)
		return -ENOMEM;
	l->open[l->n_open++] = (struct open_node){id, l->n_scratch};
	return 0;
}

/* Moves the children of the innermost open collection from the scratch stack to tree.kids. */
static int load_collection_end(struct loader *l)
{
	struct parse_tree *t = l->tree;
	struct open_node o;
	struct tree_node *n;
	size_t count;

	if (!l->n_open)
		return composer_error(l->parser, NULL, NULL, l->parser->mark);
	o = l->open[--l->n_open];
	count = l->n_scratch - o.base;
	if (t->n_kids + count > UINT32_MAX)
		return -ENOMEM;
	if (tree_grow((void **)&t->kids, &t->kids_bytes, t->n_kids + count, sizeof(int)) < 0)
		return -ENOMEM;
	if (count) /* an empty collection may come before any array exists */
		memcpy(t->kids + t->n_kids, l->scratch + o.base, count * sizeof(int));
	n = &t->nodes[o.id - 1];
	n->at = (uint32_t)t->n_kids;
	n->n = (uint32_t)(n->kind == TREE_MAPPING ? count / 2 : count);
	t->n_kids += count;
	l->n_scratch = o.base;
	return 0;
}

/* Aliases are refused: following one repeats what it names, and nested ones multiply it. */
static int load_alias(struct loader *l, const yaml_event_t *ev)
{
	l->parser->problem = "YAML aliases (*name) are not supported";
	l->parser->problem_mark = ev->start_mark;
	return -ENOTSUP;
}

static int load_event(struct loader *l, yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return load_scalar(l, ev);
	case YAML_SEQUENCE_START_EVENT:
		return load_collection_start(l, ev, TREE_SEQUENCE);
	case YAML_MAPPING_START_EVENT:
		return load_collection_start(l, ev, TREE_MAPPING);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return load_collection_end(l);
	case YAML_ALIAS_EVENT:
		return load_alias(l, ev);
	default: /* the parser does not produce others inside a document */
		return composer_error(l->parser, NULL, NULL, ev->start_mark);
	}
}

static int next_event(yaml_parser_t *parser, yaml_event_t *ev)
{
	if (!yaml_parser_parse(parser, ev))
		return parser->error == YAML_MEMORY_ERROR ? -ENOMEM : -EINVAL;
	return 0;
}

static bool past(const struct loader *l)
{
	return read_clock_passed(l->clock);
}

static int load_document(struct loader *l)
{
	yaml_event_t ev;
	int r;

	for (unsigned events = 1;; events++) {
		if (events % DEADLINE_EVENTS == 0 && past(l)) {
			l->parser->problem_mark = l->parser->mark;
			return -ETIME;
		}
		r = next_event(l->parser, &ev);
		if (r < 0)
			return r;
		if (ev.type == YAML_DOCUMENT_END_EVENT) {
			yaml_event_delete(&ev);
			return l->n_open || !l->tree->n_nodes
				   ? composer_error(l->parser, NULL, NULL, l->parser->mark)
				   : 1;
		}
		r = load_event(l, &ev);
		yaml_event_delete(&ev);
		if (r < 0)
			return r;
	}
}

int parse_tree_load(yaml_parser_t *parser, struct parse_tree *tree)
{
	return parse_tree_load_until(parser, tree, NULL);
}

int parse_tree_load_until(yaml_parser_t *parser, struct parse_tree *tree,
			  const struct read_clock *clock)
{
	struct loader l = {.parser = parser, .tree = tree, .clock = clock};
	yaml_event_t ev;
	int r;

	if (!parser->stream_start_produced) {
		r = next_event(parser, &ev);
		if (r < 0)
			return r;
		yaml_event_delete(&ev);
	}
	if (parser->stream_end_produced)
		return 0;
	r = next_event(parser, &ev);
	if (r < 0)
		return r;
	if (ev.type == YAML_STREAM_END_EVENT || ev.type == YAML_NO_EVENT) {
		yaml_event_delete(&ev);
		return 0;
	}
	yaml_event_delete(&ev); /* DOCUMENT-START */
	r = load_document(&l);
	for (size_t i = 0; i < l.n_anchors; i++)
		free(l.anchors[i]);
	bulk_free(l.open, l.open_bytes);
	bulk_free(l.scratch, l.scratch_bytes);
	return r;
}

int parse_tree_reserve(struct parse_tree *tree, size_t text_len)
{
	/*
	 * Room reserved is not memory used: a huge-page array is faulted in as it fills (bulk.h),
	 * so the guess can be generous and no large document pays for a grown copy. Flow lists of
	 * one-character items make a node every 2 bytes; the text of the scalars (escapes
	 * expanded, a NUL each) stays under 1.5 bytes a byte of input. Past RESERVE_MAX the
	 * arrays grow as they fill (moved by mremap, not copied), so that a node refusing large
	 * mappings (strict overcommit) can still read what fits in its memory.
	 */
	const size_t nodes_max = RESERVE_MAX / sizeof(struct tree_node);
	size_t nodes = text_len / 2 + 64 < nodes_max ? text_len / 2 + 64 : nodes_max;
	size_t text = text_len + text_len / 2;

	if (text < TEXT_CHUNK_MIN)
		text = TEXT_CHUNK_MIN;
	tree->text_min = text < RESERVE_MAX ? text : RESERVE_MAX;
	if (tree_grow((void **)&tree->nodes, &tree->nodes_bytes, nodes, sizeof(*tree->nodes)) < 0 ||
	    tree_grow((void **)&tree->kids, &tree->kids_bytes, nodes, sizeof(*tree->kids)) < 0)
		return -ENOMEM;
	return 0;
}

void parse_tree_free(struct parse_tree *tree)
{
	struct text_chunk *c = tree->text, *next;

	for (; c; c = next) {
		next = c->next;
		bulk_free(c, c->bytes);
	}
	bulk_free(tree->nodes, tree->nodes_bytes);
	bulk_free(tree->kids, tree->kids_bytes);
	*tree = (struct parse_tree){0};
}
