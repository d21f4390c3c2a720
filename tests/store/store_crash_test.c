// SPDX-License-Identifier: Apache-2.0
/*
 * Crash test: a child commits revisions in a loop and acknowledges each one on a pipe after
 * store_commit() returned; the parent SIGKILLs it at a random moment, reopens the store and
 * checks that no acknowledged revision was lost, that at most the one in flight was added, and
 * that every kept document is intact. Seeded: IOFENCE_SEED=N replays the documents and delays.
 * (A process kill, not a power cut: the page cache survives; this checks sqlite's atomicity and
 * our acknowledgement order, not the disk's honesty about fsync.)
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"
#include "store/store.h"

#define ROUNDS 30
#define KEEP 5
#define MAX_DELAY_US 150000
#define DOC_MAGIC 0x494f4644u /* 'IOFD' */
#define DOC_HEADER 16	      /* magic u32, payload length u32, revision u64 */
#define DOC_TRAILER 8	      /* FNV-1a of everything before it */

static uint64_t seed;

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t fnv1a(const unsigned char *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

/* The document of a revision: deterministic from (seed, revision), 0..24 KiB of payload. */
static unsigned char *make_doc(uint64_t revision, size_t *ret_len)
{
	uint64_t s = seed ^ (revision * 0xd1342543de82ef95ULL);
	uint32_t payload = (uint32_t)(splitmix(&s) % 24577), magic = DOC_MAGIC;
	size_t len = DOC_HEADER + payload + DOC_TRAILER;
	unsigned char *doc = malloc(len);
	uint64_t hash;

	if (!doc)
		return NULL;
	memcpy(doc, &magic, 4);
	memcpy(doc + 4, &payload, 4);
	memcpy(doc + 8, &revision, 8);
	for (size_t i = 0; i < payload; i++)
		doc[DOC_HEADER + i] = (unsigned char)splitmix(&s);
	hash = fnv1a(doc, len - DOC_TRAILER);
	memcpy(doc + len - DOC_TRAILER, &hash, 8);
	*ret_len = len;
	return doc;
}

/* The document's own checksum and shape, then byte equality with what was committed. */
static void assert_doc_intact(const struct store_revision *rev)
{
	const unsigned char *doc = rev->doc;
	uint32_t magic, payload;
	uint64_t revision, hash;
	unsigned char *want;
	size_t want_len;

	assert_true(rev->doc_len >= DOC_HEADER + DOC_TRAILER);
	memcpy(&magic, doc, 4);
	memcpy(&payload, doc + 4, 4);
	memcpy(&revision, doc + 8, 8);
	memcpy(&hash, doc + rev->doc_len - DOC_TRAILER, 8);
	assert_int_equal(magic, DOC_MAGIC);
	assert_int_equal(rev->doc_len, DOC_HEADER + (size_t)payload + DOC_TRAILER);
	assert_int_equal(revision, rev->revision);
	assert_int_equal(hash, fnv1a(doc, rev->doc_len - DOC_TRAILER));
	want = make_doc(rev->revision, &want_len);
	assert_non_null(want);
	assert_int_equal(want_len, rev->doc_len);
	assert_memory_equal(want, doc, want_len);
	free(want);
}

/* The child: commit from `next` on, acknowledging each revision after store_commit(). */
static void __attribute__((noreturn)) commit_forever(const char *path, uint64_t next, int ack_fd)
{
	struct store *store;
	char err[512];

	if (store_open(path, &store, err, sizeof(err)) < 0) {
		fprintf(stderr, "child: store_open: %s\n", err);
		_exit(2);
	}
	store_set_keep(store, KEEP);
	for (;; next++) {
		size_t len;
		unsigned char *doc = make_doc(next, &len);
		int r = doc ? store_commit(store, next, doc, len, "crash-test") : -ENOMEM;

		free(doc);
		if (r < 0) {
			fprintf(stderr, "child: store_commit(%" PRIu64 "): %s\n", next,
				strerror(-r));
			_exit(3);
		}
		if (write(ack_fd, &next, sizeof(next)) != sizeof(next))
			_exit(4);
	}
}

/* Runs one child for a random time, kills it; returns the last acknowledged revision (or 0). */
static uint64_t run_and_kill(const char *path, uint64_t next, uint64_t *rng, unsigned *ret_delay)
{
	unsigned delay = (unsigned)(splitmix(rng) % MAX_DELAY_US);
	uint64_t acked = 0, rev;
	int pipefd[2], status;
	pid_t pid;

	assert_int_equal(pipe(pipefd), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* If the test itself is killed, its writer must not go on committing. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(pipefd[0]);
		commit_forever(path, next, pipefd[1]);
	}
	close(pipefd[1]);
	usleep(delay);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFSIGNALED(status))
		fail_msg("child exited by itself (status %d) instead of being killed", status);
	while (read(pipefd[0], &rev, sizeof(rev)) == sizeof(rev))
		acked = rev;
	close(pipefd[0]);
	*ret_delay = delay;
	return acked;
}

/* After a kill: nothing acknowledged lost, at most one more, the last KEEP, all intact. */
static uint64_t check_store(const char *path, uint64_t known)
{
	struct store_revision rev;
	struct store *store;
	uint64_t *revs, latest;
	char err[512];
	size_t n;

	if (store_open(path, &store, err, sizeof(err)) < 0)
		fail_msg("reopen after kill: %s", err);
	assert_int_equal(store_list(store, &revs, &n), 0);
	latest = n ? revs[0] : 0;
	if (latest < known || latest > known + 1)
		fail_msg("latest %" PRIu64 ", acknowledged %" PRIu64, latest, known);
	assert_int_equal(n, latest < KEEP ? latest : KEEP);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(revs[i], latest - i);
		assert_int_equal(store_get(store, revs[i], &rev), 0);
		assert_doc_intact(&rev);
		store_revision_free(&rev);
	}
	if (latest) {
		assert_int_equal(store_latest(store, &rev), 0);
		assert_int_equal(rev.revision, latest);
		store_revision_free(&rev);
	}
	free(revs);
	store_close(store);
	return latest;
}

static void test_killed_writer_loses_no_acknowledged_revision(void **state)
{
	char *dir = fixture_tmpdir();
	char *path = fixture_path(dir, "store.db");
	uint64_t rng = seed, latest = 0, total_acked = 0;

	for (int round = 0; round < ROUNDS; round++) {
		unsigned delay;
		uint64_t acked = run_and_kill(path, latest + 1, &rng, &delay);
		uint64_t known = acked > latest ? acked : latest;
		uint64_t after = check_store(path, known);

		printf("round %2d: killed after %6u us, acknowledged %4" PRIu64 ", stored %4" PRIu64
		       "%s\n",
		       round, delay, known, after, after > known ? " (+1 in flight)" : "");
		total_acked += acked ? acked - latest : 0;
		latest = after;
	}
	/* A run where no child ever got a commit through would have tested nothing. */
	assert_true(total_acked > 0);
	free(path);
	fixture_rmtree(dir);
}

int main(void)
{
	const char *env = getenv("IOFENCE_SEED");
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_killed_writer_loses_no_acknowledged_revision),
	};

	seed = env && *env ? strtoull(env, NULL, 0)
			   : ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid();
	printf("store_crash_test: seed %" PRIu64 " (IOFENCE_SEED=%" PRIu64 " to replay)\n", seed,
	       seed);
	return cmocka_run_group_tests_name("store_crash", tests, NULL, NULL);
}
