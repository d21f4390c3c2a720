// SPDX-License-Identifier: Apache-2.0
/*
 * Opening the store: create it, or check an existing file read-only (sqlite header, quick_check,
 * owner, schema version, document checksums) before a read-write connection touches it, then
 * set the pragmas and migrate. A file that fails a check is refused and left as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/internal.h"
#include "store/schema.h"

#define SQLITE_MAGIC "SQLite format 3"

/*
 * sqlite fsyncs its journal and WAL directory entries but not the database file's own: make a
 * new file's (or directory's) name as durable as the first revision committed into it.
 */
static int sync_parent(const char *path)
{
	char *dir = strdup(path);
	char *slash;
	int fd, r = 0;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (!slash)
		strcpy(dir, ".");
	else if (slash == dir)
		slash[1] = '\0'; /* the root */
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		r = -errno;
	if (fd >= 0)
		close(fd);
	free(dir);
	return r;
}

/* mkdir -p of the directory part of path, new directories 0700. */
static int make_parent_dirs(const char *path, char *err, size_t err_len)
{
	char *dir = strdup(path);
	char *slash;
	int r = 0;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (!slash) {
		strcpy(dir, ".");
		goto check;
	}
	if (slash == dir) {
		slash[1] = '\0';
		goto check;
	}
	*slash = '\0';
	for (char *p = dir + 1;; p++) {
		bool last = *p == '\0';

		if (*p != '/' && !last)
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) == 0)
			r = sync_parent(dir);
		else if (errno != EEXIST)
			r = -errno;
		if (r < 0) {
			snprintf(err, err_len, "%s: cannot create directory %s: %s", path, dir,
				 strerror(-r));
			goto out;
		}
		if (last)
			break;
		*p = '/';
	}
check:
	/* sqlite would only say "unable to open database file", with a misleading errno. */
	if (eaccess(dir, W_OK | X_OK) < 0) {
		r = -errno;
		snprintf(err, err_len, "%s: cannot create the database in %s: %s", path, dir,
			 strerror(errno));
	}
out:
	free(dir);
	return r;
}

/* The first 16 bytes of an sqlite file are fixed; sqlite itself takes a short file as empty. */
static int check_header(const char *path, char *err, size_t err_len)
{
	char magic[sizeof(SQLITE_MAGIC)] = {0};
	ssize_t n;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(err, err_len, "%s: cannot read: %s", path, strerror(errno));
		return r;
	}
	n = pread(fd, magic, sizeof(magic), 0);
	if (n < 0) {
		r = -errno;
		snprintf(err, err_len, "%s: cannot read: %s", path, strerror(errno));
	} else if (n > 0 && (n < (ssize_t)sizeof(magic) || memcmp(magic, SQLITE_MAGIC, n) != 0)) {
		r = -EBADMSG;
		snprintf(err, err_len,
			 "%s: corrupt or not a database (no sqlite header); refusing to use it, "
			 "file left untouched",
			 path);
	}
	close(fd);
	return r;
}

static int quick_check(sqlite3 *db, const char *path, char *err, size_t err_len)
{
	sqlite3_stmt *stmt = NULL;
	int rc, r = 0;

	rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &stmt, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		const char *res = (const char *)sqlite3_column_text(stmt, 0);

		if (!res || strcmp(res, "ok") != 0) {
			r = -EBADMSG;
			snprintf(err, err_len,
				 "%s: corrupt database (quick_check: %s); refusing to use it, "
				 "file left untouched",
				 path, res ? res : "no result");
		}
	} else {
		r = sql_errno(db, rc);
		r = r ? r : -EIO;
		snprintf(err, err_len,
			 "%s: %s database (%s); refusing to use it, file left untouched", path,
			 r == -EBADMSG ? "corrupt or not a" : "cannot check", sqlite3_errmsg(db));
	}
	sqlite3_finalize(stmt);
	return r;
}

/* Ours if application_id says so; a pre-application_id file if it only holds our tables. */
static int check_owner(sqlite3 *db, const char *path, int64_t app_id, int64_t version, char *err,
		       size_t err_len)
{
	sqlite3_stmt *stmt = NULL;
	int own = 0, other = 0, rc;

	if (app_id == STORE_APPLICATION_ID)
		return 0;
	if (app_id != 0) {
		snprintf(err, err_len,
			 "%s: not an iofence store (sqlite application_id 0x%08llx, expected "
			 "0x%08x); refusing to use it",
			 path, (unsigned long long)(uint32_t)app_id, STORE_APPLICATION_ID);
		return -EMEDIUMTYPE;
	}
	rc = sqlite3_prepare_v2(db, "SELECT name FROM sqlite_schema WHERE type = 'table'", -1,
				&stmt, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(stmt, 0);

		if (name && schema_is_own_table(name))
			own++;
		else
			other++;
		rc = SQLITE_OK;
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE) {
		snprintf(err, err_len, "%s: reading the schema: %s", path, sqlite3_errmsg(db));
		return sql_errno(db, rc) ?: -EIO;
	}
	/* Empty (a new file), or our tables stamped with a version we wrote: anything else is not.
	 */
	if (other || (own ? version == 0 : version != 0)) {
		snprintf(err, err_len,
			 "%s: not an iofence store (sqlite application_id 0, tables of another "
			 "schema); refusing to use it",
			 path);
		return -EMEDIUMTYPE;
	}
	return 0;
}

/* Every kept document still matches the checksum written with it (schema 2 on). */
static int check_documents(sqlite3 *db, const char *path, char *err, size_t err_len)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db, "SELECT revision, doc, doc_hash FROM revisions", -1, &stmt,
				NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const void *doc = sqlite3_column_blob(stmt, 1);
		size_t len = (size_t)sqlite3_column_bytes(stmt, 1);

		if ((uint64_t)sqlite3_column_int64(stmt, 2) != store_doc_hash(doc, len)) {
			snprintf(
			    err, err_len,
			    "%s: corrupt database (revision %lld: document checksum mismatch); "
			    "refusing to use it, file left untouched",
			    path, (long long)sqlite3_column_int64(stmt, 0));
			sqlite3_finalize(stmt);
			return -EBADMSG;
		}
		rc = SQLITE_OK;
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE) {
		snprintf(err, err_len, "%s: reading documents: %s", path, sqlite3_errmsg(db));
		return sql_errno(db, rc) ?: -EIO;
	}
	return 0;
}

/* All checks of an existing file, on a read-only connection that cannot change it. */
static int probe_existing(const char *path, char *err, size_t err_len)
{
	int64_t app_id = 0, version = 0;
	sqlite3 *db = NULL;
	int rc, r;

	r = check_header(path, err, err_len);
	if (r < 0)
		return r;
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
	if (rc != SQLITE_OK) {
		r = sql_errno(db, rc) ?: -EIO;
		snprintf(err, err_len, "%s: cannot open: %s", path,
			 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		goto out;
	}
	sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MS);
	r = quick_check(db, path, err, err_len);
	if (r < 0)
		goto out;
	r = sql_pragma_int(db, "application_id", &app_id);
	if (r == 0)
		r = sql_pragma_int(db, "user_version", &version);
	if (r < 0) {
		snprintf(err, err_len, "%s: reading the header: %s", path, sqlite3_errmsg(db));
		goto out;
	}
	r = check_owner(db, path, app_id, version, err, err_len);
	if (r < 0)
		goto out;
	if (version > STORE_SCHEMA_VERSION) {
		snprintf(err, err_len, "%s: schema version %lld is newer than this agent (%d)",
			 path, (long long)version, STORE_SCHEMA_VERSION);
		r = -EPROTO;
		goto out;
	}
	if (version >= 2)
		r = check_documents(db, path, err, err_len);
out:
	sqlite3_close(db);
	return r;
}

static int configure(struct store *store, char *err, size_t err_len)
{
	sqlite3_stmt *stmt = NULL;
	const char *mode;
	char msg[256];
	int rc, r;

	if (sqlite3_db_readonly(store->db, "main") == 1) {
		snprintf(err, err_len,
			 "%s: cannot open for writing (read-only file or file system)",
			 store->path);
		return -EROFS;
	}
	sqlite3_busy_timeout(store->db, STORE_BUSY_TIMEOUT_MS);
	rc = sqlite3_prepare_v2(store->db, "PRAGMA journal_mode = WAL", -1, &stmt, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(stmt);
	mode = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(stmt, 0) : NULL;
	if (!mode || strcmp(mode, "wal") != 0) {
		r = rc == SQLITE_ROW ? -EIO : (sql_errno(store->db, rc) ?: -EIO);
		snprintf(err, err_len, "%s: cannot switch to WAL mode: %s", store->path,
			 mode ? mode : sqlite3_errmsg(store->db));
		sqlite3_finalize(stmt);
		return r;
	}
	sqlite3_finalize(stmt);
	r = sql_exec(store->db, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;", msg,
		     sizeof(msg));
	if (r == 0)
		r = schema_register_functions(store->db);
	if (r < 0) {
		snprintf(err, err_len, "%s: configuring the connection: %s", store->path,
			 sqlite3_errmsg(store->db));
		return r;
	}
	return schema_migrate(store->db, store->path, err, err_len);
}

int store_open(const char *path, struct store **ret, char *err, size_t err_len)
{
	char msg[512] = "";
	struct store *store = NULL;
	bool created = false;
	struct stat st;
	int rc, r;

	if (ret)
		*ret = NULL;
	if (!path || !*path || !ret) {
		snprintf(msg, sizeof(msg), "store path is empty");
		r = -EINVAL;
		goto err;
	}
	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			snprintf(msg, sizeof(msg), "%s: is a directory, expected a database file",
				 path);
			r = -EISDIR;
			goto err;
		}
		r = probe_existing(path, msg, sizeof(msg));
	} else if (errno == ENOENT) {
		created = true;
		r = make_parent_dirs(path, msg, sizeof(msg));
	} else {
		r = -errno;
		snprintf(msg, sizeof(msg), "%s: cannot use this path: %s", path, strerror(errno));
	}
	if (r < 0)
		goto err;

	store = calloc(1, sizeof(*store));
	if (!store || !(store->path = strdup(path))) {
		r = -ENOMEM;
		goto err;
	}
	store->keep = STORE_DEFAULT_KEEP;
	store->prune_due = STORE_DEFAULT_KEEP + 1;
	rc = sqlite3_open_v2(path, &store->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		r = sql_errno(store->db, rc) ?: -EIO;
		snprintf(msg, sizeof(msg), "%s: cannot open for writing: %s", path,
			 store->db ? sqlite3_errmsg(store->db) : sqlite3_errstr(rc));
		goto err;
	}
	r = configure(store, msg, sizeof(msg));
	if (r < 0)
		goto err;
	if (created) {
		r = sync_parent(path);
		if (r < 0) {
			snprintf(msg, sizeof(msg), "%s: syncing its directory: %s", path,
				 strerror(-r));
			goto err;
		}
	}
	*ret = store;
	return 0;

err:
	if (!msg[0])
		snprintf(msg, sizeof(msg), "%s: %s", path ? path : "store", strerror(-r));
	if (err && err_len)
		snprintf(err, err_len, "%s", msg);
	store_close(store);
	return r;
}

void store_close(struct store *store)
{
	if (!store)
		return;
	store_stmts_free(store);
	sqlite3_close(store->db);
	free(store->path);
	free(store);
}

int store_set_keep(struct store *store, unsigned keep)
{
	if (!store || keep == 0)
		return -EINVAL;
	store->keep = keep;
	store->prune_due = keep + 1;
	return 0;
}

const char *store_last_error(const struct store *store)
{
	return store ? store->error : "";
}
