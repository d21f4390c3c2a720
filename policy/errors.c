// SPDX-License-Identifier: Apache-2.0
/*
 * Error collection for the parser and the validator.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

#define DEFAULT_LIMIT 1000

void policy_errors_add(struct policy_errors *errs, const char *file, unsigned line,
		       const char *field, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	policy_errors_vadd(errs, file, line, field, fmt, ap);
	va_end(ap);
}

void policy_errors_vadd(struct policy_errors *errs, const char *file, unsigned line,
			const char *field, const char *fmt, va_list ap)
{
	size_t limit = errs->limit ? errs->limit : DEFAULT_LIMIT;
	struct policy_error *err;

	if (errs->n >= limit)
		goto drop;
	if (errs->n == errs->cap) {
		size_t cap = errs->cap ? errs->cap * 2 : 8;
		struct policy_error *items = realloc(errs->items, cap * sizeof(*items));

		if (!items)
			goto drop;
		errs->items = items;
		errs->cap = cap;
	}
	err = &errs->items[errs->n];
	err->file = strdup(file ? file : "<input>");
	err->field = strdup(field && *field ? field : "document");
	err->line = line;
	if (vasprintf(&err->message, fmt, ap) < 0)
		err->message = NULL;
	if (!err->file || !err->field || !err->message) {
		free(err->file);
		free(err->field);
		free(err->message);
		goto drop;
	}
	errs->n++;
	return;
drop:
	errs->dropped++;
}

void policy_error_format(const struct policy_error *err, char *buf, size_t len)
{
	snprintf(buf, len, "%s:%u: %s: %s", err->file, err->line, err->field, err->message);
}

void policy_errors_print(const struct policy_errors *errs, FILE *out)
{
	char buf[1024];

	for (size_t i = 0; i < errs->n; i++) {
		policy_error_format(&errs->items[i], buf, sizeof(buf));
		fprintf(out, "%s\n", buf);
	}
	if (errs->dropped)
		fprintf(out, "... and %zu more errors\n", errs->dropped);
}

void policy_errors_free(struct policy_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++) {
		free(errs->items[i].file);
		free(errs->items[i].field);
		free(errs->items[i].message);
	}
	free(errs->items);
	errs->items = NULL;
	errs->n = errs->cap = errs->dropped = 0;
}
