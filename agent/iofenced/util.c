// SPDX-License-Identifier: Apache-2.0
/* Small helpers of the agent: the per-response arena, names of datapath enums. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

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

const char *drop_reason_name(unsigned reason)
{
	static const char *const names[IOF_DROP_MAX] = {
	    [IOF_DROP_NONE] = "none",
	    [IOF_DROP_POLICY] = "policy",
	    [IOF_DROP_DEFAULT] = "default",
	    [IOF_DROP_PREFILTER] = "prefilter",
	    [IOF_DROP_REVOKED] = "revoked",
	    [IOF_DROP_MALFORMED] = "malformed",
	    [IOF_DROP_FRAGMENT] = "fragment",
	    [IOF_DROP_UNKNOWN_EP] = "unknown-endpoint",
	    [IOF_DROP_AUDIT] = "audit-would-drop",
	};

	return reason < IOF_DROP_MAX ? names[reason] : "unknown";
}
