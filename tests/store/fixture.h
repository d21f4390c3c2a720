/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers for the store tests: a temporary directory per test, whole-file reads and writes, and
 * raw sqlite access to craft files the store did not write (old schemas, foreign databases).
 */
#ifndef IOFENCE_TESTS_STORE_FIXTURE_H
#define IOFENCE_TESTS_STORE_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

/* mkdtemp under $TMPDIR (or /tmp); NULL on failure. */
char *fixture_tmpdir(void);
/* Removes dir and everything below it; accepts NULL. */
void fixture_rmtree(char *dir);
/* dir/name, malloc'ed. */
char *fixture_path(const char *dir, const char *name);

int fixture_read(const char *path, unsigned char **ret, size_t *ret_len);
int fixture_write(const char *path, const void *buf, size_t len);
/* True if path holds exactly buf (a refused file must stay as it was). */
int fixture_same(const char *path, const unsigned char *buf, size_t len);

/* Runs SQL on path with a plain sqlite connection; returns the sqlite result code. */
int fixture_sql(const char *path, const char *sql);
/* The first column of the first row of a query, as an integer. */
int fixture_sql_int(const char *path, const char *sql, int64_t *ret);

#endif
