// SPDX-License-Identifier: Apache-2.0
/*
 * Writing documents as YAML and JSON: the exact text of a small document, and round trips
 * (model -> text -> model) of the contract example and of strings that need quoting.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "policy/parse.h"
#include "policy/write.h"

static struct policy_document *reparse(const struct policy_document *doc,
				       enum policy_format fmt, char **ret_text)
{
	struct policy_errors errs = {0};
	struct policy_document *back = NULL;
	char *text;
	size_t len;
	int r;

	assert_int_equal(policy_write_buffer(doc, fmt, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	r = policy_parse_buffer(text, len, "written", &back, &errs);
	if (r) {
		char *e = errors_text(&errs);

		print_error("%s\n---\n%s\n", text, e);
		free(e);
	}
	assert_int_equal(r, 0);
	assert_true(policy_document_equal(doc, back));
	if (ret_text)
		*ret_text = text;
	else
		free(text);
	return back;
}

static void round_trip(const char *yaml)
{
	struct policy_document *doc = parse_ok(yaml);

	policy_document_free(reparse(doc, POLICY_FORMAT_YAML, NULL));
	policy_document_free(reparse(doc, POLICY_FORMAT_JSON, NULL));
	policy_document_free(doc);
}

static void test_contract_example_round_trips_through_yaml_and_json(void **state)
{
	struct policy_document *doc = parse_data_file("contract.yaml");

	policy_document_free(reparse(doc, POLICY_FORMAT_YAML, NULL));
	policy_document_free(reparse(doc, POLICY_FORMAT_JSON, NULL));
	policy_document_free(doc);
}

static const char small_doc[] = "revision: 3\n"
				"securityGroups:\n"
				"  - name: g\n"
				"    rules:\n"
				"      - {direction: egress, protocol: 47, cidr: \"fd00::/8\"}\n"
				"      - {direction: ingress, action: deny, priority: 5, protocol: tcp,"
				" ports: [22, 8000-8080], group: g}\n"
				"endpoints:\n"
				"  - {name: e, node: n, interface: veth0, addresses: [10.0.0.1],"
				" groups: [g], egress: deny, mode: audit}\n"
				"prefilter:\n"
				"  - {node: n, interfaces: [eth0], deny: [192.0.2.0/24]}\n";

static void test_written_yaml_text(void **state)
{
	struct policy_document *doc = parse_ok(small_doc), *back;
	char *text;

	back = reparse(doc, POLICY_FORMAT_YAML, &text);
	assert_string_equal(text, "revision: 3\n"
				  "defaults:\n"
				  "  ingress: deny\n"
				  "  egress: allow\n"
				  "  mode: enforce\n"
				  "securityGroups:\n"
				  "- name: g\n"
				  "  rules:\n"
				  "  - direction: egress\n"
				  "    action: allow\n"
				  "    priority: 1000\n"
				  "    protocol: 47\n"
				  "    cidr: fd00::/8\n"
				  "  - direction: ingress\n"
				  "    action: deny\n"
				  "    priority: 5\n"
				  "    protocol: tcp\n"
				  "    ports: [22, 8000-8080]\n"
				  "    group: g\n"
				  "endpoints:\n"
				  "- name: e\n"
				  "  node: n\n"
				  "  interface: veth0\n"
				  "  addresses: [10.0.0.1]\n"
				  "  groups: [g]\n"
				  "  egress: deny\n"
				  "  mode: audit\n"
				  "prefilter:\n"
				  "- node: n\n"
				  "  interfaces: [eth0]\n"
				  "  deny: [192.0.2.0/24]\n");
	free(text);
	policy_document_free(back);
	policy_document_free(doc);
}

static void test_written_json_text(void **state)
{
	struct policy_document *doc = parse_ok(small_doc), *back;
	char *text;

	back = reparse(doc, POLICY_FORMAT_JSON, &text);
	assert_string_equal(text, "{\n"
				  "  \"revision\": 3,\n"
				  "  \"defaults\": {\n"
				  "    \"ingress\": \"deny\",\n"
				  "    \"egress\": \"allow\",\n"
				  "    \"mode\": \"enforce\"\n"
				  "  },\n"
				  "  \"securityGroups\": [\n"
				  "    {\n"
				  "      \"name\": \"g\",\n"
				  "      \"rules\": [\n"
				  "        {\n"
				  "          \"direction\": \"egress\",\n"
				  "          \"action\": \"allow\",\n"
				  "          \"priority\": 1000,\n"
				  "          \"protocol\": 47,\n"
				  "          \"cidr\": \"fd00::/8\"\n"
				  "        },\n"
				  "        {\n"
				  "          \"direction\": \"ingress\",\n"
				  "          \"action\": \"deny\",\n"
				  "          \"priority\": 5,\n"
				  "          \"protocol\": \"tcp\",\n"
				  "          \"ports\": [22, \"8000-8080\"],\n"
				  "          \"group\": \"g\"\n"
				  "        }\n"
				  "      ]\n"
				  "    }\n"
				  "  ],\n"
				  "  \"endpoints\": [\n"
				  "    {\n"
				  "      \"name\": \"e\",\n"
				  "      \"node\": \"n\",\n"
				  "      \"interface\": \"veth0\",\n"
				  "      \"addresses\": [\"10.0.0.1\"],\n"
				  "      \"groups\": [\"g\"],\n"
				  "      \"egress\": \"deny\",\n"
				  "      \"mode\": \"audit\"\n"
				  "    }\n"
				  "  ],\n"
				  "  \"prefilter\": [\n"
				  "    {\n"
				  "      \"node\": \"n\",\n"
				  "      \"interfaces\": [\"eth0\"],\n"
				  "      \"deny\": [\"192.0.2.0/24\"]\n"
				  "    }\n"
				  "  ]\n"
				  "}\n");
	free(text);
	policy_document_free(back);
	policy_document_free(doc);
}

/* Names that YAML would read as something else, or that need escapes in JSON. */
static void test_strings_that_need_quoting_round_trip(void **state)
{
	static const char *const names[] = {
		"null", "~", "NULL", "a: b", " lead", "trail ", "#x", "- x", "123", "yes",
		"[x]", "{x}", "'q'", "\\\"dq\\\"", "back\\\\slash", "tab\\there", "nl\\nthere",
		"caf\\u00e9", "\\u2028ls", "\\x01ctl", "\\x7f\\u0085\\u009f", "\\ufeffbom",
		"\\U0001F600", "*star", "&amp", "!tag", "%pct", "@at", "`tick", "|bar", ">gt",
		"---", "...", "?q", ",comma", "a #b", "multi  space"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char yaml[512];

		snprintf(yaml, sizeof(yaml),
			 "securityGroups:\n"
			 "  - name: \"%s\"\n"
			 "    rules: [{direction: ingress, group: \"%s\"}]\n"
			 "endpoints:\n"
			 "  - {name: \"%s\", node: \"%s\", cgroup: \"/%s\", groups: [\"%s\"]}\n",
			 names[i], names[i], names[i], names[i], names[i], names[i]);
		round_trip(yaml);
	}
}

static void test_empty_lists_and_no_revision_round_trip(void **state)
{
	round_trip("securityGroups: [{name: g, rules: []}]\n");
	round_trip("securityGroups: [{name: g, rules: [{name: \"web: http\", direction: egress}]}]\n");
	round_trip("prefilter: [{node: n, interfaces: [eth0], deny: []}]\n");
	round_trip("revision: 0\nendpoints: [{name: e, node: n, interface: i}]\n");
	round_trip("revision: 4611686018427387903\n"
		   "defaults: {ingress: allow, egress: deny, mode: audit}\n"
		   "securityGroups: [{name: g, rules: [{direction: egress, protocol: 0,"
		   " priority: 0}, {direction: egress, priority: 65535, protocol: udp,"
		   " ports: [1, 65535, 1-65535]}]}]\n");
}

static void test_unknown_format_is_refused(void **state)
{
	struct policy_document *doc = parse_ok(small_doc);
	char *text;
	size_t len;

	assert_int_equal(policy_write_buffer(doc, (enum policy_format)7, &text, &len), -EINVAL);
	assert_null(text);
	policy_document_free(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_contract_example_round_trips_through_yaml_and_json),
		cmocka_unit_test(test_written_yaml_text),
		cmocka_unit_test(test_written_json_text),
		cmocka_unit_test(test_strings_that_need_quoting_round_trip),
		cmocka_unit_test(test_empty_lists_and_no_revision_round_trip),
		cmocka_unit_test(test_unknown_format_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
