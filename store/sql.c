// SPDX-License-Identifier: Apache-2.0
/*
 * Small sqlite helpers shared by the store's files: errno mapping, one-shot statements, the
 * document checksum.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store/internal.h"

int sql_errno(sqlite3 *db, int rc)
{
	int sys = db ? sqlite3_system_errno(db) : 0;

	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -EBADMSG;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_TOOBIG:
		return -E2BIG;
	case SQLITE_MISUSE:
	case SQLITE_RANGE:
	case SQLITE_MISMATCH:
		return -EINVAL;
	case SQLITE_CANTOPEN:
		return sys > 0 ? -sys : -EACCES;
	case SQLITE_IOERR:
		return sys > 0 ? -sys : -EIO;
	default:
		return -EIO;
	}
}

int sql_exec(sqlite3 *db, const char *sql, char *err, size_t err_len)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK && err && err_len)
		snprintf(err, err_len, "%s", msg ? msg : sqlite3_errstr(rc));
	sqlite3_free(msg);
	return sql_errno(db, rc);
}

int sql_pragma_int(sqlite3 *db, const char *pragma, int64_t *ret)
{
	char sql[64];
	sqlite3_stmt *stmt = NULL;
	int rc;

	snprintf(sql, sizeof(sql), "PRAGMA %s", pragma);
	rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*ret = sqlite3_column_int64(stmt, 0);
		rc = SQLITE_OK;
	}
out:
	sqlite3_finalize(stmt);
	return sql_errno(db, rc);
}

int store_stmt(struct store *store, const char *sql, sqlite3_stmt **ret)
{
	size_t i;

	for (i = 0; i < STORE_STMT_CACHE && store->stmts[i].sql; i++)
		if (store->stmts[i].sql == sql) {
			*ret = store->stmts[i].stmt;
			return SQLITE_OK;
		}
	if (i == STORE_STMT_CACHE) /* full: a statement for this call only */
		return sqlite3_prepare_v2(store->db, sql, -1, ret, NULL);
	*ret = NULL;
	int rc = sqlite3_prepare_v3(store->db, sql, -1, SQLITE_PREPARE_PERSISTENT, ret, NULL);

	if (rc == SQLITE_OK) {
		store->stmts[i].sql = sql;
		store->stmts[i].stmt = *ret;
	}
	return rc;
}

void store_stmt_done(struct store *store, sqlite3_stmt *stmt)
{
	if (!stmt)
		return;
	for (size_t i = 0; i < STORE_STMT_CACHE && store->stmts[i].sql; i++)
		if (store->stmts[i].stmt == stmt) {
			/* reset: a kept SELECT must not hold its read transaction open */
			sqlite3_reset(stmt);
			sqlite3_clear_bindings(stmt);
			return;
		}
	sqlite3_finalize(stmt);
}

void store_stmts_free(struct store *store)
{
	for (size_t i = 0; i < STORE_STMT_CACHE && store->stmts[i].sql; i++) {
		sqlite3_finalize(store->stmts[i].stmt);
		store->stmts[i].sql = NULL;
		store->stmts[i].stmt = NULL;
	}
}

int store_note_error(struct store *store, int rc)
{
	snprintf(store->error, sizeof(store->error), "%s", sqlite3_errmsg(store->db));
	return rc;
}

uint64_t store_doc_hash(const void *doc, size_t len)
{
	const unsigned char *p = doc;
	uint64_t hash = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		hash ^= p[i];
		hash *= 0x100000001b3ULL;
	}
	return hash;
}
