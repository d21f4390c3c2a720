/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's durable revision store: one sqlite file (WAL, synchronous=FULL) holding the last K
 * policy revisions as opaque documents. A revision is acknowledged only after store_commit()
 * returned 0, i.e. after its transaction committed to disk.
 */
#ifndef IOFENCE_STORE_STORE_H
#define IOFENCE_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* PRAGMA application_id of every iofence store: 'IOFC'. */
#define STORE_APPLICATION_ID 0x494f4643
/* PRAGMA user_version written by this agent; older files are migrated on open. */
#define STORE_SCHEMA_VERSION 4
/* Revisions kept after each commit unless store_set_keep() says otherwise. */
#define STORE_DEFAULT_KEEP 10

/* Opaque: one open store (one sqlite connection). Use from one thread at a time. */
struct store;

struct store_revision {
	uint64_t revision;
	uint64_t base; /* 0: doc is a whole document; else doc is a delta on top of revision base */
	void *doc; /* the document bytes as committed (malloc'ed, never NULL) */
	size_t doc_len;
	char *source_name;
	char *source; /* the text the document was read from (comments kept), or NULL */
	int64_t committed_unix; /* wall clock at commit, seconds since the epoch */
};

/**
 * store_open() - open the store at @path, creating it if it does not exist
 * @path: the database file; missing parent directories are created with mode 0700
 * @ret: the open store on success
 * @err: on failure, a message naming the path and the reason (may be NULL)
 * @err_len: size of @err
 *
 * An existing file is checked read-only before anything is written to it: a file that is not an
 * sqlite database, fails PRAGMA quick_check or holds a document whose checksum does not match is
 * refused with -EBADMSG; an sqlite database of another application with -EMEDIUMTYPE; a schema
 * newer than STORE_SCHEMA_VERSION with -EPROTO. A refused file is left exactly as it was. An
 * older schema is migrated in one transaction.
 *
 * Return: 0, or a negative errno (-EACCES, -EROFS, -ENOTDIR, -EISDIR... from the file system).
 */
int store_open(const char *path, struct store **ret, char *err, size_t err_len);

/* Closes the store; accepts NULL. */
void store_close(struct store *store);

/**
 * store_set_keep() - how many revisions to keep
 * @keep: at least 1; applies from the next store_commit(), which prunes older revisions
 *
 * Return: 0, or -EINVAL.
 */
int store_set_keep(struct store *store, unsigned keep);

/**
 * store_commit() - durably store one revision
 * @revision: must be greater than every stored revision; 1..INT64_MAX
 * @doc: the document bytes (NULL only when @doc_len is 0)
 * @source_name: who sent it (the controller's name); stored as text
 *
 * Inserts the revision and prunes to the last K in one BEGIN IMMEDIATE transaction, and returns
 * only after its COMMIT (synchronous=FULL: the WAL is on disk).
 *
 * Return: 0; -ESTALE if @revision is not newer than the latest (nothing written); -EINVAL;
 * -EBUSY if another process holds the write lock past the busy timeout; -EIO, -ENOSPC, -EROFS.
 */
int store_commit(struct store *store, uint64_t revision, const void *doc, size_t doc_len,
		 const char *source_name);

/**
 * store_commit_delta() - durably store one revision as a delta on top of the latest one
 * @revision: must be greater than every stored revision
 * @base: must be the latest stored revision (the delta's meaning depends on it)
 * @delta: the delta's bytes, opaque to the store (the caller knows how to apply them)
 *
 * Like store_commit(), in one transaction. Pruning keeps the newest K revisions and every
 * revision their deltas need: back to the newest whole document at or below the oldest kept
 * one. A writer bounds the length of its delta chains by committing a whole document now and
 * then (reading a revision reads its chain).
 *
 * Return: as store_commit(); -ESTALE also when @base is not the latest revision.
 */
int store_commit_delta(struct store *store, uint64_t revision, uint64_t base, const void *delta,
		       size_t delta_len, const char *source_name);

/*
 * store_commit_source() - store_commit() that also keeps @source, the text the document was
 * read from (NULL: none), so that GetPolicy returns what the user wrote after a restart too.
 */
int store_commit_source(struct store *store, uint64_t revision, const void *doc, size_t doc_len,
			const char *source_name, const char *source);

/**
 * store_rebase() - replace the latest revision's delta with its whole document
 * @revision: must be the latest stored revision (-ESTALE otherwise; nothing written)
 * @doc: the whole document the revision's chain of deltas makes
 *
 * Reads of the revision then no longer replay its chain, and pruning may drop the rows below
 * it. Same revision, source name and commit time. Return: as store_commit().
 */
int store_rebase(struct store *store, uint64_t revision, const void *doc, size_t doc_len);

/**
 * store_set_deferred_sync() - commits without waiting for the disk
 * @deferred: true: a commit returns once its WAL frames are written to the file (they survive
 *            a crash of the process, not of the machine) and store_sync() makes every commit
 *            so far durable; false (the default): each commit is durable when it returns
 *
 * For a caller that acknowledges less often than it commits, or that holds the truth
 * elsewhere. Return: 0 or -errno.
 */
int store_set_deferred_sync(struct store *store, bool deferred);

/* Makes every commit so far durable (fdatasync of the WAL). It does not use the connection:
 * safe from another thread than the one committing. 0 or -errno. */
int store_sync(struct store *store);

/*
 * The newest revision into @ret (free with store_revision_free()). -ENOENT if the store is empty,
 * -EBADMSG if the stored document no longer matches its checksum.
 */
int store_latest(struct store *store, struct store_revision *ret);

/* One kept revision into @ret; -ENOENT if it was never stored or has been pruned. */
int store_get(struct store *store, uint64_t revision, struct store_revision *ret);

/* The kept revision numbers, newest first, into a malloc'ed array (NULL when *n is 0). */
int store_list(struct store *store, uint64_t **revs, size_t *n);

/* Frees what a store_revision points to (not the struct itself); accepts NULL. */
void store_revision_free(struct store_revision *rev);

/* The sqlite message behind the last failure on @store, for the agent's log ("" if none). */
const char *store_last_error(const struct store *store);

#endif
