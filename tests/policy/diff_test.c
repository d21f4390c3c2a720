// SPDX-License-Identifier: Apache-2.0
/*
 * The object-level document diff: each test an old and a new document and the exact table
 * `iofencectl diff` prints for them (policy_diff_write, YAML form), plus the JSON form once.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "policy/diff.h"

static const char base[] = "revision: 3\n"
			   "defaults: {ingress: deny, egress: allow}\n"
			   "securityGroups:\n"
			   "  - name: web\n"
			   "    rules:\n"
			   "      - {direction: ingress, protocol: tcp, ports: [80], cidr: 10.0.0.0/8}\n"
			   "      - {direction: ingress, protocol: tcp, ports: [443], group: lb}\n"
			   "  - name: lb\n"
			   "    rules: []\n"
			   "endpoints:\n"
			   "  - {name: web-1, node: a, interface: v1, addresses: [10.1.0.1],"
			   " groups: [web]}\n"
			   "  - {name: lb-1, node: b, interface: v2, addresses: [10.1.0.2],"
			   " groups: [lb]}\n"
			   "prefilter:\n"
			   "  - {node: a, interfaces: [eth0], deny: [192.0.2.0/24]}\n";

static char *diff_text(const struct policy_document *a, const struct policy_document *b,
		       enum policy_format fmt)
{
	struct policy_diff d;
	char *text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(policy_diff(a, b, &d), 0);
	assert_int_equal(policy_diff_write(&d, fmt, f), 0);
	policy_diff_free(&d);
	fclose(f);
	return text;
}

/* Parses both texts and compares the printed diff with expected. */
static void assert_diff(const char *old_text, const char *new_text, const char *expected)
{
	struct policy_document *a = parse_ok(old_text), *b = parse_ok(new_text);
	char *text = diff_text(a, b, POLICY_FORMAT_YAML);

	assert_string_equal(text, expected);
	free(text);
	policy_document_free(a);
	policy_document_free(b);
}

/* base with one substring replaced. */
static char *edit(const char *from, const char *to)
{
	const char *at = strstr(base, from);
	char *s;

	assert_non_null(at);
	assert_true(asprintf(&s, "%.*s%s%s", (int)(at - base), base, to, at + strlen(from)) > 0);
	return s;
}

static void check_edit(const char *from, const char *to, const char *expected)
{
	char *changed = edit(from, to);

	assert_diff(base, changed, expected);
	free(changed);
}

static void test_same_document_with_another_revision_and_layout_has_no_changes(void **state)
{
	const char other[] =
		"# the same policy, written otherwise\n"
		"revision: 9\n"
		"securityGroups:\n"
		"  - name: web\n"
		"    rules:\n"
		"      - direction: ingress\n"
		"        action: allow\n"
		"        priority: 1000\n"
		"        protocol: tcp\n"
		"        ports: [80]\n"
		"        cidr: 10.0.0.0/8\n"
		"      - {direction: ingress, protocol: 6, ports: [\"443\"], group: lb}\n"
		"  - {name: lb, rules: []}\n"
		"endpoints:\n"
		"  - {name: web-1, node: a, interface: v1, addresses: [10.1.0.1], groups: [web]}\n"
		"  - {name: lb-1, node: b, interface: v2, addresses: [10.1.0.2], groups: [lb]}\n"
		"prefilter:\n"
		"  - {node: a, interfaces: [eth0], deny: [192.0.2.0/24]}\n";

	assert_diff(base, other, "no changes\n");
}

static void test_changed_defaults_are_one_change(void **state)
{
	check_edit("ingress: deny, egress: allow", "ingress: allow, egress: allow, mode: audit",
		   "~ defaults  defaults                 ingress: deny -> allow; mode: enforce -> "
		   "audit\n");
}

static void test_a_rule_whose_port_changed_is_changed_not_added_and_removed(void **state)
{
	check_edit("ports: [80]", "ports: [8080]",
		   "~ rule      web[0]                   allow ingress tcp/80 from 10.0.0.0/8 "
		   "priority 1000 -> allow ingress tcp/8080 from 10.0.0.0/8 priority 1000\n");
}

static void test_an_added_rule_keeps_the_others_unchanged(void **state)
{
	check_edit("      - {direction: ingress, protocol: tcp, ports: [443], group: lb}\n",
		   "      - {direction: egress, action: deny, priority: 5, protocol: udp, ports: "
		   "[53]}\n"
		   "      - {direction: ingress, protocol: tcp, ports: [443], group: lb}\n",
		   "+ rule      web[1]                   deny egress udp/53 to any priority 5\n");
}

static void test_a_removed_rule_is_named_by_its_old_index(void **state)
{
	check_edit("      - {direction: ingress, protocol: tcp, ports: [80], cidr: 10.0.0.0/8}\n",
		   "",
		   "- rule      web[0]                   allow ingress tcp/80 from 10.0.0.0/8 "
		   "priority 1000\n");
}

static void test_reordered_rules_change_the_group_only(void **state)
{
	check_edit("      - {direction: ingress, protocol: tcp, ports: [80], cidr: 10.0.0.0/8}\n"
		   "      - {direction: ingress, protocol: tcp, ports: [443], group: lb}\n",
		   "      - {direction: ingress, protocol: tcp, ports: [443], group: lb}\n"
		   "      - {direction: ingress, protocol: tcp, ports: [80], cidr: 10.0.0.0/8}\n",
		   "~ group     web                      rule order\n");
}

static void test_added_and_removed_groups(void **state)
{
	check_edit("  - name: lb\n    rules: []\n",
		   "  - name: lb\n    rules: []\n  - name: db\n    rules:\n"
		   "      - {direction: ingress, protocol: tcp, ports: [5432], group: web}\n",
		   "+ group     db                       1 rule\n");
	assert_diff(
		"securityGroups: [{name: a, rules: []}, {name: b, rules: []}]\n"
		"endpoints: [{name: e, node: n, interface: v, addresses: [10.0.0.1], groups: [a]}]\n",
		"securityGroups: [{name: a, rules: []}]\n"
		"endpoints: [{name: e, node: n, interface: v, addresses: [10.0.0.1], groups: [a]}]\n",
		"- group     b                        0 rules\n");
}

static void test_endpoint_changes_list_each_field(void **state)
{
	check_edit("addresses: [10.1.0.1],", "addresses: [10.1.0.3, \"fd00::3\"], ingress: allow,",
		   "~ endpoint  web-1                    addresses: +10.1.0.3 +fd00::3 -10.1.0.1; "
		   "ingress: inherit -> allow\n");
	check_edit("node: b, interface: v2", "node: c, interface: v2",
		   "~ endpoint  lb-1                     node: b -> c\n");
}

static void test_added_and_removed_endpoints(void **state)
{
	check_edit("  - {name: lb-1, node: b, interface: v2, addresses: [10.1.0.2], groups: [lb]}\n",
		   "  - {name: lb-2, node: b, cgroup: /x, addresses: [10.1.0.2], groups: [lb]}\n",
		   "+ endpoint  lb-2                     node b, 1 address, 1 group\n"
		   "- endpoint  lb-1                     node b, 1 address, 1 group\n");
}

static void test_prefilter_changes(void **state)
{
	check_edit("deny: [192.0.2.0/24]", "deny: [192.0.2.0/24, \"2001:db8::/32\"]",
		   "~ prefilter a                        deny: +2001:db8::/32\n");
	check_edit("  - {node: a, interfaces: [eth0], deny: [192.0.2.0/24]}\n",
		   "  - {node: b, interfaces: [eth0], deny: [192.0.2.0/24]}\n",
		   "+ prefilter b                        1 interface, 1 denied prefix\n"
		   "- prefilter a                        1 interface, 1 denied prefix\n");
}

static void test_named_rules_are_matched_by_name(void **state)
{
	struct policy_document *a = parse_ok(base), *b = parse_ok(base);
	char *text;

	/* b swaps the two rules and names them as a names them: only the port change shows. */
	a->groups[0].rules[0].name = strdup("http");
	a->groups[0].rules[1].name = strdup("tls");
	struct policy_rule tmp = b->groups[0].rules[0];

	b->groups[0].rules[0] = b->groups[0].rules[1];
	b->groups[0].rules[1] = tmp;
	b->groups[0].rules[0].name = strdup("tls");
	b->groups[0].rules[1].name = strdup("http");
	b->groups[0].rules[1].ports[0].lo = b->groups[0].rules[1].ports[0].hi = 81;
	text = diff_text(a, b, POLICY_FORMAT_YAML);
	assert_string_equal(text, "~ rule      web/http                 allow ingress tcp/80 from "
				  "10.0.0.0/8 priority 1000 -> allow ingress tcp/81 from "
				  "10.0.0.0/8 priority 1000\n"
				  "~ group     web                      rule order\n");
	free(text);
	policy_document_free(a);
	policy_document_free(b);
}

static void test_no_old_document_adds_everything(void **state)
{
	struct policy_document *b = parse_ok(base);
	char *text = diff_text(NULL, b, POLICY_FORMAT_YAML);

	assert_string_equal(text, "+ group     web                      2 rules\n"
				  "+ group     lb                       0 rules\n"
				  "+ endpoint  web-1                    node a, 1 address, 1 group\n"
				  "+ endpoint  lb-1                     node b, 1 address, 1 group\n"
				  "+ prefilter a                        1 interface, 1 denied prefix\n");
	free(text);
	policy_document_free(b);
}

static void test_json_form(void **state)
{
	struct policy_document *a = parse_ok(base), *b;
	char *changed = edit("ports: [80]", "ports: [80, 81]"), *text;

	b = parse_ok(changed);
	text = diff_text(a, b, POLICY_FORMAT_JSON);
	assert_string_equal(text, "{\"equal\": false, \"changes\": [\n"
				  "  {\"change\": \"changed\", \"object\": \"rule\", \"name\": "
				  "\"web[0]\", \"detail\": \"allow ingress tcp/80 from 10.0.0.0/8 "
				  "priority 1000 -> allow ingress tcp/80,81 from 10.0.0.0/8 priority "
				  "1000\"}\n]}\n");
	free(text);
	text = diff_text(a, a, POLICY_FORMAT_JSON);
	assert_string_equal(text, "{\"equal\": true, \"changes\": []}\n");
	free(text);
	free(changed);
	policy_document_free(a);
	policy_document_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_document_with_another_revision_and_layout_has_no_changes),
		cmocka_unit_test(test_changed_defaults_are_one_change),
		cmocka_unit_test(test_a_rule_whose_port_changed_is_changed_not_added_and_removed),
		cmocka_unit_test(test_an_added_rule_keeps_the_others_unchanged),
		cmocka_unit_test(test_a_removed_rule_is_named_by_its_old_index),
		cmocka_unit_test(test_reordered_rules_change_the_group_only),
		cmocka_unit_test(test_added_and_removed_groups),
		cmocka_unit_test(test_endpoint_changes_list_each_field),
		cmocka_unit_test(test_added_and_removed_endpoints),
		cmocka_unit_test(test_prefilter_changes),
		cmocka_unit_test(test_named_rules_are_matched_by_name),
		cmocka_unit_test(test_no_old_document_adds_everything),
		cmocka_unit_test(test_json_form),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
