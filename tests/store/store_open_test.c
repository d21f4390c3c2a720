// SPDX-License-Identifier: Apache-2.0
/*
 * Opening the store: creation and reopening, migration of an older schema, and refusal, without
 * touching the file, of newer schemas, corrupt files, foreign databases and unusable paths.
 */
#include <errno.h>
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"
#include "store/store.h"

#define NOBODY 65534

struct fx {
	char *dir;
	char *path;
	char err[512];
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (!fx || !(fx->dir = fixture_tmpdir()))
		return -1;
	fx->path = fixture_path(fx->dir, "store.db");
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	free(fx->path);
	fixture_rmtree(fx->dir);
	free(fx);
	return 0;
}

static int64_t sql_int(const char *path, const char *sql)
{
	int64_t v = -1;

	assert_int_equal(fixture_sql_int(path, sql, &v), 0);
	return v;
}

/* Makes a store at path holding revisions 1..n, document i = "doc-i" + filler of len bytes. */
static void make_store(const char *path, unsigned n, size_t len)
{
	struct store *store;
	char err[512];
	char *doc = malloc(len + 32);

	assert_non_null(doc);
	assert_int_equal(store_open(path, &store, err, sizeof(err)), 0);
	for (unsigned i = 1; i <= n; i++) {
		int k = snprintf(doc, 32, "MARKER-doc-%u-", i);

		memset(doc + k, 'a' + (int)(i % 26), len);
		assert_int_equal(store_commit(store, i, doc, k + len, "ctrl"), 0);
	}
	store_close(store);
	free(doc);
}

/* Opening must fail with want, name the path, mention why, and leave the file as it was. */
static void assert_refused_untouched(struct fx *fx, int want, const char *why)
{
	unsigned char *before;
	size_t len;
	struct store *store = NULL;

	assert_int_equal(fixture_read(fx->path, &before, &len), 0);
	assert_int_equal(store_open(fx->path, &store, fx->err, sizeof(fx->err)), want);
	assert_null(store);
	assert_non_null(strstr(fx->err, fx->path));
	if (!strstr(fx->err, why))
		fail_msg("message \"%s\" does not say \"%s\"", fx->err, why);
	assert_true(fixture_same(fx->path, before, len));
	/* Twice: the first refusal must not have made the second one different. */
	assert_int_equal(store_open(fx->path, &store, fx->err, sizeof(fx->err)), want);
	assert_true(fixture_same(fx->path, before, len));
	free(before);
}

static void test_new_store_creates_private_parent_dirs_and_stamps_the_file(void **state)
{
	struct fx *fx = *state;
	char *parent = fixture_path(fx->dir, "var/lib/iofence");
	char *path = fixture_path(fx->dir, "var/lib/iofence/store.db");
	struct store *store;
	struct stat st;

	assert_int_equal(store_open(path, &store, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(stat(parent, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(sql_int(path, "PRAGMA application_id"), STORE_APPLICATION_ID);
	assert_int_equal(sql_int(path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(fixture_sql_int(path, "SELECT count(*) FROM revisions", &(int64_t){0}), 0);
	store_close(store);

	/* journal_mode is stored in the file: WAL sticks. */
	assert_int_equal(fixture_sql(path, "CREATE TEMP TABLE probe(x)"), 0);
	{
		int64_t wal = 0;

		assert_int_equal(fixture_sql_int(path,
						 "SELECT journal_mode = 'wal' FROM "
						 "pragma_journal_mode",
						 &wal),
				 0);
		assert_int_equal(wal, 1);
	}
	free(parent);
	free(path);
}

static void test_reopened_store_keeps_its_revisions(void **state)
{
	struct fx *fx = *state;
	struct store_revision rev;
	struct store *store;

	make_store(fx->path, 3, 10);
	assert_int_equal(store_open(fx->path, &store, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(store_latest(store, &rev), 0);
	assert_int_equal(rev.revision, 3);
	assert_memory_equal(rev.doc, "MARKER-doc-3-dddddddddd", rev.doc_len);
	store_revision_free(&rev);
	assert_int_equal(store_commit(store, 4, "x", 1, "ctrl"), 0);
	store_close(store);
	assert_int_equal(store_open(fx->path, &store, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(store_latest(store, &rev), 0);
	assert_int_equal(rev.revision, 4);
	store_revision_free(&rev);
	store_close(store);
}

static const char v1_schema[] =
    "CREATE TABLE revisions ("
    "  revision INTEGER PRIMARY KEY CHECK (revision > 0),"
    "  doc BLOB NOT NULL,"
    "  source_name TEXT NOT NULL,"
    "  committed_unix INTEGER NOT NULL);"
    "INSERT INTO revisions VALUES (4, x'0a0b0c', 'old-ctrl', 1700000000);"
    "INSERT INTO revisions VALUES (6, 'six', 'old-ctrl', 1700000100);"
    "PRAGMA journal_mode = WAL;"
    "PRAGMA user_version = 1;";

static void assert_migrated_v1(struct fx *fx)
{
	struct store_revision rev;
	struct store *store;

	assert_int_equal(store_open(fx->path, &store, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(store_get(store, 4, &rev), 0);
	assert_int_equal(rev.doc_len, 3);
	assert_memory_equal(rev.doc, "\x0a\x0b\x0c", 3);
	assert_string_equal(rev.source_name, "old-ctrl");
	assert_int_equal(rev.committed_unix, 1700000000);
	store_revision_free(&rev);
	assert_int_equal(store_latest(store, &rev), 0);
	assert_int_equal(rev.revision, 6);
	assert_memory_equal(rev.doc, "six", 3);
	store_revision_free(&rev);
	assert_int_equal(store_commit(store, 6, "x", 1, "c"), -ESTALE);
	assert_int_equal(store_commit(store, 7, "seven", 5, "c"), 0);
	store_close(store);

	assert_int_equal(sql_int(fx->path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(sql_int(fx->path, "PRAGMA application_id"), STORE_APPLICATION_ID);
	/* The migration filled in the checksums of the old rows. */
	assert_int_equal(sql_int(fx->path, "SELECT count(*) FROM revisions WHERE doc_hash = 0"), 0);
	assert_int_equal(sql_int(fx->path, "SELECT count(*) FROM revisions"), 3);
}

static void test_v1_file_is_migrated_keeping_its_revisions(void **state)
{
	struct fx *fx = *state;
	char sql[sizeof(v1_schema) + 64];

	snprintf(sql, sizeof(sql), "%sPRAGMA application_id = %d;", v1_schema,
		 STORE_APPLICATION_ID);
	assert_int_equal(fixture_sql(fx->path, sql), 0);
	assert_migrated_v1(fx);
}

/* A file from before application_id was stamped: ours because it holds only our tables. */
static void test_v1_file_without_application_id_is_migrated(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(fixture_sql(fx->path, v1_schema), 0);
	assert_migrated_v1(fx);
}

static void test_newer_schema_is_refused_and_left_untouched(void **state)
{
	struct fx *fx = *state;
	char want[128];

	make_store(fx->path, 2, 10);
	assert_int_equal(fixture_sql(fx->path, "PRAGMA user_version = 99"), 0);
	snprintf(want, sizeof(want), "schema version 99 is newer than this agent (%d)",
		 STORE_SCHEMA_VERSION);
	assert_refused_untouched(fx, -EPROTO, want);
}

static void test_garbage_file_is_refused_and_left_untouched(void **state)
{
	struct fx *fx = *state;
	unsigned char junk[8192];

	srandom(42);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)random();
	assert_int_equal(fixture_write(fx->path, junk, sizeof(junk)), 0);
	assert_refused_untouched(fx, -EBADMSG, "corrupt");

	/* sqlite alone would take a file shorter than a page for an empty database. */
	assert_int_equal(fixture_write(fx->path, "not a db\n", 9), 0);
	assert_refused_untouched(fx, -EBADMSG, "corrupt");
}

static void overwrite(const char *path, size_t offset, const void *bytes, size_t len)
{
	unsigned char *buf;
	size_t file_len;

	assert_int_equal(fixture_read(path, &buf, &file_len), 0);
	assert_true(offset + len <= file_len);
	memcpy(buf + offset, bytes, len);
	assert_int_equal(fixture_write(path, buf, file_len), 0);
	free(buf);
}

static void test_database_with_an_overwritten_page_is_refused_and_left_untouched(void **state)
{
	struct fx *fx = *state;
	unsigned char page[4096];
	struct stat st;
	size_t pages;

	make_store(fx->path, 6, 5000); /* overflow pages; no deletes, so no free pages */
	assert_int_equal(stat(fx->path, &st), 0);
	pages = (size_t)st.st_size / sizeof(page);
	assert_true(pages >= 8);
	memset(page, 0xa5, sizeof(page));
	overwrite(fx->path, pages / 2 * sizeof(page), page, sizeof(page));
	assert_refused_untouched(fx, -EBADMSG, "corrupt database");
}

/* Bytes inside a document are invisible to quick_check; the document checksum sees them. */
static void test_overwritten_document_bytes_are_refused_and_left_untouched(void **state)
{
	struct fx *fx = *state;
	unsigned char *buf, *at;
	size_t len;

	make_store(fx->path, 4, 40);
	assert_int_equal(fixture_read(fx->path, &buf, &len), 0);
	at = memmem(buf, len, "MARKER-doc-3-", 13);
	assert_non_null(at);
	overwrite(fx->path, (size_t)(at - buf) + 20, "Z", 1);
	free(buf);
	assert_refused_untouched(fx, -EBADMSG, "revision 3: document checksum mismatch");
}

static void test_foreign_database_is_refused_and_left_untouched(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(fixture_sql(fx->path, "PRAGMA application_id = 305419896;"
					       "CREATE TABLE revisions (x);"),
			 0);
	assert_refused_untouched(fx, -EMEDIUMTYPE, "not an iofence store");
	assert_int_equal(remove(fx->path), 0);

	assert_int_equal(fixture_sql(fx->path, "CREATE TABLE users (name TEXT);"
					       "INSERT INTO users VALUES ('alice');"),
			 0);
	assert_refused_untouched(fx, -EMEDIUMTYPE, "not an iofence store");
	assert_int_equal(remove(fx->path), 0);

	/* A table with our name that we never stamped with a schema version is not ours. */
	assert_int_equal(fixture_sql(fx->path, "CREATE TABLE revisions (x);"), 0);
	assert_refused_untouched(fx, -EMEDIUMTYPE, "not an iofence store");
	assert_int_equal(remove(fx->path), 0);

	/* Our table name next to someone else's is not ours either. */
	assert_int_equal(fixture_sql(fx->path, "CREATE TABLE revisions (x); CREATE TABLE t (y);"),
			 0);
	assert_refused_untouched(fx, -EMEDIUMTYPE, "not an iofence store");
}

static void test_empty_file_becomes_a_store(void **state)
{
	struct fx *fx = *state;
	struct store *store;

	assert_int_equal(fixture_write(fx->path, "", 0), 0);
	assert_int_equal(store_open(fx->path, &store, fx->err, sizeof(fx->err)), 0);
	assert_int_equal(store_commit(store, 1, "a", 1, "c"), 0);
	store_close(store);
	assert_int_equal(sql_int(fx->path, "PRAGMA application_id"), STORE_APPLICATION_ID);
}

static void test_unusable_paths_give_errors_naming_them(void **state)
{
	struct fx *fx = *state;
	char *file = fixture_path(fx->dir, "plain");
	char *under_file = fixture_path(fx->dir, "plain/store.db");
	struct store *store = NULL;

	assert_int_equal(fixture_write(file, "x", 1), 0);
	assert_int_equal(store_open(under_file, &store, fx->err, sizeof(fx->err)), -ENOTDIR);
	assert_non_null(strstr(fx->err, under_file));
	assert_non_null(strstr(fx->err, strerror(ENOTDIR)));

	assert_int_equal(store_open(fx->dir, &store, fx->err, sizeof(fx->err)), -EISDIR);
	assert_non_null(strstr(fx->err, fx->dir));

	assert_int_equal(store_open("", &store, fx->err, sizeof(fx->err)), -EINVAL);
	assert_int_equal(store_open(fx->path, &store, NULL, 0), 0); /* err is optional */
	store_close(store);
	free(file);
	free(under_file);
}

/* store_open() as an unprivileged user (root bypasses file modes): returns its result. */
static int open_unprivileged(const char *path, char *err, size_t err_len)
{
	int pipefd[2], status, r = 0;
	pid_t pid;

	assert_int_equal(pipe(pipefd), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *store = NULL;
		char msg[512] = "";

		close(pipefd[0]);
		if (geteuid() == 0 &&
		    (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
		     setresuid(NOBODY, NOBODY, NOBODY) < 0))
			_exit(3);
		r = store_open(path, &store, msg, sizeof(msg));
		store_close(store);
		if (write(pipefd[1], &r, sizeof(r)) != sizeof(r) ||
		    write(pipefd[1], msg, sizeof(msg)) != sizeof(msg))
			_exit(4);
		_exit(0);
	}
	close(pipefd[1]);
	assert_int_equal(read(pipefd[0], &r, sizeof(r)), sizeof(r));
	assert_int_equal(read(pipefd[0], err, err_len), err_len);
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return r;
}

static void test_unwritable_directory_and_read_only_file_give_clear_errors(void **state)
{
	struct fx *fx = *state;
	char *ro_dir = fixture_path(fx->dir, "ro");
	char *in_ro_dir = fixture_path(fx->dir, "ro/store.db");
	char *rw_dir = fixture_path(fx->dir, "rw");
	char *ro_file = fixture_path(fx->dir, "rw/store.db");
	unsigned char *before;
	size_t len;

	/* The unprivileged child must reach into the test directory. */
	assert_int_equal(chmod(fx->dir, 0755), 0);
	assert_int_equal(mkdir(ro_dir, 0555), 0);
	assert_int_equal(open_unprivileged(in_ro_dir, fx->err, sizeof(fx->err)), -EACCES);
	assert_non_null(strstr(fx->err, in_ro_dir));
	assert_null(strstr(fx->err, "corrupt"));

	assert_int_equal(mkdir(rw_dir, 0777), 0);
	assert_int_equal(chmod(rw_dir, 0777), 0); /* past the umask */
	make_store(ro_file, 2, 10);
	assert_int_equal(chmod(ro_file, 0444), 0);
	assert_int_equal(fixture_read(ro_file, &before, &len), 0);
	assert_int_equal(open_unprivileged(ro_file, fx->err, sizeof(fx->err)), -EROFS);
	assert_non_null(strstr(fx->err, ro_file));
	assert_non_null(strstr(fx->err, "read-only"));
	assert_true(fixture_same(ro_file, before, len));
	free(before);
	free(ro_dir);
	free(in_ro_dir);
	free(rw_dir);
	free(ro_file);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_new_store_creates_private_parent_dirs_and_stamps_the_file),
	    T(test_reopened_store_keeps_its_revisions),
	    T(test_v1_file_is_migrated_keeping_its_revisions),
	    T(test_v1_file_without_application_id_is_migrated),
	    T(test_newer_schema_is_refused_and_left_untouched),
	    T(test_garbage_file_is_refused_and_left_untouched),
	    T(test_database_with_an_overwritten_page_is_refused_and_left_untouched),
	    T(test_overwritten_document_bytes_are_refused_and_left_untouched),
	    T(test_foreign_database_is_refused_and_left_untouched),
	    T(test_empty_file_becomes_a_store),
	    T(test_unusable_paths_give_errors_naming_them),
	    T(test_unwritable_directory_and_read_only_file_give_clear_errors),
	};

	return cmocka_run_group_tests_name("store_open", tests, NULL, NULL);
}
