// SPDX-License-Identifier: Apache-2.0
/*
 * Revisions: commit one (insert and prune in one transaction), read the latest or a kept one,
 * list them. Every read document is checked against the checksum written with it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/internal.h"

static int rollback(struct store *store, int r)
{
	sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

/*
 * Steps a statement of store_stmt() to its end and gives it back. rc is the result of
 * preparing and binding it: a failure there skips the steps and is reported the same way (0
 * or -errno, with sqlite's message kept for store_last_error()).
 */
static int step_to_end(struct store *store, sqlite3_stmt *stmt, int rc)
{
	while (rc == SQLITE_OK || rc == SQLITE_ROW)
		rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE)
		store_note_error(store, rc);
	store_stmt_done(store, stmt);
	return rc == SQLITE_DONE ? 0 : (sql_errno(store->db, rc) ?: -EIO);
}

/* Runs one statement with up to two integer parameters, stepping it to the end. */
static int exec_int(struct store *store, const char *sql, int64_t a, int64_t b)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	rc = store_stmt(store, sql, &stmt);
	if (rc == SQLITE_OK && sqlite3_bind_parameter_count(stmt) >= 1)
		rc = sqlite3_bind_int64(stmt, 1, a);
	if (rc == SQLITE_OK && sqlite3_bind_parameter_count(stmt) >= 2)
		rc = sqlite3_bind_int64(stmt, 2, b);
	return step_to_end(store, stmt, rc);
}

/* The newest stored revision number, 0 if none. */
static int latest_number(struct store *store, int64_t *ret)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	static const char sql[] = "SELECT coalesce(max(revision), 0) FROM revisions";

	rc = store_stmt(store, sql, &stmt);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*ret = sqlite3_column_int64(stmt, 0);
		rc = SQLITE_OK;
	} else {
		store_note_error(store, rc);
	}
	store_stmt_done(store, stmt);
	return rc == SQLITE_OK ? 0 : (sql_errno(store->db, rc) ?: -EIO);
}

static int insert(struct store *store, uint64_t revision, uint64_t base, const void *doc,
		  size_t doc_len, const char *source_name, const char *source)
{
	static const char sql[] = "INSERT INTO revisions (revision, doc, source_name, "
				  "committed_unix, doc_hash, source, base) VALUES (?, ?, ?, ?, ?, ?, ?)";
	sqlite3_stmt *stmt = NULL;
	int rc;

	rc = store_stmt(store, sql, &stmt);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(stmt, 1, (sqlite3_int64)revision);
	if (rc == SQLITE_OK)
		/* "" rather than NULL for an empty document: doc is NOT NULL. */
		rc = sqlite3_bind_blob64(stmt, 2, doc_len ? doc : "", doc_len, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(stmt, 3, source_name, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(stmt, 4, (sqlite3_int64)time(NULL));
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(stmt, 5, (sqlite3_int64)store_doc_hash(doc, doc_len));
	if (rc == SQLITE_OK)
		rc = source ? sqlite3_bind_text(stmt, 6, source, -1, SQLITE_STATIC)
			    : sqlite3_bind_null(stmt, 6);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(stmt, 7, (sqlite3_int64)base);
	return step_to_end(store, stmt, rc);
}

/*
 * Keeps the newest `keep` revisions and the chain of deltas they stand on: everything below
 * the newest whole document at or below the oldest kept revision goes.
 */
static const char prune_sql[] =
    "DELETE FROM revisions WHERE revision < ("
    "  SELECT coalesce(max(revision), 0) FROM revisions WHERE base = 0 AND revision <= ("
    "    SELECT min(revision) FROM (SELECT revision FROM revisions"
    "                               ORDER BY revision DESC LIMIT ?)))";

/* BEGIN IMMEDIATE, then the newest stored revision number; rolled back on failure. */
static int begin_at_latest(struct store *store, int64_t *ret_latest)
{
	int r;

	store->error[0] = '\0';
	r = exec_int(store, "BEGIN IMMEDIATE", 0, 0);
	if (r < 0)
		return r;
	r = latest_number(store, ret_latest);
	return r < 0 ? rollback(store, r) : 0;
}

/*
 * Prunes to the kept revisions and commits; rolls back on failure. With synchronous=FULL,
 * COMMIT returns after the WAL frames are fsync'ed (deferred: once they are written;
 * store_sync() makes them durable).
 */
static int prune_and_commit(struct store *store)
{
	int r = store->prune_due ? exec_int(store, prune_sql, store->keep, 0) : 0;

	if (!r)
		r = exec_int(store, "COMMIT", 0, 0);
	return r < 0 ? rollback(store, r) : 0;
}

/* prune_and_commit() of a transaction that wrote a whole revision or a delta (prune_due). */
static int prune_and_commit_after(struct store *store, bool wrote_whole)
{
	int r;

	if (wrote_whole)
		store->prune_due = store->keep + 1;
	r = prune_and_commit(store);
	if (!r && store->prune_due)
		store->prune_due--;
	return r;
}

static int commit(struct store *store, uint64_t revision, uint64_t base, const void *doc,
		  size_t doc_len, const char *source_name, const char *source)
{
	int64_t latest = 0;
	int r;

	if (!store || revision == 0 || revision > INT64_MAX || (!doc && doc_len) || !source_name)
		return -EINVAL;
	r = begin_at_latest(store, &latest);
	if (r < 0)
		return r;
	if (revision <= (uint64_t)latest || (base && base != (uint64_t)latest))
		return rollback(store, -ESTALE);
	r = insert(store, revision, base, doc, doc_len, source_name, source);
	if (r < 0)
		return rollback(store, r);
	return prune_and_commit_after(store, !base);
}

int store_commit(struct store *store, uint64_t revision, const void *doc, size_t doc_len,
		 const char *source_name)
{
	return commit(store, revision, 0, doc, doc_len, source_name, NULL);
}

int store_commit_source(struct store *store, uint64_t revision, const void *doc, size_t doc_len,
			const char *source_name, const char *source)
{
	return commit(store, revision, 0, doc, doc_len, source_name, source);
}

int store_commit_delta(struct store *store, uint64_t revision, uint64_t base, const void *delta,
		       size_t delta_len, const char *source_name)
{
	if (!base)
		return -EINVAL;
	return commit(store, revision, base, delta, delta_len, source_name, NULL);
}

/* Replaces row revision's document with doc, now whole (base 0). */
static int update_whole(struct store *store, uint64_t revision, const void *doc, size_t doc_len)
{
	static const char sql[] =
	    "UPDATE revisions SET doc = ?, doc_hash = ?, base = 0 WHERE revision = ?";
	sqlite3_stmt *stmt = NULL;
	int rc;

	rc = store_stmt(store, sql, &stmt);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_blob64(stmt, 1, doc_len ? doc : "", doc_len, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(stmt, 2, (sqlite3_int64)store_doc_hash(doc, doc_len));
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(stmt, 3, (sqlite3_int64)revision);
	return step_to_end(store, stmt, rc);
}

int store_rebase(struct store *store, uint64_t revision, const void *doc, size_t doc_len)
{
	int64_t latest = 0;
	int r;

	if (!store || revision == 0 || revision > INT64_MAX || (!doc && doc_len))
		return -EINVAL;
	r = begin_at_latest(store, &latest);
	if (r < 0)
		return r;
	if (revision != (uint64_t)latest)
		return rollback(store, -ESTALE);
	r = update_whole(store, revision, doc, doc_len);
	if (r < 0)
		return rollback(store, r);
	return prune_and_commit_after(store, true);
}

static int read_row(struct store *store, sqlite3_stmt *stmt, struct store_revision *ret)
{
	const void *doc = sqlite3_column_blob(stmt, 1);
	size_t len = (size_t)sqlite3_column_bytes(stmt, 1);
	const char *source = (const char *)sqlite3_column_text(stmt, 2);
	const char *text = (const char *)sqlite3_column_text(stmt, 5);
	struct store_revision rev = {
	    .revision = (uint64_t)sqlite3_column_int64(stmt, 0),
	    .doc_len = len,
	    .committed_unix = sqlite3_column_int64(stmt, 3),
	    .base = (uint64_t)sqlite3_column_int64(stmt, 6),
	};

	if ((uint64_t)sqlite3_column_int64(stmt, 4) != store_doc_hash(doc, len)) {
		snprintf(store->error, sizeof(store->error),
			 "revision %llu: document checksum mismatch",
			 (unsigned long long)rev.revision);
		return -EBADMSG;
	}
	rev.doc = malloc(len ? len : 1);
	rev.source_name = strdup(source ? source : "");
	rev.source = text ? strdup(text) : NULL;
	if (!rev.doc || !rev.source_name || (text && !rev.source)) {
		store_revision_free(&rev);
		return -ENOMEM;
	}
	if (len)
		memcpy(rev.doc, doc, len);
	*ret = rev;
	return 0;
}

static int read_one(struct store *store, const char *sql, int64_t revision,
		    struct store_revision *ret)
{
	sqlite3_stmt *stmt = NULL;
	int rc, r;

	if (!store || !ret)
		return -EINVAL;
	store->error[0] = '\0';
	rc = store_stmt(store, sql, &stmt);
	if (rc == SQLITE_OK && sqlite3_bind_parameter_count(stmt) == 1)
		rc = sqlite3_bind_int64(stmt, 1, revision);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		r = read_row(store, stmt, ret);
	} else if (rc == SQLITE_DONE) {
		r = -ENOENT;
	} else {
		store_note_error(store, rc);
		r = sql_errno(store->db, rc) ?: -EIO;
	}
	store_stmt_done(store, stmt);
	return r;
}

#define SELECT_REVISION                                                                            \
	"SELECT revision, doc, source_name, committed_unix, doc_hash, source, base FROM revisions "

int store_latest(struct store *store, struct store_revision *ret)
{
	return read_one(store, SELECT_REVISION "ORDER BY revision DESC LIMIT 1", 0, ret);
}

int store_get(struct store *store, uint64_t revision, struct store_revision *ret)
{
	if (revision == 0 || revision > INT64_MAX)
		return -ENOENT;
	return read_one(store, SELECT_REVISION "WHERE revision = ?", (int64_t)revision, ret);
}

int store_list(struct store *store, uint64_t **revs, size_t *n)
{
	sqlite3_stmt *stmt = NULL;
	uint64_t *list = NULL;
	size_t count = 0, cap = 0;
	int rc, r = 0;

	if (!store || !revs || !n)
		return -EINVAL;
	store->error[0] = '\0';
	rc = sqlite3_prepare_v2(store->db, "SELECT revision FROM revisions ORDER BY revision DESC",
				-1, &stmt, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			uint64_t *grown = realloc(list, ncap * sizeof(*list));

			if (!grown) {
				r = -ENOMEM;
				goto out;
			}
			list = grown;
			cap = ncap;
		}
		list[count++] = (uint64_t)sqlite3_column_int64(stmt, 0);
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_DONE) {
		store_note_error(store, rc);
		r = sql_errno(store->db, rc) ?: -EIO;
	}
out:
	sqlite3_finalize(stmt);
	if (r < 0) {
		free(list);
		return r;
	}
	*revs = list;
	*n = count;
	return 0;
}

void store_revision_free(struct store_revision *rev)
{
	if (!rev)
		return;
	free(rev->doc);
	free(rev->source_name);
	free(rev->source);
	rev->doc = NULL;
	rev->source_name = NULL;
	rev->source = NULL;
}
