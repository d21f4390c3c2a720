// SPDX-License-Identifier: Apache-2.0
/*
 * Schema migrations: an ordered table of steps, each taking the file from user_version N-1 to N.
 * All pending steps, the application_id and the new user_version go in one transaction, so a
 * crash leaves the file at its old version or at the new one, never between.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store/internal.h"
#include "store/schema.h"

struct migration {
	int version; /* user_version after this step */
	const char *what;
	const char *sql;
};

/* Append only: a released step never changes, a new layout is a new step. */
static const struct migration migrations[] = {
    {1, "revisions table",
     "CREATE TABLE revisions ("
     "  revision INTEGER PRIMARY KEY CHECK (revision > 0),"
     "  doc BLOB NOT NULL,"
     "  source_name TEXT NOT NULL,"
     "  committed_unix INTEGER NOT NULL"
     ");"},
    {2, "document checksums",
     "ALTER TABLE revisions ADD COLUMN doc_hash INTEGER NOT NULL DEFAULT 0;"
     "UPDATE revisions SET doc_hash = iofence_doc_hash(doc);"},
    {3, "source texts", "ALTER TABLE revisions ADD COLUMN source TEXT;"},
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == STORE_SCHEMA_VERSION,
	       "one migration step per schema version");

static const char *const own_tables[] = {"revisions"};

bool schema_is_own_table(const char *name)
{
	for (size_t i = 0; i < sizeof(own_tables) / sizeof(own_tables[0]); i++)
		if (strcmp(name, own_tables[i]) == 0)
			return true;
	return false;
}

static void doc_hash_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const void *doc = sqlite3_value_blob(argv[0]);
	int len = sqlite3_value_bytes(argv[0]);

	sqlite3_result_int64(ctx, (sqlite3_int64)store_doc_hash(doc, len > 0 ? (size_t)len : 0));
}

int schema_register_functions(sqlite3 *db)
{
	int rc = sqlite3_create_function_v2(db, "iofence_doc_hash", 1,
					    SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, doc_hash_fn,
					    NULL, NULL, NULL);
	return sql_errno(db, rc);
}

static int apply_steps(sqlite3 *db, const char *path, int64_t from, char *err, size_t err_len)
{
	char msg[256], sql[96];
	int r;

	for (size_t i = 0; i < sizeof(migrations) / sizeof(migrations[0]); i++) {
		const struct migration *m = &migrations[i];

		if (m->version <= from)
			continue;
		r = sql_exec(db, m->sql, msg, sizeof(msg));
		if (r < 0) {
			snprintf(err, err_len, "%s: migration to schema version %d (%s): %s", path,
				 m->version, m->what, msg);
			return r;
		}
	}
	snprintf(sql, sizeof(sql), "PRAGMA application_id = %d; PRAGMA user_version = %d;",
		 STORE_APPLICATION_ID, STORE_SCHEMA_VERSION);
	r = sql_exec(db, sql, msg, sizeof(msg));
	if (r < 0)
		snprintf(err, err_len, "%s: setting schema version: %s", path, msg);
	return r;
}

int schema_migrate(sqlite3 *db, const char *path, char *err, size_t err_len)
{
	int64_t version = 0, app_id = 0;
	char msg[256];
	int r;

	r = sql_pragma_int(db, "user_version", &version);
	if (r == 0)
		r = sql_pragma_int(db, "application_id", &app_id);
	if (r < 0) {
		snprintf(err, err_len, "%s: reading schema version: %s", path, sqlite3_errmsg(db));
		return r;
	}
	if (version == STORE_SCHEMA_VERSION && app_id == STORE_APPLICATION_ID)
		return 0; /* nothing to write: an up-to-date file is opened without a transaction */

	r = sql_exec(db, "BEGIN IMMEDIATE", msg, sizeof(msg));
	if (r < 0) {
		snprintf(err, err_len, "%s: starting migration: %s", path, msg);
		return r;
	}
	/* Read again under the write lock: another agent may have migrated it meanwhile. */
	r = sql_pragma_int(db, "user_version", &version);
	if (r < 0) {
		snprintf(err, err_len, "%s: reading schema version: %s", path, sqlite3_errmsg(db));
		goto rollback;
	}
	if (version > STORE_SCHEMA_VERSION) {
		snprintf(err, err_len, "%s: schema version %lld is newer than this agent (%d)",
			 path, (long long)version, STORE_SCHEMA_VERSION);
		r = -EPROTO;
		goto rollback;
	}
	r = apply_steps(db, path, version, err, err_len);
	if (r < 0)
		goto rollback;
	r = sql_exec(db, "COMMIT", msg, sizeof(msg));
	if (r < 0) {
		snprintf(err, err_len, "%s: committing migration: %s", path, msg);
		goto rollback;
	}
	return 0;

rollback:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}
