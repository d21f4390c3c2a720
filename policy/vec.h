/* SPDX-License-Identifier: Apache-2.0 */
/* A growable array for the compiler: VEC_PUSH(ptr, n, cap) returns the new slot or NULL. */
#ifndef IOFENCE_POLICY_VEC_H
#define IOFENCE_POLICY_VEC_H

#include <stdlib.h>

/* Makes room for one more element; returns 0 or -ENOMEM. */
static inline int vec_grow(void **items, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return 0;
	size_t new_cap = *cap ? *cap * 2 : 16;
	void *p = realloc(*items, new_cap * size);

	if (!p)
		return -12; /* -ENOMEM without pulling errno.h into every user */
	*items = p;
	*cap = new_cap;
	return 0;
}

#define VEC_PUSH(items, n, cap)                                                               \
	(vec_grow((void **)&(items), (n), &(cap), sizeof(*(items))) ? NULL : &(items)[(n)++])

#endif /* IOFENCE_POLICY_VEC_H */
