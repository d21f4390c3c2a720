// SPDX-License-Identifier: Apache-2.0
/*
 * Tracing flows with the reference evaluator: which ends are judged, the deciding rule or
 * default, every matching rule with why it lost, and the refusals of untraceable flows.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "policy/trace.h"

static const char doc_text[] =
	"defaults: {ingress: deny, egress: allow}\n"
	"securityGroups:\n"
	"  - name: web\n"
	"    rules:\n"
	"      - {name: http, direction: ingress, protocol: tcp, ports: [80], group: lb}\n"
	"      - {direction: ingress, action: deny, priority: 1000, protocol: tcp, ports: [80]}\n"
	"      - {direction: ingress, priority: 5000, protocol: tcp, cidr: 10.0.0.0/8}\n"
	"      - {direction: ingress, protocol: tcp, ports: [80], group: lb}\n"
	"  - name: lb\n"
	"    rules:\n"
	"      - {direction: egress, action: deny, priority: 10, protocol: udp}\n"
	"endpoints:\n"
	"  - {name: web-1, node: a, interface: v1, addresses: [10.1.0.1, \"fd00::1\"],"
	" groups: [web]}\n"
	"  - {name: lb-1, node: b, interface: v2, addresses: [10.1.0.2, \"fd00::2\"],"
	" groups: [lb], mode: audit}\n";

static void test_deny_beats_allow_and_every_loser_says_why(void **state)
{
	struct policy_document *doc = parse_ok(doc_text);
	struct policy_trace t;
	char err[256] = "";
	const struct policy_trace_side *in;

	assert_int_equal(policy_trace(doc, "lb-1", "web-1", 6, 80, &t, err, sizeof(err)), 0);
	assert_int_equal(t.n_sides, 2);
	assert_int_equal(t.from.family, 4);
	/* the sender's egress: no lb rule matches tcp, the default allows */
	assert_int_equal(t.sides[0].pkt.direction, POLICY_EGRESS);
	assert_null(t.sides[0].verdict.rule);
	assert_int_equal(t.sides[0].verdict.action, POLICY_ALLOW);
	assert_int_equal(t.sides[0].n_matches, 0);
	in = &t.sides[1];
	assert_int_equal(in->pkt.direction, POLICY_INGRESS);
	assert_int_equal(in->verdict.action, POLICY_DENY);
	assert_int_equal(in->verdict.rule_index, 1);
	assert_int_equal(in->n_matches, 4);
	assert_string_equal(in->matches[0].why_lost,
			    "deny (web[1]) beats allow at equal priority 1000");
	assert_true(in->matches[1].decides);
	assert_string_equal(in->matches[1].why_lost, "");
	assert_string_equal(in->matches[2].why_lost,
			    "priority 5000 is above web[1]'s 1000 (the lowest wins)");
	assert_string_equal(in->matches[3].why_lost,
			    "deny (web[1]) beats allow at equal priority 1000");
	policy_trace_free(&t);
	policy_document_free(doc);
}

static void test_same_priority_and_action_the_first_decides(void **state)
{
	struct policy_document *doc = parse_ok(doc_text);
	struct policy_trace t;
	char err[256];

	/* without the deny rule, web/http and web[3] tie: the first in document order decides */
	doc->groups[0].rules[1].action = POLICY_ALLOW;
	assert_int_equal(policy_trace(doc, "10.1.0.2", "10.1.0.1", 6, 80, &t, err, sizeof(err)),
			 0);
	assert_int_equal(t.sides[1].verdict.rule_index, 0);
	assert_true(t.sides[1].matches[0].decides);
	assert_string_equal(t.sides[1].matches[1].why_lost,
			    "same priority and action as web/http, which comes first");
	policy_trace_free(&t);
	policy_document_free(doc);
}

static void test_an_outside_address_is_judged_at_the_endpoint_only(void **state)
{
	struct policy_document *doc = parse_ok(doc_text);
	struct policy_trace t;
	char err[256];

	assert_int_equal(policy_trace(doc, "web-1", "fd00::99", 17, 53, &t, err, sizeof(err)), 0);
	assert_int_equal(t.n_sides, 1);
	assert_int_equal(t.from.family, 6);
	assert_int_equal(t.to_endpoint, -1);
	assert_int_equal(t.sides[0].verdict.action, POLICY_ALLOW);
	policy_trace_free(&t);
	/* audit mode is reported with the deny */
	assert_int_equal(policy_trace(doc, "lb-1", "192.0.2.1", 17, 53, &t, err, sizeof(err)), 0);
	assert_int_equal(t.sides[0].verdict.action, POLICY_DENY);
	assert_true(t.sides[0].verdict.audit);
	policy_trace_free(&t);
	policy_document_free(doc);
}

static void test_untraceable_flows_are_refused_with_a_reason(void **state)
{
	struct policy_document *doc = parse_ok(doc_text);
	struct policy_trace t;
	char err[256];

	assert_int_equal(policy_trace(doc, "nosuch", "web-1", 6, 80, &t, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err,
			    "\"nosuch\" is neither a host address nor an endpoint of the document");
	assert_int_equal(policy_trace(doc, "192.0.2.1", "192.0.2.2", 6, 80, &t, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(
	    err, "neither 192.0.2.1 nor 192.0.2.2 is an endpoint's address: no endpoint judges "
		 "this flow");
	assert_int_equal(policy_trace(doc, "10.1.0.1", "fd00::2", 6, 80, &t, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "fd00::2 and the other end are of different families");
	policy_document_free(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deny_beats_allow_and_every_loser_says_why),
		cmocka_unit_test(test_same_priority_and_action_the_first_decides),
		cmocka_unit_test(test_an_outside_address_is_judged_at_the_endpoint_only),
		cmocka_unit_test(test_untraceable_flows_are_refused_with_a_reason),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
