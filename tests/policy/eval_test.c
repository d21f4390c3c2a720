// SPDX-License-Identifier: Apache-2.0
/*
 * The reference evaluator on hand-written cases: each test a small document and a table of
 * {description, packet, expected action, expected deciding rule}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "policy/eval.h"

#define DEFAULT_RULE (-1) /* the endpoint default decided */

struct eval_case {
	const char *what;
	const char *endpoint;
	enum policy_direction dir;
	const char *remote;
	uint8_t proto;
	uint16_t dport;
	enum policy_action action;
	int group, rule; /* deciding rule, or DEFAULT_RULE */
	bool audit;
};

static const struct policy_endpoint *find_endpoint(const struct policy_document *doc,
						   const char *name)
{
	for (size_t e = 0; e < doc->n_endpoints; e++)
		if (strcmp(doc->endpoints[e].name, name) == 0)
			return &doc->endpoints[e];
	fail_msg("no endpoint %s", name);
	return NULL;
}

static void run_cases(const char *yaml, const struct eval_case *cases, size_t n)
{
	struct policy_document *doc = parse_ok(yaml);

	for (size_t i = 0; i < n; i++) {
		const struct eval_case *c = &cases[i];
		struct policy_packet pkt = {.direction = c->dir,
					    .remote = addr(c->remote),
					    .proto = c->proto,
					    .dport = c->dport};
		struct policy_verdict v;

		memset(&v, 0xaa, sizeof(v));
		policy_evaluate(doc, find_endpoint(doc, c->endpoint), &pkt, &v);
		if (v.action != c->action || v.audit != c->audit ||
		    (c->group == DEFAULT_RULE) != (v.rule == NULL) ||
		    (v.rule && (v.group_index != (size_t)c->group ||
				v.rule_index != (size_t)c->rule)))
			fail_msg("case \"%s\": got action %d audit %d rule %s [%zu][%zu]", c->what,
				 v.action, v.audit, v.rule ? "set" : "NULL",
				 v.rule ? v.group_index : 0, v.rule ? v.rule_index : 0);
		if (v.rule)
			assert_ptr_equal(v.rule, &doc->groups[v.group_index].rules[v.rule_index]);
	}
	policy_document_free(doc);
}

#define RUN(yaml, cases) run_cases(yaml, cases, sizeof(cases) / sizeof(cases[0]))
#define IN POLICY_INGRESS
#define OUT POLICY_EGRESS
#define ALLOW POLICY_ALLOW
#define DENY POLICY_DENY

static void test_lowest_priority_wins(void **state)
{
	static const struct eval_case cases[] = {
		{"priority 10 deny beats 100 allow", "e", IN, "10.0.0.9", 6, 22, DENY, 0, 1},
		{"only the allow matches", "e", IN, "10.1.0.9", 6, 22, ALLOW, 0, 0},
		{"priority 0 beats everything", "e", IN, "10.0.0.1", 6, 22, ALLOW, 0, 2},
	};
	RUN("securityGroups:\n"
	    "  - name: g\n"
	    "    rules:\n"
	    "      - {direction: ingress, priority: 100, cidr: 10.0.0.0/8}\n"
	    "      - {direction: ingress, action: deny, priority: 10, cidr: 10.0.0.0/16}\n"
	    "      - {direction: ingress, priority: 0, cidr: 10.0.0.1/32}\n"
	    "endpoints: [{name: e, node: n, interface: i, groups: [g]}]\n",
	    cases);
}

static void test_deny_beats_allow_at_equal_priority(void **state)
{
	static const struct eval_case cases[] = {
		{"deny in the second group wins", "e", IN, "10.0.0.9", 6, 80, DENY, 1, 0},
		{"first of two equal allows decides", "e", OUT, "10.0.0.9", 17, 53, ALLOW, 0, 1},
	};
	RUN("securityGroups:\n"
	    "  - name: a\n"
	    "    rules:\n"
	    "      - {direction: ingress, priority: 50}\n"
	    "      - {direction: egress, priority: 50}\n"
	    "  - name: b\n"
	    "    rules:\n"
	    "      - {direction: ingress, action: deny, priority: 50}\n"
	    "      - {direction: egress, priority: 50}\n"
	    "endpoints: [{name: e, node: n, interface: i, groups: [b, a, b]}]\n",
	    cases);
}

static void test_default_per_direction_and_per_endpoint_overrides(void **state)
{
	static const struct eval_case cases[] = {
		{"ingress default deny", "plain", IN, "192.0.2.1", 6, 80, DENY, DEFAULT_RULE, 0},
		{"egress default allow", "plain", OUT, "192.0.2.1", 6, 80, ALLOW, DEFAULT_RULE, 0},
		{"ingress override allow", "open", IN, "192.0.2.1", 6, 80, ALLOW, DEFAULT_RULE, 0},
		{"egress override deny", "open", OUT, "192.0.2.1", 6, 80, DENY, DEFAULT_RULE, 0},
		{"a rule beats the override", "open", OUT, "192.0.2.1", 6, 443, ALLOW, 0, 0},
		{"no groups: defaults only", "bare", OUT, "192.0.2.1", 6, 443, ALLOW, DEFAULT_RULE,
		 0},
	};
	RUN("securityGroups:\n"
	    "  - name: g\n"
	    "    rules: [{direction: egress, protocol: tcp, ports: [443]}]\n"
	    "endpoints:\n"
	    "  - {name: plain, node: n, interface: a}\n"
	    "  - {name: open, node: n, interface: b, groups: [g], ingress: allow, egress: deny}\n"
	    "  - {name: bare, node: n, interface: c}\n",
	    cases);
}

static void test_document_defaults_apply_to_every_endpoint(void **state)
{
	static const struct eval_case cases[] = {
		{"ingress allow by default", "e", IN, "192.0.2.1", 6, 80, ALLOW, DEFAULT_RULE, 0,
		 true},
		{"egress deny by default, audited", "e", OUT, "192.0.2.1", 6, 80, DENY,
		 DEFAULT_RULE, 0, true},
		{"enforce override", "f", OUT, "192.0.2.1", 6, 80, DENY, DEFAULT_RULE, 0, false},
	};
	RUN("defaults: {ingress: allow, egress: deny, mode: audit}\n"
	    "endpoints:\n"
	    "  - {name: e, node: n, interface: a}\n"
	    "  - {name: f, node: n, interface: b, mode: enforce}\n",
	    cases);
}

static void test_audit_mode_reports_the_deny(void **state)
{
	static const struct eval_case cases[] = {
		{"audited deny by rule", "aud", IN, "10.0.0.1", 6, 22, DENY, 0, 0, true},
		{"audited allow", "aud", IN, "10.0.0.1", 6, 80, ALLOW, DEFAULT_RULE, 0, true},
		{"enforced deny", "enf", IN, "10.0.0.1", 6, 22, DENY, 0, 0, false},
	};
	RUN("defaults: {ingress: allow}\n"
	    "securityGroups:\n"
	    "  - name: g\n"
	    "    rules: [{direction: ingress, action: deny, protocol: tcp, ports: [22]}]\n"
	    "endpoints:\n"
	    "  - {name: aud, node: n, interface: a, groups: [g], mode: audit}\n"
	    "  - {name: enf, node: n, interface: b, groups: [g]}\n",
	    cases);
}

static void test_group_remote_matches_member_addresses_on_any_node(void **state)
{
	static const struct eval_case cases[] = {
		{"member on another node", "web", IN, "10.0.1.1", 6, 443, ALLOW, 0, 0},
		{"v6 address of the member", "web", IN, "fd00::11", 6, 443, ALLOW, 0, 0},
		{"second member", "web", IN, "10.0.1.2", 6, 443, ALLOW, 0, 0},
		{"not a member", "web", IN, "10.0.2.1", 6, 443, DENY, DEFAULT_RULE, 0},
		{"member, wrong port", "web", IN, "10.0.1.1", 6, 80, DENY, DEFAULT_RULE, 0},
		{"address not in any endpoint", "web", IN, "10.9.9.9", 6, 443, DENY, DEFAULT_RULE,
		 0},
	};
	RUN("securityGroups:\n"
	    "  - name: web\n"
	    "    rules: [{direction: ingress, protocol: tcp, ports: [443], group: lb}]\n"
	    "  - name: lb\n"
	    "    rules: []\n"
	    "endpoints:\n"
	    "  - {name: web, node: a, interface: w, addresses: [10.0.0.1], groups: [web]}\n"
	    "  - {name: lb1, node: b, interface: l, addresses: [10.0.1.1, \"fd00::11\"],"
	    " groups: [lb]}\n"
	    "  - {name: lb2, node: c, cgroup: /x, addresses: [10.0.1.2], groups: [web, lb]}\n"
	    "  - {name: other, node: a, interface: o, addresses: [10.0.2.1]}\n",
	    cases);
}

static void test_ipv6_cidrs_and_families(void **state)
{
	static const struct eval_case cases[] = {
		{"inside the v6 prefix", "e", OUT, "2001:db8:1::5", 17, 53, DENY, 0, 0},
		{"outside the v6 prefix", "e", OUT, "2001:db9::5", 17, 53, ALLOW, DEFAULT_RULE, 0},
		{"v4 is not in a v6 prefix", "e", OUT, "32.1.13.184", 17, 53, ALLOW, DEFAULT_RULE,
		 0},
		{"::/0 matches every v6", "e", IN, "fe80::1", 58, 0, ALLOW, 0, 1},
		{"::/0 does not match v4", "e", IN, "10.0.0.1", 58, 0, DENY, DEFAULT_RULE, 0},
		{"no remote matches both families", "e", IN, "10.0.0.1", 1, 0, ALLOW, 0, 2},
	};
	RUN("securityGroups:\n"
	    "  - name: g\n"
	    "    rules:\n"
	    "      - {direction: egress, action: deny, cidr: \"2001:db8::/32\"}\n"
	    "      - {direction: ingress, protocol: icmpv6, cidr: \"::/0\"}\n"
	    "      - {direction: ingress, protocol: icmp}\n"
	    "endpoints: [{name: e, node: n, interface: i, groups: [g]}]\n",
	    cases);
}

static void test_port_ranges_and_protocols(void **state)
{
	static const struct eval_case cases[] = {
		{"low edge", "e", IN, "10.0.0.1", 6, 8000, ALLOW, 0, 0},
		{"high edge", "e", IN, "10.0.0.1", 6, 8080, ALLOW, 0, 0},
		{"below", "e", IN, "10.0.0.1", 6, 7999, DENY, DEFAULT_RULE, 0},
		{"above", "e", IN, "10.0.0.1", 6, 8081, DENY, DEFAULT_RULE, 0},
		{"single port", "e", IN, "10.0.0.1", 6, 22, ALLOW, 0, 0},
		{"udp rule, udp packet", "e", IN, "10.0.0.1", 17, 53, ALLOW, 0, 1},
		{"udp rule, tcp packet", "e", IN, "10.0.0.1", 6, 53, DENY, DEFAULT_RULE, 0},
		{"sctp", "e", IN, "10.0.0.1", 132, 9, ALLOW, 0, 2},
		{"sctp, whole range edge", "e", IN, "10.0.0.1", 132, 65535, ALLOW, 0, 2},
		{"protocol any, no ports: gre", "e", OUT, "10.0.0.1", 47, 0, ALLOW, 0, 4},
		{"protocol number rule", "e", OUT, "10.0.0.1", 50, 0, DENY, 0, 3},
		{"protocol any matches tcp too", "e", OUT, "10.0.0.1", 6, 1, ALLOW, 0, 4},
	};
	RUN("defaults: {egress: deny}\n"
	    "securityGroups:\n"
	    "  - name: g\n"
	    "    rules:\n"
	    "      - {direction: ingress, protocol: tcp, ports: [22, 8000-8080]}\n"
	    "      - {direction: ingress, protocol: udp, ports: [53]}\n"
	    "      - {direction: ingress, protocol: sctp, ports: [1-65535]}\n"
	    "      - {direction: egress, action: deny, priority: 1, protocol: 50}\n"
	    "      - {direction: egress, protocol: any}\n"
	    "endpoints: [{name: e, node: n, interface: i, groups: [g]}]\n",
	    cases);
}

static void test_rule_matches_checks_direction(void **state)
{
	struct policy_document *doc =
		parse_ok("securityGroups: [{name: g, rules: [{direction: egress}]}]\n");
	struct policy_packet pkt = {.direction = POLICY_INGRESS, .remote = addr("10.0.0.1")};

	assert_false(policy_rule_matches(doc, &doc->groups[0].rules[0], &pkt));
	pkt.direction = POLICY_EGRESS;
	assert_true(policy_rule_matches(doc, &doc->groups[0].rules[0], &pkt));
	policy_document_free(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lowest_priority_wins),
		cmocka_unit_test(test_deny_beats_allow_at_equal_priority),
		cmocka_unit_test(test_default_per_direction_and_per_endpoint_overrides),
		cmocka_unit_test(test_document_defaults_apply_to_every_endpoint),
		cmocka_unit_test(test_audit_mode_reports_the_deny),
		cmocka_unit_test(test_group_remote_matches_member_addresses_on_any_node),
		cmocka_unit_test(test_ipv6_cidrs_and_families),
		cmocka_unit_test(test_port_ranges_and_protocols),
		cmocka_unit_test(test_rule_matches_checks_direction),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
