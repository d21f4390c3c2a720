// SPDX-License-Identifier: Apache-2.0
/*
 * Hostile documents: nesting past the limit in YAML and JSON (flow and block), many keys,
 * anchors, aliases, errors and %TAG directives, and a deadline that has passed. Each is refused
 * with the `file:line: field: message` a user sees. How long they take is measured by bench/hostile
 * (a test asserts no wall-clock time).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
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

/* A growing text: appends with printf formats, failing the test on ENOMEM. */
struct text {
	char *s;
	size_t len, cap;
};

static void add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
		va_end(ap);
		assert_true(n >= 0);
		if (t->s && (size_t)n < t->cap - t->len)
			break;
		t->cap = (t->cap + (size_t)n + 1) * 2;
		t->s = realloc(t->s, t->cap);
		assert_non_null(t->s);
	}
	t->len += (size_t)n;
}

#define RULE_OPEN "securityGroups:\n  - name: g\n    rules:\n      - {direction: ingress"

static void test_a_mapping_past_64_keys_is_refused(void **state)
{
	struct text t = {0};

	/* the 65th key stops the load: none of 20,000 keys is reported one by one */
	add(&t, RULE_OPEN);
	for (size_t i = 0; i < 20000; i++)
		add(&t, ",\n        k%zu: 1", i);
	add(&t, "}\n");
	expect_errors(t.s, "t.yaml:68: document: a mapping with more than 64 keys");
}

static void test_unknown_and_repeated_keys_below_the_limit_are_each_reported(void **state)
{
	struct text t = {0};
	struct policy_errors errs = {0};
	struct policy_document *doc = NULL;

	add(&t, RULE_OPEN);
	for (size_t i = 0; i < 31; i++) /* 1 + 62 keys */
		add(&t, ", k%zu: 1, priority: 1", i);
	add(&t, "}\n");
	assert_int_equal(policy_parse_buffer(t.s, t.len, "t.yaml", &doc, &errs), -EINVAL);
	assert_null(doc);
	assert_int_equal(errs.n, 2 * 31 - 1);
	assert_string_equal(errs.items[0].message, "unknown key \"k0\"");
	assert_string_equal(errs.items[1].field, "securityGroups[0].rules[0].k1");
	assert_string_equal(errs.items[2].message, "duplicate key");
	policy_errors_free(&errs);
	free(t.s);
}

static void test_anchors_past_64_are_refused(void **state)
{
	struct text t = {0};

	add(&t, "x: [");
	for (size_t i = 0; i < 20000; i++)
		add(&t, "&a%zu 1,\n", i);
	add(&t, "1]\n");
	expect_errors(t.s, "t.yaml:65: document: more than 64 anchors (&name)");
}

static void test_a_repeated_anchor_is_refused(void **state)
{
	struct text t = {0};

	add(&t, "x: [");
	for (size_t i = 0; i < 10; i++)
		add(&t, "&a%zu 1, ", i);
	add(&t, "&a5 2]\n");
	expect_errors(t.s, "t.yaml:1: document: syntax error at column 75: second occurrence "
			   "found duplicate anchor; first occurrence");
}

static void test_the_first_alias_stops_the_load(void **state)
{
	struct text t = {0};

	/* a million aliases of one anchor: refused at the first, on its line */
	add(&t, "securityGroups:\n  - &a 1\n");
	for (size_t i = 0; i < 1000000; i++)
		add(&t, "  - *a\n");
	expect_errors(t.s, "t.yaml:3: document: YAML aliases (*name) are not supported");
}

static void test_errors_stop_at_the_limit(void **state)
{
	struct text t = {0};
	struct policy_errors errs = {0};
	struct policy_document *doc = NULL;

	add(&t, "securityGroups:\n  - name: g\n    rules:\n      - direction: ingress\n"
		"        protocol: tcp\n        ports:\n");
	for (size_t i = 0; i < 200000; i++) /* line 7 + i */
		add(&t, "          - 0\n");
	assert_int_equal(policy_parse_buffer(t.s, t.len, "t.yaml", &doc, &errs), -EINVAL);
	assert_null(doc);
	/* the first 100 with their lines, then one that says the rest was not read */
	assert_int_equal(errs.n, 101);
	assert_int_equal(errs.dropped, 0);
	assert_int_equal(errs.items[0].line, 7);
	assert_string_equal(errs.items[99].field, "securityGroups[0].rules[0].ports[99]");
	assert_int_equal(errs.items[100].line, 106);
	assert_string_equal(errs.items[100].field, "document");
	assert_string_equal(errs.items[100].message,
			    "too many errors (100): the rest of the document was not read");
	policy_errors_free(&errs);
	free(t.s);
}

static void test_many_tag_directives(void **state)
{
	char s[4096] = "";

	for (int i = 0; i < 17; i++)
		snprintf(s + strlen(s), sizeof(s) - strlen(s), "%%TAG !t%d! tag:x,2000:\n", i);
	strcat(s, "---\nsecurityGroups: []\n");
	assert_parse_errors(s, "t.yaml:17: document: more than 16 %TAG directives");
}

/* A text of n rules (valid but for their direction), about 16 bytes each. */
static char *many_rules(size_t n)
{
	struct text t = {0};

	add(&t, "securityGroups:\n  - name: g\n    rules: [");
	for (size_t i = 0; i < n; i++)
		add(&t, "%s{direction: x}", i ? ", " : "");
	add(&t, "]\n");
	return t.s;
}

static void expect_stopped(const struct policy_parse_stop *stop)
{
	char *s = many_rules(200000);
	struct policy_errors errs = {0};
	struct policy_document *doc = NULL;
	char end[64];
	size_t at = SIZE_MAX;

	assert_int_equal(policy_parse_buffer_until(s, strlen(s), "t.yaml", stop, &doc, &errs),
			 -ETIME);
	assert_null(doc);
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.items[0].field, "document");
	/* how far it got: the character the parser had reached, of the text's size */
	snprintf(end, sizeof(end), " of a %zu-byte text", strlen(s));
	assert_int_equal(sscanf(errs.items[0].message,
				"not read within the time allowed: stopped at this line, "
				"character %zu",
				&at),
			 1);
	assert_true(at < strlen(s));
	assert_non_null(strstr(errs.items[0].message, end));
	policy_errors_free(&errs);
	free(s);
}

static void test_a_passed_deadline_stops_the_parse(void **state)
{
	expect_stopped(&(struct policy_parse_stop){.deadline_usec = 1});
}

static void test_a_spent_cpu_budget_stops_the_parse(void **state)
{
	expect_stopped(&(struct policy_parse_stop){.cpu_usec = 1});
}

static void test_a_passed_wall_budget_stops_the_parse(void **state)
{
	expect_stopped(&(struct policy_parse_stop){.wall_by_usec = 1});
}

/* The wall-clock budget stops only a read that has had its CPU minimum: a cheap one is read. */
static void test_a_passed_wall_budget_waits_for_its_cpu_minimum(void **state)
{
	char *s = many_rules(20000);
	struct policy_errors errs = {0};
	struct policy_document *doc = NULL;

	assert_int_equal(policy_parse_buffer_until(s, strlen(s), "t.yaml",
						   &(struct policy_parse_stop){
						       .wall_by_usec = 1,
						       .wall_min_cpu_usec = 60000000},
						   &doc, &errs),
			 -EINVAL); /* read whole: every rule's direction refused */
	assert_true(errs.n > 1);
	assert_null(strstr(errs.items[0].message, "not read within the time allowed"));
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
	    cmocka_unit_test(test_a_mapping_past_64_keys_is_refused),
	    cmocka_unit_test(test_unknown_and_repeated_keys_below_the_limit_are_each_reported),
	    cmocka_unit_test(test_anchors_past_64_are_refused),
	    cmocka_unit_test(test_a_repeated_anchor_is_refused),
	    cmocka_unit_test(test_the_first_alias_stops_the_load),
	    cmocka_unit_test(test_errors_stop_at_the_limit),
	    cmocka_unit_test(test_many_tag_directives),
	    cmocka_unit_test(test_a_passed_deadline_stops_the_parse),
	    cmocka_unit_test(test_a_spent_cpu_budget_stops_the_parse),
	    cmocka_unit_test(test_a_passed_wall_budget_stops_the_parse),
	    cmocka_unit_test(test_a_passed_wall_budget_waits_for_its_cpu_minimum),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
