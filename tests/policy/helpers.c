// SPDX-License-Identifier: Apache-2.0
/*
 * Shared helpers of the policy unit tests (helpers.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "policy/parse.h"
#include "policy/prefix.h"

char *errors_text(const struct policy_errors *errs)
{
	char *text = NULL, line[1024];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	for (size_t i = 0; i < errs->n; i++) {
		policy_error_format(&errs->items[i], line, sizeof(line));
		fprintf(f, "%s%s", i ? "\n" : "", line);
	}
	fclose(f);
	return text;
}

static struct policy_document *expect_valid(int r, struct policy_document *doc,
					    struct policy_errors *errs)
{
	if (r != 0) {
		char *text = errors_text(errs);

		print_error("unexpected errors (%d):\n%s\n", r, text);
		free(text);
	}
	assert_int_equal(r, 0);
	assert_non_null(doc);
	assert_int_equal(errs->n, 0);
	policy_errors_free(errs);
	return doc;
}

struct policy_document *parse_ok(const char *text)
{
	struct policy_errors errs = {0};
	struct policy_document *doc = NULL;
	int r = policy_parse_buffer(text, strlen(text), "t.yaml", &doc, &errs);

	return expect_valid(r, doc, &errs);
}

struct policy_document *parse_data_file(const char *name)
{
	struct policy_errors errs = {0};
	struct policy_document *doc = NULL;
	char path[512];
	int r;

	snprintf(path, sizeof(path), "%s/%s", POLICY_TEST_DATA, name);
	r = policy_parse_file(path, &doc, &errs);
	return expect_valid(r, doc, &errs);
}

void assert_parse_errors(const char *text, const char *expected)
{
	struct policy_errors errs = {0};
	struct policy_document *doc = (void *)1;
	int r = policy_parse_buffer(text, strlen(text), "t.yaml", &doc, &errs);
	char *got = errors_text(&errs);

	assert_int_equal(r, -EINVAL);
	assert_null(doc);
	assert_string_equal(got, expected);
	free(got);
	policy_errors_free(&errs);
}

struct policy_prefix addr(const char *text)
{
	struct policy_prefix p;

	assert_int_equal(prefix_parse(text, &p), 0);
	return p;
}
