// SPDX-License-Identifier: Apache-2.0
/* The per-response arena: one RPC answer allocated in blocks, freed at once. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

struct arena_block {
	struct arena_block *next;
	size_t used, size;
	max_align_t data[];
};

struct arena_cleanup {
	struct arena_cleanup *next;
	void (*fn)(void *);
	void *ptr;
};

void *arena_alloc(struct arena *ar, size_t size)
{
	struct arena_block *b = ar->head;
	void *p;

	size = (size + 15) & ~(size_t)15;
	if (!b || b->used + size > b->size) {
		size_t bsize = size > 65536 ? size : 65536;

		b = malloc(sizeof(*b) + bsize);
		if (!b)
			return NULL;
		b->size = bsize;
		b->used = 0;
		b->next = ar->head;
		ar->head = b;
	}
	p = (char *)b->data + b->used;
	b->used += size;
	memset(p, 0, size);
	return p;
}

char *arena_strdup(struct arena *ar, const char *s)
{
	size_t n = strlen(s ? s : "") + 1;
	char *d = arena_alloc(ar, n);

	if (d)
		memcpy(d, s ? s : "", n);
	return d;
}

char *arena_printf(struct arena *ar, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return arena_strdup(ar, buf);
}

int arena_defer(struct arena *ar, void (*fn)(void *), void *ptr)
{
	struct arena_cleanup *c = malloc(sizeof(*c));

	if (!c) {
		fn(ptr);
		return -1;
	}
	c->fn = fn;
	c->ptr = ptr;
	c->next = ar->cleanups;
	ar->cleanups = c;
	return 0;
}

void arena_free(struct arena *ar)
{
	while (ar->cleanups) {
		struct arena_cleanup *c = ar->cleanups;

		ar->cleanups = c->next;
		c->fn(c->ptr);
		free(c);
	}
	while (ar->head) {
		struct arena_block *b = ar->head;

		ar->head = b->next;
		free(b);
	}
}
