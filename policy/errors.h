/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Validation errors: every problem of a document, each as `file:line: field: message`.
 * Collected, never stopped at the first one.
 */
#ifndef IOFENCE_POLICY_ERRORS_H
#define IOFENCE_POLICY_ERRORS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

struct policy_error {
	char *file;
	unsigned line; /* 1-based; 0 when unknown (documents received as messages) */
	char *field;   /* path to the value, e.g. securityGroups[0].rules[1].ports[1] */
	char *message;
};

struct policy_errors {
	struct policy_error *items;
	size_t n;
	size_t cap;
	size_t limit; /* stop recording past this many (0: 1000); n keeps counting */
	size_t dropped;
};

/* Records one error. Out of memory is recorded as a count only (dropped). */
void policy_errors_add(struct policy_errors *errs, const char *file, unsigned line,
		       const char *field, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* As policy_errors_add() with a va_list. */
void policy_errors_vadd(struct policy_errors *errs, const char *file, unsigned line,
			const char *field, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

/* Writes "file:line: field: message" into buf (truncated to len). */
void policy_error_format(const struct policy_error *err, char *buf, size_t len);

/* Prints every error, one per line, plus a count of dropped ones. */
void policy_errors_print(const struct policy_errors *errs, FILE *out);

/* Frees the items; the struct itself may be reused after this. */
void policy_errors_free(struct policy_errors *errs);

#endif /* IOFENCE_POLICY_ERRORS_H */
