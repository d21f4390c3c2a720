// SPDX-License-Identifier: Apache-2.0
/*
 * Revisions in the store: commit and read back, stale revisions refused without a write,
 * pruning to the last K, listing order.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "fixture.h"
#include "store/store.h"

struct fx {
	char *dir;
	char *path;
	struct store *store;
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	char err[512];

	if (!fx || !(fx->dir = fixture_tmpdir()))
		return -1;
	fx->path = fixture_path(fx->dir, "store.db");
	if (store_open(fx->path, &fx->store, err, sizeof(err)) < 0) {
		fprintf(stderr, "store_open: %s\n", err);
		return -1;
	}
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	store_close(fx->store);
	free(fx->path);
	fixture_rmtree(fx->dir);
	free(fx);
	return 0;
}

static void commit_text(struct store *store, uint64_t revision, const char *text)
{
	assert_int_equal(store_commit(store, revision, text, strlen(text), "controller-a"), 0);
}

static void assert_revisions(struct store *store, const uint64_t *want, size_t n_want)
{
	uint64_t *revs = NULL;
	size_t n = 0;

	assert_int_equal(store_list(store, &revs, &n), 0);
	assert_int_equal(n, n_want);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(revs[i], want[i]);
	free(revs);
}

static void test_empty_store_has_no_latest_and_lists_nothing(void **state)
{
	struct fx *fx = *state;
	struct store_revision rev;
	uint64_t *revs = (uint64_t *)1;
	size_t n = 99;

	assert_int_equal(store_latest(fx->store, &rev), -ENOENT);
	assert_int_equal(store_get(fx->store, 1, &rev), -ENOENT);
	assert_int_equal(store_list(fx->store, &revs, &n), 0);
	assert_null(revs);
	assert_int_equal(n, 0);
}

static void test_committed_revision_is_the_latest_with_its_document(void **state)
{
	struct fx *fx = *state;
	static const unsigned char doc[] = {0x0a, 0x00, 0xff, 0x12, 0x00, 0x7f};
	struct store_revision rev;
	int64_t before = time(NULL);

	assert_int_equal(store_commit(fx->store, 7, doc, sizeof(doc), "ctrl-eu-1"), 0);
	assert_int_equal(store_latest(fx->store, &rev), 0);
	assert_int_equal(rev.revision, 7);
	assert_int_equal(rev.doc_len, sizeof(doc));
	assert_memory_equal(rev.doc, doc, sizeof(doc));
	assert_string_equal(rev.source_name, "ctrl-eu-1");
	assert_in_range(rev.committed_unix, before, time(NULL));
	store_revision_free(&rev);

	commit_text(fx->store, 8, "second");
	assert_int_equal(store_latest(fx->store, &rev), 0);
	assert_int_equal(rev.revision, 8);
	assert_memory_equal(rev.doc, "second", 6);
	store_revision_free(&rev);

	assert_int_equal(store_get(fx->store, 7, &rev), 0);
	assert_memory_equal(rev.doc, doc, sizeof(doc));
	store_revision_free(&rev);
}

static void test_empty_document_round_trips(void **state)
{
	struct fx *fx = *state;
	struct store_revision rev;

	assert_int_equal(store_commit(fx->store, 1, NULL, 0, ""), 0);
	assert_int_equal(store_latest(fx->store, &rev), 0);
	assert_int_equal(rev.doc_len, 0);
	assert_non_null(rev.doc);
	assert_string_equal(rev.source_name, "");
	store_revision_free(&rev);
}

/* -ESTALE leaves the file and its WAL byte for byte as they were. */
static void assert_stale_writes_nothing(struct fx *fx, uint64_t revision)
{
	char *wal = fixture_path(fx->dir, "store.db-wal");
	unsigned char *db_before, *wal_before;
	size_t db_len, wal_len;
	struct store_revision rev;

	assert_int_equal(fixture_read(fx->path, &db_before, &db_len), 0);
	assert_int_equal(fixture_read(wal, &wal_before, &wal_len), 0);

	assert_int_equal(store_commit(fx->store, revision, "other", 5, "controller-b"), -ESTALE);

	assert_true(fixture_same(fx->path, db_before, db_len));
	assert_true(fixture_same(wal, wal_before, wal_len));
	assert_int_equal(store_latest(fx->store, &rev), 0);
	assert_int_equal(rev.revision, 5);
	assert_memory_equal(rev.doc, "fifth", 5);
	assert_string_equal(rev.source_name, "controller-a");
	store_revision_free(&rev);
	assert_revisions(fx->store, (uint64_t[]){5, 3}, 2);
	free(db_before);
	free(wal_before);
	free(wal);
}

static void test_equal_revision_is_stale_and_writes_nothing(void **state)
{
	struct fx *fx = *state;

	commit_text(fx->store, 3, "third");
	commit_text(fx->store, 5, "fifth");
	assert_stale_writes_nothing(fx, 5);
}

static void test_lower_revision_is_stale_and_writes_nothing(void **state)
{
	struct fx *fx = *state;

	commit_text(fx->store, 3, "third");
	commit_text(fx->store, 5, "fifth");
	assert_stale_writes_nothing(fx, 4);
	assert_stale_writes_nothing(fx, 1);
}

static void test_invalid_arguments_are_refused(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(store_commit(fx->store, 0, "x", 1, "c"), -EINVAL);
	assert_int_equal(store_commit(fx->store, (uint64_t)INT64_MAX + 1, "x", 1, "c"), -EINVAL);
	assert_int_equal(store_commit(fx->store, 1, NULL, 3, "c"), -EINVAL);
	assert_int_equal(store_commit(fx->store, 1, "x", 1, NULL), -EINVAL);
	assert_int_equal(store_set_keep(fx->store, 0), -EINVAL);
	assert_revisions(fx->store, NULL, 0);
}

static void test_default_keeps_last_ten_revisions(void **state)
{
	struct fx *fx = *state;
	struct store_revision rev;

	for (uint64_t r = 1; r <= 15; r++)
		commit_text(fx->store, r, "doc");
	assert_revisions(fx->store, (uint64_t[]){15, 14, 13, 12, 11, 10, 9, 8, 7, 6}, 10);
	assert_int_equal(store_get(fx->store, 5, &rev), -ENOENT);
	assert_int_equal(store_get(fx->store, 6, &rev), 0);
	store_revision_free(&rev);
}

static void test_keep_k_prunes_older_revisions_in_the_commit(void **state)
{
	struct fx *fx = *state;
	struct store_revision rev;

	assert_int_equal(store_set_keep(fx->store, 3), 0);
	for (uint64_t r = 1; r <= 7; r++)
		commit_text(fx->store, r * 10, "doc");
	assert_revisions(fx->store, (uint64_t[]){70, 60, 50}, 3);
	assert_int_equal(store_get(fx->store, 40, &rev), -ENOENT);
	assert_int_equal(store_get(fx->store, 10, &rev), -ENOENT);
	assert_int_equal(store_get(fx->store, 50, &rev), 0);
	assert_int_equal(rev.revision, 50);
	store_revision_free(&rev);

	/* Lowering K takes effect at the next commit. */
	assert_int_equal(store_set_keep(fx->store, 1), 0);
	assert_revisions(fx->store, (uint64_t[]){70, 60, 50}, 3);
	commit_text(fx->store, 71, "doc");
	assert_revisions(fx->store, (uint64_t[]){71}, 1);
	assert_int_equal(store_get(fx->store, 70, &rev), -ENOENT);
}

static void test_list_is_newest_first_and_survives_reopen(void **state)
{
	struct fx *fx = *state;
	char err[512];

	commit_text(fx->store, 2, "a");
	commit_text(fx->store, 5, "b");
	commit_text(fx->store, 9, "c");
	commit_text(fx->store, 1000000000000ULL, "d");
	assert_revisions(fx->store, (uint64_t[]){1000000000000ULL, 9, 5, 2}, 4);

	store_close(fx->store);
	fx->store = NULL;
	assert_int_equal(store_open(fx->path, &fx->store, err, sizeof(err)), 0);
	assert_revisions(fx->store, (uint64_t[]){1000000000000ULL, 9, 5, 2}, 4);
}

static void test_large_document_round_trips(void **state)
{
	struct fx *fx = *state;
	size_t len = 3 * 1024 * 1024 + 17;
	unsigned char *doc = malloc(len);
	struct store_revision rev;

	assert_non_null(doc);
	for (size_t i = 0; i < len; i++)
		doc[i] = (unsigned char)(i * 131 + (i >> 9));
	assert_int_equal(store_commit(fx->store, 1, doc, len, "c"), 0);
	assert_int_equal(store_get(fx->store, 1, &rev), 0);
	assert_int_equal(rev.doc_len, len);
	assert_memory_equal(rev.doc, doc, len);
	store_revision_free(&rev);
	free(doc);
}

static void test_delta_on_a_base_other_than_the_latest_is_stale(void **state)
{
	struct fx *fx = *state;
	static const uint64_t want[] = {2, 1};

	commit_text(fx->store, 1, "whole 1");
	assert_int_equal(store_commit_delta(fx->store, 2, 1, "d2", 2, "etcd"), 0);
	assert_int_equal(store_commit_delta(fx->store, 3, 1, "d3", 2, "etcd"), -ESTALE);
	assert_int_equal(store_commit_delta(fx->store, 3, 0, "d3", 2, "etcd"), -EINVAL);
	assert_revisions(fx->store, want, 2);
}

static void test_delta_reads_back_with_its_base(void **state)
{
	struct fx *fx = *state;
	struct store_revision rev;

	commit_text(fx->store, 4, "whole 4");
	assert_int_equal(store_commit_delta(fx->store, 9, 4, "delta 9", 7, "etcd"), 0);
	assert_int_equal(store_latest(fx->store, &rev), 0);
	assert_int_equal(rev.revision, 9);
	assert_int_equal(rev.base, 4);
	assert_memory_equal(rev.doc, "delta 9", 7);
	store_revision_free(&rev);
	assert_int_equal(store_get(fx->store, 4, &rev), 0);
	assert_int_equal(rev.base, 0);
	store_revision_free(&rev);
}

static void test_pruning_keeps_the_chain_the_kept_deltas_need(void **state)
{
	struct fx *fx = *state;
	/* keep 3: revisions 6..8 are deltas on 5, 5 on 4, 4 on 3 (whole): 3 stays */
	static const uint64_t chain[] = {8, 7, 6, 5, 4, 3};
	static const uint64_t longer[] = {10, 9, 8, 7, 6, 5, 4, 3};

	assert_int_equal(store_set_keep(fx->store, 3), 0);
	commit_text(fx->store, 1, "whole 1");
	commit_text(fx->store, 2, "whole 2");
	commit_text(fx->store, 3, "whole 3");
	for (uint64_t r = 4; r <= 8; r++)
		assert_int_equal(store_commit_delta(fx->store, r, r - 1, "d", 1, "etcd"), 0);
	assert_revisions(fx->store, chain, 6);
	/* 8 still needs 3; once the oldest kept revision is whole (9), the rest goes */
	commit_text(fx->store, 9, "whole 9");
	assert_int_equal(store_commit_delta(fx->store, 10, 9, "d", 1, "etcd"), 0);
	assert_revisions(fx->store, longer, 8);
	commit_text(fx->store, 11, "whole 11");
	{
		static const uint64_t want[] = {11, 10, 9};

		assert_revisions(fx->store, want, 3);
	}
}

/*
 * The revisions a store must hold after each commit: the newest `keep` and the chain they
 * stand on, everything below the newest whole revision at or below the keep-th newest gone.
 */
static size_t model_prune(uint64_t *revs, bool *whole, size_t n, unsigned keep)
{
	uint64_t oldest_kept = n > keep ? revs[n - keep] : revs[0], anchor = 0;
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (whole[i] && revs[i] <= oldest_kept)
			anchor = revs[i];
	for (size_t i = 0; i < n; i++)
		if (revs[i] >= anchor) {
			revs[k] = revs[i];
			whole[k++] = whole[i];
		}
	return k;
}

static void test_random_commits_prune_as_the_model_says(void **state)
{
	struct fx *fx = *state;
	uint64_t revs[400], next = 1, seed = 0x5eed;
	bool whole[400];
	unsigned keep = 3;
	size_t n = 0;

	assert_int_equal(store_set_keep(fx->store, keep), 0);
	for (int step = 0; step < 300; step++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		unsigned roll = (unsigned)(seed >> 33) % 100;

		if (roll < 3) { /* the keep changes now and then */
			keep = 1 + (unsigned)(seed >> 40) % 6;
			assert_int_equal(store_set_keep(fx->store, keep), 0);
			continue;
		}
		if (n && roll < 8) { /* a rebase: the latest stored whole */
			assert_int_equal(store_rebase(fx->store, revs[n - 1], "w", 1), 0);
			whole[n - 1] = true;
		} else if (!n || roll < 20) {
			commit_text(fx->store, next, "w");
			revs[n] = next++;
			whole[n++] = true;
		} else {
			assert_int_equal(store_commit_delta(fx->store, next, revs[n - 1], "d", 1, "etcd"),
					 0);
			revs[n] = next++;
			whole[n++] = false;
		}
		{
			uint64_t want[400];
			size_t n_want;

			n = model_prune(revs, whole, n, keep);
			n_want = n;
			for (size_t i = 0; i < n; i++)
				want[i] = revs[n - 1 - i];
			assert_revisions(fx->store, want, n_want);
		}
	}
}

static void test_source_text_is_kept_with_its_revision_across_reopen(void **state)
{
	static const char text[] = "# the web tier\nrevision: 2\nendpoints: []\n";
	struct fx *fx = *state;
	struct store_revision rev;
	char err[512];

	assert_int_equal(store_commit_source(fx->store, 1, "one", 3, "a.yaml", NULL), 0);
	assert_int_equal(store_commit_source(fx->store, 2, "two", 3, "b.yaml", text), 0);
	store_close(fx->store);
	assert_int_equal(store_open(fx->path, &fx->store, err, sizeof(err)), 0);
	assert_int_equal(store_get(fx->store, 2, &rev), 0);
	assert_non_null(rev.source);
	assert_string_equal(rev.source, text);
	store_revision_free(&rev);
	assert_int_equal(store_get(fx->store, 1, &rev), 0);
	assert_null(rev.source); /* sent as messages only: no text to give back */
	store_revision_free(&rev);
}

static void test_rebase_stores_the_latest_whole_and_prunes_its_chain(void **state)
{
	struct fx *fx = *state;
	struct store_revision rev;
	static const uint64_t before[] = {6, 5, 4, 3};

	assert_int_equal(store_set_keep(fx->store, 2), 0);
	commit_text(fx->store, 3, "whole 3");
	for (uint64_t r = 4; r <= 6; r++)
		assert_int_equal(store_commit_delta(fx->store, r, r - 1, "d", 1, "etcd"), 0);
	assert_revisions(fx->store, before, 4);
	/* only the latest can be rebased: an older one would change what later deltas mean */
	assert_int_equal(store_rebase(fx->store, 5, "whole 5", 7), -ESTALE);
	assert_int_equal(store_rebase(fx->store, 6, "whole 6", 7), 0);
	assert_int_equal(store_latest(fx->store, &rev), 0);
	assert_int_equal(rev.revision, 6);
	assert_int_equal(rev.base, 0);
	assert_memory_equal(rev.doc, "whole 6", 7);
	assert_string_equal(rev.source_name, "etcd");
	store_revision_free(&rev);
	/* 5 (kept) still stands on 4 and 3; the next commit keeps 7 and 6, whole: the rest goes */
	assert_int_equal(store_commit_delta(fx->store, 7, 6, "d", 1, "etcd"), 0);
	{
		static const uint64_t want[] = {7, 6};

		assert_revisions(fx->store, want, 2);
	}
}

static void test_deferred_commits_read_back_and_sync(void **state)
{
	struct fx *fx = *state;
	struct store_revision rev;
	char err[512];

	assert_int_equal(store_set_deferred_sync(fx->store, true), 0);
	commit_text(fx->store, 1, "one");
	assert_int_equal(store_commit_delta(fx->store, 2, 1, "d2", 2, "etcd"), 0);
	assert_int_equal(store_sync(fx->store), 0);
	store_close(fx->store);
	assert_int_equal(store_open(fx->path, &fx->store, err, sizeof(err)), 0);
	assert_int_equal(store_latest(fx->store, &rev), 0);
	assert_int_equal(rev.revision, 2);
	assert_int_equal(rev.base, 1);
	store_revision_free(&rev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_empty_store_has_no_latest_and_lists_nothing, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_committed_revision_is_the_latest_with_its_document,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_empty_document_round_trips, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_equal_revision_is_stale_and_writes_nothing, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_lower_revision_is_stale_and_writes_nothing, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_invalid_arguments_are_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_default_keeps_last_ten_revisions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keep_k_prunes_older_revisions_in_the_commit, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_list_is_newest_first_and_survives_reopen, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_large_document_round_trips, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_delta_on_a_base_other_than_the_latest_is_stale,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_delta_reads_back_with_its_base, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pruning_keeps_the_chain_the_kept_deltas_need,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_random_commits_prune_as_the_model_says, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		test_source_text_is_kept_with_its_revision_across_reopen, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_rebase_stores_the_latest_whole_and_prunes_its_chain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deferred_commits_read_back_and_sync, setup,
					    teardown),
	};

	return cmocka_run_group_tests_name("store_revision", tests, NULL, NULL);
}
