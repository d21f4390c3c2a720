/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the store's files share and the agent does not see: the connection struct, sqlite result
 * codes mapped to errno, the document checksum.
 */
#ifndef IOFENCE_STORE_INTERNAL_H
#define IOFENCE_STORE_INTERNAL_H

#include <sqlite3.h>
#include <stdint.h>

#include "store/store.h"

#define STORE_BUSY_TIMEOUT_MS 5000
/* Statements kept prepared per connection: a commit runs five, each prepare costs more than
 * its step. */
#define STORE_STMT_CACHE 16

struct store {
	sqlite3 *db;
	char *path;
	unsigned keep;
	/*
	 * Commits that still run the prune query: it can delete something only once a whole
	 * revision has become the newest whole one at or below the keep-th newest, which happens
	 * within keep commits of its write. Set to keep + 1 at open, by a whole commit, a rebase
	 * and store_set_keep(); a delta commit spends one.
	 */
	unsigned prune_due;
	char error[256]; /* last sqlite message, for store_last_error() */
	struct {
		const char *sql; /* a string constant: the cache is keyed by its address */
		sqlite3_stmt *stmt;
	} stmts[STORE_STMT_CACHE];
};

/* Maps an sqlite result code (and the OS errno behind it, when there is one) to -errno. */
int sql_errno(sqlite3 *db, int rc);

/* Runs SQL without results; on failure copies sqlite's message into err. */
int sql_exec(sqlite3 *db, const char *sql, char *err, size_t err_len);

/* Reads one integer pragma ("application_id", "user_version") into *ret. */
int sql_pragma_int(sqlite3 *db, const char *pragma, int64_t *ret);

/*
 * store_stmt() - the statement of SQL (a string constant), prepared once per connection and
 * kept; give it back with store_stmt_done() (reset, bindings cleared; finalized if the cache
 * was full). An sqlite result code.
 */
int store_stmt(struct store *store, const char *sql, sqlite3_stmt **ret);
void store_stmt_done(struct store *store, sqlite3_stmt *stmt);
/* Finalizes the kept statements (before the connection closes). */
void store_stmts_free(struct store *store);

/* Copies sqlite's current message into the store's error buffer; returns rc unchanged. */
int store_note_error(struct store *store, int rc);

/* 64-bit FNV-1a over the document: catches torn or overwritten pages sqlite cannot see. */
uint64_t store_doc_hash(const void *doc, size_t len);

#endif
