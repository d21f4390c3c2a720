/* SPDX-License-Identifier: Apache-2.0 */
/* Bump allocator for one RPC response (arena.c): everything in it is freed at once. */
#ifndef IOFENCE_IOFENCED_ARENA_H
#define IOFENCE_IOFENCED_ARENA_H

#include <stddef.h>

struct arena {
	struct arena_block *head;
	struct arena_cleanup *cleanups;
};

void *arena_alloc(struct arena *ar, size_t size); /* zeroed; NULL on ENOMEM */
char *arena_strdup(struct arena *ar, const char *s);
char *arena_printf(struct arena *ar, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Runs fn(ptr) when the arena is freed. */
int arena_defer(struct arena *ar, void (*fn)(void *), void *ptr);
void arena_free(struct arena *ar);

#endif /* IOFENCE_IOFENCED_ARENA_H */
