// SPDX-License-Identifier: Apache-2.0
/*
 * Large arrays in transparent huge pages, small ones from malloc (bulk.h says why). The
 * size decides which: whoever holds an array keeps its capacity and gives it back on free.
 */
/* mremap() needs _GNU_SOURCE, which the build defines */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bulk.h"

#define HUGE_PAGE ((size_t)2 << 20) /* x86-64 and arm64 with 4 KiB pages */

static size_t round_huge(size_t size)
{
	return (size + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
}

/*
 * Maps len bytes (a multiple of HUGE_PAGE) at a huge-page boundary, so that every 2 MiB of
 * it can be one huge page: mmap gives 4 KiB alignment only, so map more and trim the ends.
 */
static void *map_huge(size_t len)
{
	char *raw = mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *at;
	size_t head;

	if (raw == MAP_FAILED)
		return NULL;
	at = (char *)round_huge((size_t)raw);
	head = (size_t)(at - raw);
	if (head)
		munmap(raw, head);
	munmap(at + len, HUGE_PAGE - head);
	/* advice only: without THP the array works, at 4 KiB a fault */
	(void)madvise(at, len, MADV_HUGEPAGE);
	return at;
}

void *bulk_alloc(size_t size, size_t *ret_cap)
{
	void *p;

	if (size < BULK_HUGE_MIN) {
		p = malloc(size ? size : 1);
		*ret_cap = p ? size : 0;
		return p;
	}
	p = map_huge(round_huge(size));
	*ret_cap = p ? round_huge(size) : 0;
	return p;
}

void *bulk_grow(void *p, size_t *cap, size_t size)
{
	size_t new_cap;
	void *q;

	if (size <= *cap)
		return p;
	if (size < BULK_HUGE_MIN) {
		q = realloc(p, size);
		if (q)
			*cap = size;
		return q;
	}
	new_cap = round_huge(size);
	if (*cap >= BULK_HUGE_MIN) {
		/* the kernel moves the pages (huge ones stay huge); nothing is copied */
		q = mremap(p, *cap, new_cap, MREMAP_MAYMOVE);
		if (q == MAP_FAILED)
			return NULL;
		(void)madvise(q, new_cap, MADV_HUGEPAGE);
	} else {
		q = map_huge(new_cap);
		if (!q)
			return NULL;
		if (*cap)
			memcpy(q, p, *cap);
		free(p);
	}
	*cap = new_cap;
	return q;
}

void bulk_free(void *p, size_t cap)
{
	if (!p)
		return;
	if (cap >= BULK_HUGE_MIN)
		munmap(p, cap);
	else
		free(p);
}
