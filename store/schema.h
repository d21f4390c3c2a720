/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store's schema: its tables and the ordered migrations from any older user_version.
 */
#ifndef IOFENCE_STORE_SCHEMA_H
#define IOFENCE_STORE_SCHEMA_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

/* True for the name of a table some schema version of the store creates. */
bool schema_is_own_table(const char *name);

/* Registers the SQL functions migrations use (iofence_doc_hash) on a read-write connection. */
int schema_register_functions(sqlite3 *db);

/*
 * Brings the database to STORE_SCHEMA_VERSION in one BEGIN IMMEDIATE transaction, or does
 * nothing if it is there already. -EPROTO if it is newer than this agent.
 */
int schema_migrate(sqlite3 *db, const char *path, char *err, size_t err_len);

#endif
