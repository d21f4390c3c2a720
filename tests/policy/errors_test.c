// SPDX-License-Identifier: Apache-2.0
/*
 * Parser and validator errors: one test per class of mistake, each with the exact
 * `file:line: field: message` text a user sees.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "policy/parse.h"

/* A one-rule document; the rule's extra lines start at line 5. */
#define RULE_DOC(extra)                                                                        \
	"securityGroups:\n"                                                                    \
	"  - name: g\n"                                                                        \
	"    rules:\n"                                                                         \
	"      - direction: ingress\n" extra

/* A one-endpoint document; the endpoint's extra lines start at line 6. */
#define EP_DOC(extra)                                                                          \
	"endpoints:\n"                                                                         \
	"  - name: e\n"                                                                        \
	"    node: n\n"                                                                        \
	"    interface: veth0\n"                                                                \
	"    groups: []\n" extra

static void test_bad_cidr(void **state)
{
	assert_parse_errors(RULE_DOC("        cidr: 10.0.0.300/8\n"),
			    "t.yaml:5: securityGroups[0].rules[0].cidr: \"10.0.0.300/8\" is not an "
			    "IPv4 or IPv6 prefix");
	assert_parse_errors(RULE_DOC("        cidr: 10.0.0.0/33\n"),
			    "t.yaml:5: securityGroups[0].rules[0].cidr: \"10.0.0.0/33\" is not an "
			    "IPv4 or IPv6 prefix");
	assert_parse_errors(RULE_DOC("        cidr: [10.0.0.0/8]\n"),
			    "t.yaml:5: securityGroups[0].rules[0].cidr: expected a value, got a list");
}

static void test_cidr_with_host_bits_set(void **state)
{
	assert_parse_errors(RULE_DOC("        cidr: 10.1.0.0/8\n"),
			    "t.yaml:5: securityGroups[0].rules[0].cidr: \"10.1.0.0/8\" has host bits "
			    "set; did you mean 10.0.0.0/8?");
	assert_parse_errors(RULE_DOC("        cidr: \"fd00::1/64\"\n"),
			    "t.yaml:5: securityGroups[0].rules[0].cidr: \"fd00::1/64\" has host bits "
			    "set; did you mean fd00::/64?");
}

static void test_port_range_reversed(void **state)
{
	assert_parse_errors(RULE_DOC("        protocol: tcp\n"
				     "        ports: [80, \"90-80\"]\n"),
			    "t.yaml:6: securityGroups[0].rules[0].ports[1]: port range \"90-80\" is "
			    "reversed (low > high)");
}

static void test_port_zero_and_65536(void **state)
{
	assert_parse_errors(RULE_DOC("        protocol: udp\n"
				     "        ports:\n"
				     "          - 0\n"
				     "          - 65536\n"
				     "          - \"1-65536\"\n"
				     "          - http\n"),
			    "t.yaml:7: securityGroups[0].rules[0].ports[0]: \"0\" is not a port "
			    "(1..65535) or range (\"lo-hi\")\n"
			    "t.yaml:8: securityGroups[0].rules[0].ports[1]: \"65536\" is not a port "
			    "(1..65535) or range (\"lo-hi\")\n"
			    "t.yaml:9: securityGroups[0].rules[0].ports[2]: \"1-65536\" is not a port "
			    "(1..65535) or range (\"lo-hi\")\n"
			    "t.yaml:10: securityGroups[0].rules[0].ports[3]: \"http\" is not a port "
			    "(1..65535) or range (\"lo-hi\")");
}

static void test_ports_need_a_protocol_with_ports(void **state)
{
	/* at the ports: line, not the rule's first */
	assert_parse_errors(RULE_DOC("        protocol: icmp\n"
				     "        ports: [80]\n"),
			    "t.yaml:6: securityGroups[0].rules[0].ports: ports need protocol tcp, udp "
			    "or sctp; protocol icmp has no ports");
	assert_parse_errors(RULE_DOC("        ports: [80]\n"),
			    "t.yaml:5: securityGroups[0].rules[0].ports: ports need protocol tcp, udp "
			    "or sctp; protocol any has no ports");
	assert_parse_errors(RULE_DOC("        protocol: 47\n"
				     "        ports: [80]\n"),
			    "t.yaml:6: securityGroups[0].rules[0].ports: ports need protocol tcp, udp "
			    "or sctp; protocol 47 has no ports");
	/* a block list: still the ports: line, not its first item's */
	assert_parse_errors(RULE_DOC("        protocol: icmp\n"
				     "        ports:\n"
				     "          - 80\n"),
			    "t.yaml:6: securityGroups[0].rules[0].ports: ports need protocol tcp, udp "
			    "or sctp; protocol icmp has no ports");
	/* a flow-style rule is one line */
	assert_parse_errors("securityGroups:\n"
			    "  - name: g\n"
			    "    rules:\n"
			    "      - {direction: ingress, protocol: icmp, ports: [80]}\n",
			    "t.yaml:4: securityGroups[0].rules[0].ports: ports need protocol tcp, udp "
			    "or sctp; protocol icmp has no ports");
}

static void test_bad_protocol(void **state)
{
	assert_parse_errors(RULE_DOC("        protocol: 256\n"),
			    "t.yaml:5: securityGroups[0].rules[0].protocol: \"256\" is not a protocol "
			    "(tcp | udp | sctp | icmp | icmpv6 | any | 0..255)");
	assert_parse_errors(RULE_DOC("        protocol: TCP\n"),
			    "t.yaml:5: securityGroups[0].rules[0].protocol: \"TCP\" is not a protocol "
			    "(tcp | udp | sctp | icmp | icmpv6 | any | 0..255)");
}

static void test_unknown_group_reference(void **state)
{
	/* at the group: line, not the rule's first */
	assert_parse_errors(RULE_DOC("        protocol: tcp\n"
				     "        group: nope\n"),
			    "t.yaml:6: securityGroups[0].rules[0].group: unknown security group "
			    "\"nope\"");
	assert_parse_errors(RULE_DOC("        group: nope\n"),
			    "t.yaml:5: securityGroups[0].rules[0].group: unknown security group "
			    "\"nope\"");
	assert_parse_errors("endpoints:\n"
			    "  - name: e\n"
			    "    node: n\n"
			    "    interface: veth0\n"
			    "    groups: [nope]\n",
			    "t.yaml:5: endpoints[0].groups[0]: unknown security group \"nope\"");
}

static void test_rule_with_cidr_and_group(void **state)
{
	assert_parse_errors("securityGroups:\n"
			    "  - name: g\n"
			    "    rules:\n"
			    "      - direction: ingress\n"
			    "        cidr: 10.0.0.0/8\n"
			    "        group: g\n",
			    "t.yaml:4: securityGroups[0].rules[0]: a rule names its remote by cidr or "
			    "by group, not both");
}

static void test_duplicate_group_names(void **state)
{
	assert_parse_errors("securityGroups:\n"
			    "  - name: g\n"
			    "    rules: []\n"
			    "  - name: h\n"
			    "    rules: []\n"
			    "  - name: g\n"
			    "    rules: []\n",
			    "t.yaml:6: securityGroups[2].name: duplicate name \"g\" (first defined at "
			    "line 2)");
}

static void test_duplicate_rule_names_in_one_group(void **state)
{
	assert_parse_errors("securityGroups:\n"
			    "  - name: g\n"
			    "    rules:\n"
			    "      - {name: web, direction: ingress}\n"
			    "      - {name: dns, direction: egress}\n"
			    "      - {name: web, direction: egress}\n"
			    "  - name: h\n"
			    "    rules: [{name: web, direction: ingress}]\n",
			    "t.yaml:6: securityGroups[0].rules[2].name: duplicate name \"web\" (first "
			    "defined at line 4)");
}

static void test_duplicate_endpoint_names(void **state)
{
	assert_parse_errors("endpoints:\n"
			    "  - {name: e, node: n, interface: a}\n"
			    "  - {name: e, node: n, interface: b}\n"
			    "  - {name: e, node: m, interface: c}\n",
			    "t.yaml:3: endpoints[1].name: duplicate name \"e\" (first defined at line "
			    "2)\n"
			    "t.yaml:4: endpoints[2].name: duplicate name \"e\" (first defined at line "
			    "2)");
}

static void test_endpoint_addresses_must_be_unicast(void **state)
{
	assert_parse_errors(
		EP_DOC("    addresses:\n"
		       "      - 224.0.0.1\n"
		       "      - 255.255.255.255\n"
		       "      - 0.0.0.0\n"
		       "      - 127.0.0.1\n"
		       "      - 240.0.0.1\n"
		       "      - \"ff02::1\"\n"
		       "      - \"::\"\n"
		       "      - \"::1\"\n"
		       "      - 10.0.0.0/24\n"
		       "      - host.example\n"
		       "      - 10.0.0.1\n"),
		"t.yaml:7: endpoints[0].addresses[0]: 224.0.0.1: multicast address is not a unicast "
		"address\n"
		"t.yaml:8: endpoints[0].addresses[1]: 255.255.255.255: broadcast address is not a "
		"unicast address\n"
		"t.yaml:9: endpoints[0].addresses[2]: 0.0.0.0: unspecified address is not a unicast "
		"address\n"
		"t.yaml:10: endpoints[0].addresses[3]: 127.0.0.1: loopback address is not a workload "
		"address\n"
		"t.yaml:11: endpoints[0].addresses[4]: 240.0.0.1: reserved (class E) address is not a "
		"unicast address\n"
		"t.yaml:12: endpoints[0].addresses[5]: ff02::1: multicast address is not a unicast "
		"address\n"
		"t.yaml:13: endpoints[0].addresses[6]: ::: unspecified address is not a unicast "
		"address\n"
		"t.yaml:14: endpoints[0].addresses[7]: ::1: loopback address is not a workload "
		"address\n"
		"t.yaml:15: endpoints[0].addresses[8]: 10.0.0.0/24: must be a host address, not a "
		"prefix\n"
		"t.yaml:16: endpoints[0].addresses[9]: \"host.example\" is not an IPv4 or IPv6 prefix");
}

static void test_address_owned_by_two_endpoints(void **state)
{
	assert_parse_errors("endpoints:\n"
			    "  - {name: a, node: n, interface: a, addresses: [10.0.0.1, \"fd00::1\"]}\n"
			    "  - {name: b, node: n, interface: b, addresses: [10.0.0.2]}\n"
			    "  - {name: c, node: m, interface: c, addresses: [\"fd00:0::1\", 10.0.0.1]}\n",
			    "t.yaml:4: endpoints[2].addresses[0]: address fd00::1 is already an "
			    "address of endpoint \"a\"\n"
			    "t.yaml:4: endpoints[2].addresses[1]: address 10.0.0.1 is already an "
			    "address of endpoint \"a\"");
}

static void test_endpoint_needs_name_node_and_attachment(void **state)
{
	assert_parse_errors("endpoints:\n"
			    "  - addresses: [10.0.0.1]\n"
			    "  - name: b\n"
			    "    node: n\n"
			    "    interface: \"this-name-is-too-long\"\n"
			    "    cgroup: relative/path\n"
			    "  - name: c\n"
			    "    node: n\n"
			    "    interface: \"a/b\"\n",
			    "t.yaml:2: endpoints[0]: name is required\n"
			    "t.yaml:2: endpoints[0]: node is required\n"
			    "t.yaml:2: endpoints[0]: an endpoint needs an interface, a cgroup, or both\n"
			    "t.yaml:3: endpoints[1].interface: interface \"this-name-is-too-long\" is "
			    "not a valid interface name (1..15 characters, no '/', ':' or spaces)\n"
			    "t.yaml:3: endpoints[1].cgroup: cgroup \"relative/path\" must be an absolute "
			    "path\n"
			    "t.yaml:7: endpoints[2].interface: interface \"a/b\" is not a valid interface "
			    "name (1..15 characters, no '/', ':' or spaces)");
}

static void test_unknown_keys(void **state)
{
	assert_parse_errors("revison: 3\n" RULE_DOC("        prot: tcp\n"),
			    "t.yaml:1: revison: unknown key \"revison\"; did you mean revision?\n"
			    "t.yaml:6: securityGroups[0].rules[0].prot: unknown key \"prot\"");
	assert_parse_errors(EP_DOC("    adresses: [10.0.0.1]\n"),
			    "t.yaml:6: endpoints[0].adresses: unknown key \"adresses\"; did you mean "
			    "addresses?");
}

static void test_duplicate_keys(void **state)
{
	assert_parse_errors(RULE_DOC("        priority: 1\n"
				     "        priority: 2\n"),
			    "t.yaml:6: securityGroups[0].rules[0].priority: duplicate key");
}

static void test_wrong_types(void **state)
{
	assert_parse_errors(RULE_DOC("        priority: \"100\"\n"),
			    "t.yaml:5: securityGroups[0].rules[0].priority: expected a non-negative "
			    "integer, got \"100\"");
	assert_parse_errors(RULE_DOC("        protocol: tcp\n"
				     "        ports: {80: 90}\n"),
			    "t.yaml:6: securityGroups[0].rules[0].ports: expected a list, got a "
			    "mapping");
	assert_parse_errors(RULE_DOC("        protocol: tcp\n"
				     "        ports: 80\n"),
			    "t.yaml:6: securityGroups[0].rules[0].ports: expected a list, got a "
			    "scalar");
	assert_parse_errors("securityGroups: {name: g}\n",
			    "t.yaml:1: securityGroups: expected a list, got a mapping\n"
			    "t.yaml:1: document: empty document: no securityGroups, endpoints or "
			    "prefilter");
	assert_parse_errors("- a\n- b\n", "t.yaml:1: document: expected a mapping, got a list\n"
					      "t.yaml:1: document: empty document: no "
					      "securityGroups, endpoints or prefilter");
	assert_parse_errors(RULE_DOC("        action: maybe\n"),
			    "t.yaml:5: securityGroups[0].rules[0].action: \"maybe\" is not one of "
			    "allow | deny");
	assert_parse_errors("revision: seven\n" RULE_DOC(""),
			    "t.yaml:1: revision: expected a non-negative integer, got \"seven\"");
	assert_parse_errors(EP_DOC("    name2: x\n    mode: [audit]\n"),
			    "t.yaml:6: endpoints[0].name2: unknown key \"name2\"; did you mean name?\n"
			    "t.yaml:7: endpoints[0].mode: expected a value, got a list");
}

static void test_priority_out_of_range(void **state)
{
	assert_parse_errors(RULE_DOC("        priority: 65536\n"),
			    "t.yaml:5: securityGroups[0].rules[0].priority: 65536 is out of range "
			    "0..65535");
	assert_parse_errors(RULE_DOC("        priority: -1\n"),
			    "t.yaml:5: securityGroups[0].rules[0].priority: expected a non-negative "
			    "integer, got \"-1\"");
	assert_parse_errors(RULE_DOC("        priority: 99999999999999999999999\n"),
			    "t.yaml:5: securityGroups[0].rules[0].priority: 99999999999999999999999 "
			    "is out of range 0..65535");
}

static void test_missing_direction(void **state)
{
	assert_parse_errors("securityGroups:\n"
			    "  - name: g\n"
			    "    rules:\n"
			    "      - action: deny\n",
			    "t.yaml:4: securityGroups[0].rules[0]: direction is required (ingress | "
			    "egress)");
}

static void test_empty_values(void **state)
{
	assert_parse_errors("securityGroups:\n"
			    "  - name:\n"
			    "    rules: []\n"
			    "  - name: \"\"\n"
			    "  - name: null\n",
			    "t.yaml:2: securityGroups[0].name: must not be empty\n"
			    "t.yaml:4: securityGroups[1].name: must not be empty\n"
			    "t.yaml:5: securityGroups[2].name: must not be empty\n"
			    "t.yaml:2: securityGroups[0]: name is required\n"
			    "t.yaml:4: securityGroups[1]: name is required\n"
			    "t.yaml:5: securityGroups[2]: name is required");
}

static void test_empty_document(void **state)
{
	assert_parse_errors("", "t.yaml:1: document: empty document");
	assert_parse_errors("# only a comment\n", "t.yaml:1: document: empty document");
	assert_parse_errors("{}", "t.yaml:1: document: empty document: no securityGroups, "
				  "endpoints or prefilter");
	assert_parse_errors("revision: 3\n", "t.yaml:1: document: empty document: no "
					     "securityGroups, endpoints or prefilter");
}

static void test_yaml_syntax_error(void **state)
{
	assert_parse_errors("securityGroups:\n"
			    "  - name: g\n"
			    "    rules: [\n"
			    "endpoints: []\n",
			    "t.yaml:5: document: syntax error at column 1: did not find expected ',' "
			    "or ']' while parsing a flow sequence (begun at line 3, column 12)");
	assert_parse_errors("a: b\n c: d\n",
			    "t.yaml:2: document: syntax error at column 3: mapping values are not "
			    "allowed in this context");
	assert_parse_errors("{\"securityGroups\": [}\n",
			    "t.yaml:1: document: syntax error at column 21: did not find expected node "
			    "content while parsing a flow node (begun at line 1, column 21)");
}

static void test_a_misspelled_top_level_key_is_one_error_with_a_suggestion(void **state)
{
	/* the unread section's references and the empty document are not reported again */
	assert_parse_errors("securityGroup:\n"
			    "  - name: web\n"
			    "    rules: []\n"
			    "endpoints:\n"
			    "  - {name: e, node: n, interface: v, addresses: [10.0.0.1], groups: [web]}\n",
			    "t.yaml:1: securityGroup: unknown key \"securityGroup\"; did you mean "
			    "securityGroups?");
	assert_parse_errors("endpoint: []\n", "t.yaml:1: endpoint: unknown key \"endpoint\"; did "
						 "you mean endpoints?");
	assert_parse_errors("securityGroups: [{name: web, rules: []}]\n"
			    "endpoints: [{name: e, node: n, interface: v, groups: [wbe]}]\n",
			    "t.yaml:2: endpoints[0].groups[0]: unknown security group \"wbe\"; did "
			    "you mean web?");
}

static void test_more_than_one_document(void **state)
{
	assert_parse_errors(RULE_DOC("---\nrevision: 2\n"),
			    "t.yaml:6: document: more than one YAML document; put everything in one");
}

static void test_aliases_are_refused(void **state)
{
	assert_parse_errors("securityGroups:\n"
			    "  - &g {name: g, rules: []}\n"
			    "  - *g\n",
			    "t.yaml:3: document: YAML aliases (*name) are not supported");
}

static void test_prefilter_needs_node_and_interfaces(void **state)
{
	assert_parse_errors("prefilter:\n"
			    "  - deny: [10.0.0.0/8, 10.0.0.1/8]\n"
			    "  - node: n\n"
			    "    interfaces: [\"a b\"]\n",
			    "t.yaml:2: prefilter[0].deny[1]: \"10.0.0.1/8\" has host bits set; did you "
			    "mean 10.0.0.0/8?\n"
			    "t.yaml:2: prefilter[0]: node is required\n"
			    "t.yaml:2: prefilter[0].interfaces: interfaces must name at least one "
			    "interface\n"
			    "t.yaml:3: prefilter[1].interfaces[0]: interface \"a b\" is not a valid "
			    "interface name");
}

/* Every mistake in one file is reported, in document order for each pass. */
static void test_several_errors_in_one_file_all_reported(void **state)
{
	assert_parse_errors("revision: 1\n"
			    "defaults:\n"
			    "  ingress: drop\n"
			    "securityGroups:\n"
			    "  - name: web\n"
			    "    rules:\n"
			    "      - direction: ingress\n"
			    "        protocol: tcp\n"
			    "        ports: [\"443-80\"]\n"
			    "        cidr: 10.0.0.1/8\n"
			    "      - direction: sideways\n"
			    "        priority: 70000\n"
			    "        group: db\n"
			    "endpoints:\n"
			    "  - name: web-1\n"
			    "    node: node-a\n"
			    "    interface: veth1\n"
			    "    addresses: [10.0.0.5, 224.0.0.5]\n"
			    "    groups: [web, cache]\n"
			    "  - name: web-2\n"
			    "    node: node-a\n"
			    "    cgroup: /sys/fs/cgroup/web-2\n"
			    "    addresses: [10.0.0.5]\n"
			    "    groups: [web]\n"
			    "    color: blue\n",
			    "t.yaml:3: defaults.ingress: \"drop\" is not one of allow | deny\n"
			    "t.yaml:9: securityGroups[0].rules[0].ports[0]: port range \"443-80\" is "
			    "reversed (low > high)\n"
			    "t.yaml:10: securityGroups[0].rules[0].cidr: \"10.0.0.1/8\" has host bits "
			    "set; did you mean 10.0.0.0/8?\n"
			    "t.yaml:11: securityGroups[0].rules[1].direction: \"sideways\" is not one "
			    "of ingress | egress\n"
			    "t.yaml:12: securityGroups[0].rules[1].priority: 70000 is out of range "
			    "0..65535\n"
			    "t.yaml:18: endpoints[0].addresses[1]: 224.0.0.5: multicast address is not "
			    "a unicast address\n"
			    "t.yaml:25: endpoints[1].color: unknown key \"color\"\n"
			    "t.yaml:13: securityGroups[0].rules[1].group: unknown security group "
			    "\"db\"\n"
			    "t.yaml:19: endpoints[0].groups[1]: unknown security group \"cache\"\n"
			    "t.yaml:20: endpoints[1].addresses[0]: address 10.0.0.5 is already an "
			    "address of endpoint \"web-1\"");
}

static void test_error_limit_counts_dropped_errors(void **state)
{
	struct policy_errors errs = {.limit = 2};
	struct policy_document *doc;
	const char *text = RULE_DOC("        protocol: tcp\n"
				    "        ports: [0, 0, 0, 0]\n");
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	assert_int_equal(policy_parse_buffer(text, strlen(text), "t.yaml", &doc, &errs), -EINVAL);
	assert_int_equal(errs.n, 2);
	assert_int_equal(errs.dropped, 2);
	f = open_memstream(&out, &len);
	policy_errors_print(&errs, f);
	fclose(f);
	assert_non_null(strstr(out, "... and 2 more errors\n"));
	free(out);
	policy_errors_free(&errs);
}

static void test_unreadable_file(void **state)
{
	struct policy_errors errs = {0};
	struct policy_document *doc;
	char *text;

	assert_int_equal(policy_parse_file("/nonexistent/p.yaml", &doc, &errs), -ENOENT);
	assert_null(doc);
	text = errors_text(&errs);
	assert_string_equal(text, "/nonexistent/p.yaml:0: document: cannot read: No such file or "
				  "directory");
	free(text);
	policy_errors_free(&errs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_cidr),
		cmocka_unit_test(test_cidr_with_host_bits_set),
		cmocka_unit_test(test_port_range_reversed),
		cmocka_unit_test(test_port_zero_and_65536),
		cmocka_unit_test(test_ports_need_a_protocol_with_ports),
		cmocka_unit_test(test_bad_protocol),
		cmocka_unit_test(test_unknown_group_reference),
		cmocka_unit_test(test_rule_with_cidr_and_group),
		cmocka_unit_test(test_duplicate_group_names),
		cmocka_unit_test(test_duplicate_rule_names_in_one_group),
		cmocka_unit_test(test_a_misspelled_top_level_key_is_one_error_with_a_suggestion),
		cmocka_unit_test(test_duplicate_endpoint_names),
		cmocka_unit_test(test_endpoint_addresses_must_be_unicast),
		cmocka_unit_test(test_address_owned_by_two_endpoints),
		cmocka_unit_test(test_endpoint_needs_name_node_and_attachment),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_priority_out_of_range),
		cmocka_unit_test(test_missing_direction),
		cmocka_unit_test(test_empty_values),
		cmocka_unit_test(test_empty_document),
		cmocka_unit_test(test_yaml_syntax_error),
		cmocka_unit_test(test_more_than_one_document),
		cmocka_unit_test(test_aliases_are_refused),
		cmocka_unit_test(test_prefilter_needs_node_and_interfaces),
		cmocka_unit_test(test_several_errors_in_one_file_all_reported),
		cmocka_unit_test(test_error_limit_counts_dropped_errors),
		cmocka_unit_test(test_unreadable_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
