// SPDX-License-Identifier: Apache-2.0
/*
 * The parse tree's bulk arrays (policy/bulk.c): small ones from malloc, large ones mapped in
 * huge pages; growing keeps the contents across the switch and across a mremap move.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "policy/bulk.h"

static void fill(uint32_t *v, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		v[i] = (uint32_t)(i * 2654435761u);
}

static void assert_filled(const uint32_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] != (uint32_t)(i * 2654435761u))
			fail_msg("item %zu of %zu lost", i, n);
}

static void test_small_arrays_are_malloced_to_their_size(void **state)
{
	size_t cap;
	void *p = bulk_alloc(100, &cap);

	(void)state;
	assert_non_null(p);
	assert_int_equal(cap, 100);
	bulk_free(p, cap);
}

static void test_large_arrays_come_in_whole_huge_pages(void **state)
{
	size_t cap;
	char *p = bulk_alloc(BULK_HUGE_MIN + 1, &cap);

	(void)state;
	assert_non_null(p);
	assert_int_equal(cap % ((size_t)2 << 20), 0);
	assert_true(cap >= BULK_HUGE_MIN + 1);
	memset(p, 0xab, cap); /* all of it is usable */
	bulk_free(p, cap);
}

static void test_growing_keeps_the_contents(void **state)
{
	size_t cap = 0, n = 0;
	uint32_t *v = NULL;

	(void)state;
	/* from nothing, through malloc, over the threshold, and twice more by mremap */
	for (size_t want = 1000; want <= ((size_t)8 << 20) / sizeof(*v); want *= 4) {
		uint32_t *q = bulk_grow(v, &cap, want * sizeof(*v));

		assert_non_null(q);
		assert_true(cap >= want * sizeof(*v));
		v = q;
		assert_filled(v, n > want ? want : n);
		fill(v, n > want ? want : n, want);
		n = want;
	}
	assert_filled(v, n);
	bulk_free(v, cap);
}

static void test_freeing_null_is_a_no_op(void **state)
{
	(void)state;
	bulk_free(NULL, 0);
	bulk_free(NULL, BULK_HUGE_MIN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_small_arrays_are_malloced_to_their_size),
	    cmocka_unit_test(test_large_arrays_come_in_whole_huge_pages),
	    cmocka_unit_test(test_growing_keeps_the_contents),
	    cmocka_unit_test(test_freeing_null_is_a_no_op),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
