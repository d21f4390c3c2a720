/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Large, short-lived arrays (the parse tree of a big document) in transparent huge pages.
 * On this kind of VM a 4 KiB page fault costs ~14 us: the ~9,000 faults of a 4 MB document's
 * tree cost more CPU than libyaml reading it, and a freed array faults in anew on the next
 * parse. An array of BULK_HUGE_MIN bytes or more is mapped on its own, in whole 2 MiB pages
 * with MADV_HUGEPAGE (~16 faults for 32 MiB), and unmapped on free; smaller ones come from
 * malloc, so the small inputs of the fuzzers and unit tests stay under ASan's eye.
 * Private to policy/parse*.c (and tests/policy/bulk_test.c).
 */
#ifndef IOFENCE_POLICY_BULK_H
#define IOFENCE_POLICY_BULK_H

#include <stddef.h>

#define BULK_HUGE_MIN ((size_t)1 << 20) /* mapped in whole 2 MiB pages from here */

/*
 * Returns room for at least size bytes (uninitialized), its real size in *ret_cap (a whole
 * number of huge pages when mapped). NULL with errno set on failure.
 */
void *bulk_alloc(size_t size, size_t *ret_cap);

/*
 * Grows p (cap bytes, from bulk_alloc or bulk_grow; NULL with cap 0) to at least size bytes,
 * keeping its contents; a mapped array is moved by the kernel (mremap), not copied. The new
 * size in *cap. NULL on failure, p then still valid.
 */
void *bulk_grow(void *p, size_t *cap, size_t size);

/* Frees p of cap bytes as bulk_alloc or bulk_grow gave it. NULL is ignored. */
void bulk_free(void *p, size_t cap);

#endif /* IOFENCE_POLICY_BULK_H */
