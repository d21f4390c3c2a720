// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of the follower's batch window (agent/etcd/batch_window.c): a change alone is
 * applied as it arrives (the leading edge), churn opens a window of the minimum and doubles it
 * up to the maximum, a quiet gap brings it back to the leading edge.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/etcd/batch_window.h"

#define MS 1000ull

static void test_a_change_alone_is_applied_as_it_arrives(void **state)
{
	struct batch_window b = {0};

	(void)state;
	assert_int_equal(batch_window_open(&b, 1000 * MS), 1000 * MS);
	batch_window_applied(&b, 1015 * MS);
	/* the next change comes after the churn gap: alone again */
	assert_int_equal(batch_window_open(&b, (1015 + BATCH_WINDOW_CHURN_GAP_MS) * MS),
			 (1015 + BATCH_WINDOW_CHURN_GAP_MS) * MS);
}

static void test_churn_doubles_the_window_up_to_the_maximum(void **state)
{
	struct batch_window b = {0};
	uint64_t t = 5000 * MS, deadline;
	uint32_t expect = BATCH_WINDOW_MIN_MS;

	(void)state;
	deadline = batch_window_open(&b, t);
	assert_int_equal(deadline, t); /* the first change: alone */
	batch_window_applied(&b, t + 2 * MS);
	t += 1 * MS; /* the next arrived during its apply */
	deadline = batch_window_open(&b, t);
	for (int i = 0; i < 12; i++) {
		assert_int_equal(deadline - t, (uint64_t)expect * MS);
		batch_window_applied(&b, deadline + 2 * MS);
		/* a change arrived during the apply */
		t = deadline + 1 * MS;
		deadline = batch_window_open(&b, t);
		expect = expect * 2 > BATCH_WINDOW_MAX_MS ? BATCH_WINDOW_MAX_MS : expect * 2;
	}
	assert_int_equal(b.window_ms, BATCH_WINDOW_MAX_MS);
	/* shortly after the apply ended is churn too */
	batch_window_applied(&b, deadline + 2 * MS);
	t = deadline + 2 * MS + (BATCH_WINDOW_CHURN_GAP_MS - 1) * MS;
	assert_int_equal(batch_window_open(&b, t) - t, (uint64_t)BATCH_WINDOW_MAX_MS * MS);
}

static void test_a_change_during_an_apply_is_churn(void **state)
{
	struct batch_window b = {0};
	uint64_t deadline = batch_window_open(&b, 1000 * MS);

	(void)state;
	batch_window_applied(&b, deadline);
	/* long after the last apply ended, but while the next one runs */
	assert_int_equal(batch_window_open(&b, 9000 * MS), 9000 * MS);
	batch_window_applying(&b);
	assert_int_equal(batch_window_open(&b, 9500 * MS) - 9500 * MS,
			 (uint64_t)BATCH_WINDOW_MIN_MS * MS);
	batch_window_applied(&b, 9520 * MS);
	assert_int_equal(batch_window_open(&b, 9530 * MS) - 9530 * MS,
			 (uint64_t)2 * BATCH_WINDOW_MIN_MS * MS);
}

static void test_a_quiet_gap_resets_the_window(void **state)
{
	struct batch_window b = {0};
	uint64_t t = 0, deadline;

	(void)state;
	for (int i = 0; i < 8; i++) { /* churn: the window at its maximum */
		deadline = batch_window_open(&b, t + 1);
		batch_window_applied(&b, deadline);
		t = deadline;
	}
	assert_int_equal(b.window_ms, BATCH_WINDOW_MAX_MS);
	t += BATCH_WINDOW_CHURN_GAP_MS * MS;
	assert_int_equal(batch_window_open(&b, t), t);
	assert_int_equal(b.window_ms, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_a_change_alone_is_applied_as_it_arrives),
	    cmocka_unit_test(test_churn_doubles_the_window_up_to_the_maximum),
	    cmocka_unit_test(test_a_change_during_an_apply_is_churn),
	    cmocka_unit_test(test_a_quiet_gap_resets_the_window),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
