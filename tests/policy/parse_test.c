// SPDX-License-Identifier: Apache-2.0
/*
 * Parser tests: CONTRACT.md's example (YAML and JSON) read into the expected model, and the
 * defaults of every optional field.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "policy/parse.h"
#include "policy/prefix.h"
#include "policy/write.h"

static void assert_prefix(const struct policy_prefix *p, const char *expected, bool host)
{
	char buf[PREFIX_STR_MAX];

	prefix_format(p, host, buf);
	assert_string_equal(buf, expected);
}

static void check_contract_model(const struct policy_document *doc)
{
	const struct policy_rule *r;
	const struct policy_endpoint *ep;

	assert_true(doc->has_revision);
	assert_int_equal(doc->revision, 7);
	assert_int_equal(doc->defaults.ingress, POLICY_DENY);
	assert_int_equal(doc->defaults.egress, POLICY_ALLOW);
	assert_int_equal(doc->defaults.mode, POLICY_ENFORCE);

	assert_int_equal(doc->n_groups, 2);
	assert_string_equal(doc->groups[0].name, "web");
	assert_string_equal(doc->groups[1].name, "lb");
	assert_int_equal(doc->groups[0].n_rules, 3);
	assert_int_equal(doc->groups[1].n_rules, 0);

	r = &doc->groups[0].rules[0];
	assert_int_equal(r->direction, POLICY_INGRESS);
	assert_int_equal(r->action, POLICY_ALLOW);
	assert_int_equal(r->priority, 100);
	assert_int_equal(r->protocol, POLICY_PROTO_TCP);
	assert_int_equal(r->n_ports, 2);
	assert_int_equal(r->ports[0].lo, 80);
	assert_int_equal(r->ports[0].hi, 80);
	assert_int_equal(r->ports[1].lo, 8000);
	assert_int_equal(r->ports[1].hi, 8080);
	assert_int_equal(r->remote_kind, POLICY_REMOTE_CIDR);
	assert_true(r->has_cidr);
	assert_prefix(&r->cidr, "10.20.0.0/16", false);
	assert_null(r->group);

	r = &doc->groups[0].rules[1];
	assert_int_equal(r->direction, POLICY_INGRESS);
	assert_int_equal(r->action, POLICY_ALLOW);
	assert_int_equal(r->priority, POLICY_PRIORITY_DEFAULT);
	assert_int_equal(r->n_ports, 1);
	assert_int_equal(r->ports[0].lo, 443);
	assert_int_equal(r->remote_kind, POLICY_REMOTE_GROUP);
	assert_false(r->has_cidr);
	assert_string_equal(r->group, "lb");
	assert_int_equal(r->group_index, 1);

	r = &doc->groups[0].rules[2];
	assert_int_equal(r->direction, POLICY_EGRESS);
	assert_int_equal(r->action, POLICY_DENY);
	assert_int_equal(r->priority, 10);
	assert_int_equal(r->protocol, POLICY_PROTO_UDP);
	assert_int_equal(r->ports[0].lo, 53);
	assert_int_equal(r->remote_kind, POLICY_REMOTE_CIDR);
	assert_prefix(&r->cidr, "0.0.0.0/0", false);

	assert_int_equal(doc->n_endpoints, 2);
	ep = &doc->endpoints[0];
	assert_string_equal(ep->name, "web-1");
	assert_string_equal(ep->node, "node-a");
	assert_string_equal(ep->interface, "veth-web1");
	assert_string_equal(ep->cgroup, "/sys/fs/cgroup/unified/web-1.slice");
	assert_int_equal(ep->n_addresses, 2);
	assert_prefix(&ep->addresses[0], "10.20.1.5/32", false);
	assert_int_equal(ep->addresses[1].family, 6);
	assert_prefix(&ep->addresses[1], "fd00:20::5/128", false);
	assert_int_equal(ep->n_groups, 1);
	assert_string_equal(ep->groups[0], "web");
	assert_int_equal(ep->group_index[0], 0);
	assert_int_equal(ep->ingress, POLICY_DENY);
	assert_int_equal(ep->egress, POLICY_INHERIT);
	assert_int_equal(ep->mode, POLICY_AUDIT);
	assert_int_equal(policy_endpoint_default(doc, ep, POLICY_EGRESS), POLICY_ALLOW);
	assert_int_equal(policy_endpoint_mode(doc, ep), POLICY_AUDIT);

	ep = &doc->endpoints[1];
	assert_string_equal(ep->name, "lb-1");
	assert_null(ep->cgroup);
	assert_int_equal(ep->group_index[0], 1);
	assert_int_equal(ep->ingress, POLICY_INHERIT);
	assert_int_equal(ep->mode, POLICY_INHERIT);

	assert_int_equal(doc->n_prefilters, 1);
	assert_string_equal(doc->prefilters[0].node, "node-a");
	assert_int_equal(doc->prefilters[0].n_interfaces, 1);
	assert_string_equal(doc->prefilters[0].interfaces[0], "eth0");
	assert_int_equal(doc->prefilters[0].n_deny, 2);
	assert_prefix(&doc->prefilters[0].deny[0], "198.51.100.0/24", false);
	assert_prefix(&doc->prefilters[0].deny[1], "2001:db8:bad::/48", false);
}

static void test_contract_example_parses_into_the_model(void **state)
{
	struct policy_document *doc = parse_data_file("contract.yaml");

	check_contract_model(doc);
	assert_int_equal(doc->groups[0].rules[0].line, 9);
	assert_int_equal(doc->endpoints[0].line, 28);
	policy_document_free(doc);
}

static void test_contract_example_as_json_parses_into_the_same_model(void **state)
{
	struct policy_document *yaml = parse_data_file("contract.yaml");
	struct policy_document *json = parse_data_file("contract.json");

	check_contract_model(json);
	assert_true(policy_document_equal(yaml, json));
	policy_document_free(yaml);
	policy_document_free(json);
}

static void test_json_on_one_line_with_tabs_parses(void **state)
{
	struct policy_document *doc = parse_ok(
		"{\"securityGroups\":[{\"name\":\"a\",\"rules\":[{\"direction\":\"egress\","
		"\"ports\":[22],\"protocol\":6}]}],\n\t\"endpoints\": []}");

	assert_int_equal(doc->groups[0].rules[0].protocol, POLICY_PROTO_TCP);
	assert_int_equal(doc->groups[0].rules[0].ports[0].lo, 22);
	policy_document_free(doc);
}

static void test_omitted_fields_take_their_defaults(void **state)
{
	struct policy_document *doc = parse_ok("securityGroups:\n"
					       "  - name: g\n"
					       "    rules:\n"
					       "      - direction: egress\n"
					       "endpoints:\n"
					       "  - name: e\n"
					       "    node: n\n"
					       "    cgroup: /sys/fs/cgroup/e\n");
	const struct policy_rule *r = &doc->groups[0].rules[0];
	const struct policy_endpoint *ep = &doc->endpoints[0];

	assert_false(doc->has_revision);
	assert_int_equal(doc->revision, 0);
	assert_int_equal(doc->defaults.ingress, POLICY_DENY);
	assert_int_equal(doc->defaults.egress, POLICY_ALLOW);
	assert_int_equal(doc->defaults.mode, POLICY_ENFORCE);
	assert_int_equal(r->action, POLICY_ALLOW);
	assert_int_equal(r->priority, 1000);
	assert_int_equal(r->protocol, POLICY_PROTO_ANY);
	assert_int_equal(r->n_ports, 0);
	assert_int_equal(r->remote_kind, POLICY_REMOTE_ANY);
	assert_null(ep->interface);
	assert_int_equal(ep->n_addresses, 0);
	assert_int_equal(ep->n_groups, 0);
	assert_int_equal(ep->ingress, POLICY_INHERIT);
	assert_int_equal(ep->egress, POLICY_INHERIT);
	assert_int_equal(ep->mode, POLICY_INHERIT);
	policy_document_free(doc);
}

static void test_protocols_by_name_and_number(void **state)
{
	static const struct {
		const char *text;
		int proto;
	} cases[] = {{"tcp", 6},	  {"udp", 17},	{"sctp", 132}, {"icmp", 1},
		     {"icmpv6", 58},  {"any", -1},	{"0", 0},      {"47", 47},
		     {"255", 255},    {"\"6\"", 6}};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[256];
		struct policy_document *doc;

		snprintf(text, sizeof(text),
			 "securityGroups: [{name: g, rules: [{direction: ingress, protocol: %s}]}]\n",
			 cases[i].text);
		doc = parse_ok(text);
		assert_int_equal(doc->groups[0].rules[0].protocol, cases[i].proto);
		policy_document_free(doc);
	}
	assert_string_equal(policy_protocol_name(POLICY_PROTO_ANY), "any");
	assert_string_equal(policy_protocol_name(132), "sctp");
	assert_null(policy_protocol_name(47));
}

static void test_port_ranges(void **state)
{
	struct policy_port_range p;

	assert_int_equal(policy_parse_port_range("1", &p), 0);
	assert_int_equal(p.lo, 1);
	assert_int_equal(p.hi, 1);
	assert_int_equal(policy_parse_port_range("65535", &p), 0);
	assert_int_equal(policy_parse_port_range("1-65535", &p), 0);
	assert_int_equal(p.hi, 65535);
	assert_int_equal(policy_parse_port_range("80-80", &p), 0);
	assert_int_equal(policy_parse_port_range("0", &p), -EINVAL);
	assert_int_equal(policy_parse_port_range("65536", &p), -EINVAL);
	assert_int_equal(policy_parse_port_range("90-80", &p), -ERANGE);
	assert_int_equal(policy_parse_port_range("80-", &p), -EINVAL);
	assert_int_equal(policy_parse_port_range("-80", &p), -EINVAL);
	assert_int_equal(policy_parse_port_range("", &p), -EINVAL);
	assert_int_equal(policy_parse_port_range("8 0", &p), -EINVAL);
	assert_int_equal(policy_parse_port_range("80-90-100", &p), -EINVAL);
	assert_int_equal(policy_parse_port_range("99999999999", &p), -EINVAL);
}

static void test_prefixes(void **state)
{
	struct policy_prefix p, q;
	char buf[PREFIX_STR_MAX];

	assert_int_equal(prefix_parse("10.0.0.0/8", &p), 0);
	assert_int_equal(p.family, 4);
	assert_int_equal(p.len, 8);
	assert_int_equal(prefix_parse("10.1.2.3", &q), 0);
	assert_int_equal(q.len, 32);
	assert_true(prefix_covers(&p, &q));
	assert_true(policy_prefix_contains(&p, &q));
	assert_int_equal(prefix_parse("10.1.0.0/8", &p), -EADDRNOTAVAIL);
	prefix_format(&p, false, buf);
	assert_string_equal(buf, "10.0.0.0/8");
	assert_int_equal(prefix_parse("fc00::/7", &p), 0);
	assert_int_equal(prefix_parse("fdff::1", &q), 0);
	assert_true(prefix_covers(&p, &q));
	assert_int_equal(prefix_parse("fe00::1", &q), 0);
	assert_false(prefix_covers(&p, &q));
	assert_int_equal(prefix_parse("0.0.0.0/0", &p), 0);
	assert_false(prefix_covers(&p, &q)); /* other family */
	assert_int_equal(prefix_parse("10.0.0.0/33", &p), -EINVAL);
	assert_int_equal(prefix_parse("::/129", &p), -EINVAL);
	assert_int_equal(prefix_parse("10.0.0.0/", &p), -EINVAL);
	assert_int_equal(prefix_parse("/8", &p), -EINVAL);
	assert_int_equal(prefix_parse("10.0.0/8", &p), -EINVAL);
	assert_int_equal(prefix_parse("10.0.0.0/8/8", &p), -EINVAL);
	assert_int_equal(prefix_parse("10.0.0.0/-1", &p), -EINVAL);
	assert_int_equal(prefix_parse("fd00::5", &p), 0);
	prefix_format(&p, true, buf);
	assert_string_equal(buf, "fd00::5");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_contract_example_parses_into_the_model),
		cmocka_unit_test(test_contract_example_as_json_parses_into_the_same_model),
		cmocka_unit_test(test_json_on_one_line_with_tabs_parses),
		cmocka_unit_test(test_omitted_fields_take_their_defaults),
		cmocka_unit_test(test_protocols_by_name_and_number),
		cmocka_unit_test(test_port_ranges),
		cmocka_unit_test(test_prefixes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
