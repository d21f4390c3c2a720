// SPDX-License-Identifier: Apache-2.0
/*
 * Hostile documents: nesting past the limit in YAML and JSON (flow and block), many keys,
 * anchors and %TAG directives, and a deadline that has passed. Each is refused with the
 * `file:line: field: message` a user sees. How long they take is measured by
 * bench/hostile (a test asserts no wall-clock time).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "policy/parse.h"

/* prefix, then open repeated n times, then close repeated n times, then suffix. */
static char *nest(const char *prefix, const char *open, const char *close, size_t n,
		  const char *suffix)
{
	size_t len = strlen(prefix) + n * (strlen(open) + strlen(close)) + strlen(suffix) + 1;
	char *s = malloc(len), *p = s;

	assert_non_null(s);
	p = stpcpy(p, prefix);
	for (size_t i = 0; i < n; i++)
		p = stpcpy(p, open);
	for (size_t i = 0; i < n; i++)
		p = stpcpy(p, close);
	stpcpy(p, suffix);
	return s;
}

static void expect_errors(char *text, const char *expected)
{
	assert_parse_errors(text, expected);
	free(text);
}

#define TOO_DEEP(line) "t.yaml:" #line ": document: lists and mappings nested deeper than 64 levels"

static void test_yaml_flow_nesting_past_the_limit_is_refused(void **state)
{
	expect_errors(nest("securityGroups: ", "[", "]", 100000, "\n"), TOO_DEEP(1));
	expect_errors(nest("securityGroups:\n  - ", "{a: ", "}", 100000, "\n"), TOO_DEEP(2));
	/* unclosed: refused for its depth before the syntax error at the end */
	expect_errors(nest("x: ", "[{a: ", "", 50000, ""), TOO_DEEP(1));
}

static void test_json_nesting_past_the_limit_is_refused(void **state)
{
	expect_errors(nest("{\"securityGroups\": ", "{\"a\":", "}", 100000, "}"), TOO_DEEP(1));
	expect_errors(nest("", "[", "]", 100000, ""), TOO_DEEP(1));
	/* one bracket a line: the line named is the first one too deep */
	expect_errors(nest("{\"securityGroups\":\n", "[\n", "]\n", 1000, "}"), TOO_DEEP(65));
}

static void test_block_nesting_past_the_limit_is_refused(void **state)
{
	expect_errors(nest("securityGroups:\n", "- ", "", 100000, "x\n"), TOO_DEEP(2));
}

static void test_nesting_at_the_limit_is_read(void **state)
{
	/* the root mapping and 63 lists: only the schema's complaint */
	expect_errors(nest("securityGroups: ", "[", "]", 63, "\n"),
		      "t.yaml:1: securityGroups[0]: expected a mapping, got a list\n"
		      "t.yaml:1: securityGroups[0]: name is required");
	expect_errors(nest("securityGroups: ", "[", "]", 64, "\n"), TOO_DEEP(1));
}

static void test_many_unknown_and_repeated_keys(void **state)
{
	size_t n = 20000, len = 0, cap = 100 + n * 32;
	char *s = malloc(cap);
	struct policy_errors errs = {0};
	struct policy_document *doc = NULL;

	assert_non_null(s);
	len += (size_t)snprintf(s, cap, "securityGroups:\n  - name: g\n    rules:\n"
					 "      - {direction: ingress");
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, ", k%zu: 1, priority: 1", i);
	snprintf(s + len, cap - len, "}\n");
	assert_int_equal(policy_parse_buffer(s, strlen(s), "t.yaml", &doc, &errs), -EINVAL);
	assert_null(doc);
	assert_int_equal(errs.n + errs.dropped, 2 * n - 1);
	assert_string_equal(errs.items[0].message, "unknown key \"k0\"");
	assert_string_equal(errs.items[1].field, "securityGroups[0].rules[0].k1");
	assert_string_equal(errs.items[2].message, "duplicate key");
	policy_errors_free(&errs);
	free(s);
}

static void test_many_anchors_and_a_duplicate(void **state)
{
	size_t n = 20000, len = 0, cap = 100 + n * 24;
	char *s = malloc(cap);

	assert_non_null(s);
	len += (size_t)snprintf(s, cap, "x: [");
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "&a%zu 1, ", i);
	snprintf(s + len, cap - len, "&a%zu 2]\n", n / 2);
	assert_parse_errors(s, "t.yaml:1: document: syntax error at column 208895: second "
			       "occurrence found duplicate anchor; first occurrence");
	free(s);
}

static void test_many_tag_directives(void **state)
{
	char s[4096] = "";

	for (int i = 0; i < 17; i++)
		snprintf(s + strlen(s), sizeof(s) - strlen(s), "%%TAG !t%d! tag:x,2000:\n", i);
	strcat(s, "---\nsecurityGroups: []\n");
	assert_parse_errors(s, "t.yaml:17: document: more than 16 %TAG directives");
}

static void test_a_passed_deadline_stops_the_parse(void **state)
{
	size_t n = 200000;
	char *s = nest("securityGroups:\n  - name: g\n    rules: [", "", "", 0, "");
	struct policy_errors errs = {0};
	struct policy_document *doc = NULL;
	size_t len = strlen(s);

	s = realloc(s, len + n * 16 + 8);
	assert_non_null(s);
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(s + len, "%s{direction: x}", i ? ", " : "");
	strcpy(s + len, "]\n");
	assert_int_equal(policy_parse_buffer_until(s, strlen(s), "t.yaml", 1, &doc, &errs),
			 -ETIME);
	assert_null(doc);
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.items[0].field, "document");
	assert_string_equal(errs.items[0].message,
			    "not read within the time allowed (stopped at this line)");
	policy_errors_free(&errs);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_yaml_flow_nesting_past_the_limit_is_refused),
	    cmocka_unit_test(test_json_nesting_past_the_limit_is_refused),
	    cmocka_unit_test(test_block_nesting_past_the_limit_is_refused),
	    cmocka_unit_test(test_nesting_at_the_limit_is_read),
	    cmocka_unit_test(test_many_unknown_and_repeated_keys),
	    cmocka_unit_test(test_many_anchors_and_a_duplicate),
	    cmocka_unit_test(test_many_tag_directives),
	    cmocka_unit_test(test_a_passed_deadline_stops_the_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
