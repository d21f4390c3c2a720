// SPDX-License-Identifier: Apache-2.0
/*
 * Documents derived by endpoint and group changes (policy/derive.h): equal to the final
 * document read whole, unchanged groups shared rather than copied (any document of a chain
 * may be freed first), errors refused with their place.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers.h"
#include "policy/derive.h"
#include "policy/pb.h"
#include "policy/write.h"

static const char base_yaml[] =
    "securityGroups:\n"
    "  - name: web\n"
    "    rules: [{direction: ingress, protocol: tcp, ports: [80], group: lb}]\n"
    "  - name: lb\n"
    "    rules: []\n"
    "endpoints:\n"
    "  - {name: a, node: n1, interface: va, addresses: [10.0.0.1], groups: [web]}\n"
    "  - {name: b, node: n2, interface: vb, addresses: [10.0.0.2], groups: [lb]}\n"
    "  - {name: c, node: n3, interface: vc, addresses: [10.0.0.3], groups: [lb]}\n";

static int by_name(const struct policy_endpoint *a, const struct policy_endpoint *b)
{
	return strcmp(a->name, b->name);
}

static int derive_endpoints(struct policy_document *base,
			    const struct policy_endpoint_change *changes, size_t n,
			    policy_endpoint_order order, struct policy_document **ret,
			    struct policy_errors *errs)
{
	struct policy_changes ch = {.endpoints = changes, .n_endpoints = n, .order = order};

	return policy_derive(base, &ch, "<t>", ret, errs);
}

static Iofence__V1__Endpoint endpoint(const char *name, const char *node, char **addr,
				      char **group)
{
	Iofence__V1__Endpoint m = IOFENCE__V1__ENDPOINT__INIT;

	m.name = (char *)name;
	m.node = (char *)node;
	m.interface = (char *)"vx";
	m.addresses = addr;
	m.n_addresses = 1;
	m.groups = group;
	m.n_groups = 1;
	return m;
}

static void test_derived_document_equals_the_final_document_read_whole(void **state)
{
	struct policy_document *base = parse_ok(base_yaml), *derived = NULL, *whole;
	char *addr_b[] = {(char *)"10.0.0.12"}, *addr_bb[] = {(char *)"10.0.0.9"};
	char *web[] = {(char *)"web"}, *lb[] = {(char *)"lb"};
	Iofence__V1__Endpoint b = endpoint("b", "n2", addr_b, web);
	Iofence__V1__Endpoint bb = endpoint("bb", "n4", addr_bb, lb);
	struct policy_endpoint_change changes[] = {{"c", NULL}, {"bb", &bb}, {"b", &b}, {"x", NULL}};
	struct policy_errors errs = {0};
	struct policy_group *saved;

	(void)state;
	assert_int_equal(derive_endpoints(base, changes, 4, by_name, &derived, &errs),
			 0);
	whole = parse_ok("securityGroups:\n"
			 "  - name: web\n"
			 "    rules: [{direction: ingress, protocol: tcp, ports: [80], group: lb}]\n"
			 "  - name: lb\n"
			 "    rules: []\n"
			 "endpoints:\n"
			 "  - {name: a, node: n1, interface: va, addresses: [10.0.0.1], groups: [web]}\n"
			 "  - {name: b, node: n2, interface: vx, addresses: [10.0.0.12], groups: "
			 "[web]}\n"
			 "  - {name: bb, node: n4, interface: vx, addresses: [10.0.0.9], groups: "
			 "[lb]}\n");
	/* line numbers differ (the parsed base has them): compare what they mean */
	for (size_t e = 0; e < whole->n_endpoints; e++)
		whole->endpoints[e].line = whole->endpoints[e].groups_line = 0;
	for (size_t e = 0; e < derived->n_endpoints; e++)
		derived->endpoints[e].line = derived->endpoints[e].groups_line = 0;
	/* the groups' rules are the base's (shared, not copied): compared apart */
	assert_ptr_equal(derived->groups[0].rules, base->groups[0].rules);
	saved = derived->groups;
	derived->groups = whole->groups;
	assert_true(policy_document_equal(derived, whole));
	derived->groups = saved;
	assert_int_equal(derived->endpoints[1].group_index[0], 0);
	/* the base goes first: the derived document keeps the groups alive */
	policy_document_free(base);
	assert_string_equal(derived->groups[0].rules[0].group, "lb");
	policy_document_free(derived);
	policy_document_free(whole);
}

static void test_endpoint_errors_are_refused_with_their_place(void **state)
{
	struct policy_document *base = parse_ok(base_yaml), *derived = (void *)1;
	char *taken[] = {(char *)"10.0.0.1"}, *nogroup[] = {(char *)"db"};
	char *addr[] = {(char *)"10.0.0.7"}, *lb[] = {(char *)"lb"};
	Iofence__V1__Endpoint dup = endpoint("d", "n2", taken, lb);
	Iofence__V1__Endpoint unknown = endpoint("e", "n2", addr, nogroup);
	Iofence__V1__Endpoint misnamed = endpoint("f", "n2", addr, lb);
	struct policy_endpoint_change c1[] = {{"d", &dup}, {"e", &unknown}};
	struct policy_endpoint_change c2[] = {{"g", &misnamed}};
	struct policy_errors errs = {0};
	char *text;

	(void)state;
	assert_int_equal(derive_endpoints(base, c1, 2, NULL, &derived, &errs),
			 -EINVAL);
	assert_null(derived);
	text = errors_text(&errs);
	assert_non_null(strstr(text, "endpoints[3].addresses[0]"));
	assert_non_null(strstr(text, "10.0.0.1 is already an address of endpoint \"a\""));
	assert_non_null(strstr(text, "endpoints[4].groups[0]"));
	free(text);
	policy_errors_free(&errs);
	assert_int_equal(derive_endpoints(base, c2, 1, NULL, &derived, &errs),
			 -EINVAL);
	text = errors_text(&errs);
	assert_non_null(strstr(text, "name \"f\" where \"g\" was expected"));
	free(text);
	policy_errors_free(&errs);
	policy_document_free(base);
}

/* A document read from its message, as the agent reads the datastore's (no line numbers). */
static struct policy_document *from_message(const char *yaml, Iofence__V1__PolicyDocument **ret_pb)
{
	struct policy_document *parsed = parse_ok(yaml), *doc = NULL;
	Iofence__V1__PolicyDocument *pb = NULL;
	struct policy_errors errs = {0};

	assert_int_equal(policy_to_pb(parsed, &pb), 0);
	assert_int_equal(policy_from_pb(pb, "<t>", &doc, &errs), 0);
	policy_document_free(parsed);
	if (ret_pb)
		*ret_pb = pb;
	else
		policy_pb_free(pb);
	return doc;
}

static const char web_then_db_yaml[] =
    "securityGroups:\n"
    "  - name: web\n"
    "    rules: [{direction: ingress, protocol: tcp, ports: [443], group: lb, name: tls}]\n"
    "  - name: lb\n"
    "    rules: [{direction: egress, protocol: udp, ports: [53], cidr: 10.9.0.0/16},\n"
    "            {direction: ingress, action: deny, priority: 5, group: web}]\n"
    "endpoints:\n"
    "  - {name: a, node: n1, interface: va, addresses: [10.0.0.1], groups: [web]}\n"
    "  - {name: b, node: n2, interface: vb, addresses: [10.0.0.2], groups: [lb]}\n"
    "  - {name: c, node: n3, interface: vc, addresses: [10.0.0.3], groups: [lb]}\n";

static void test_group_changes_equal_the_final_document_read_whole(void **state)
{
	Iofence__V1__PolicyDocument *final_pb = NULL;
	struct policy_document *base = from_message(base_yaml, NULL);
	struct policy_document *whole = from_message(web_then_db_yaml, &final_pb);
	struct policy_document *one = NULL, *two = NULL;
	struct policy_group_change lb[] = {{"lb", final_pb->security_groups[1]}};
	struct policy_group_change web[] = {{"web", final_pb->security_groups[0]}};
	struct policy_changes ch1 = {.groups = lb, .n_groups = 1};
	struct policy_changes ch2 = {.groups = web, .n_groups = 1};
	struct policy_errors errs = {0};

	(void)state;
	assert_int_equal(policy_derive(base, &ch1, "<t>", &one, &errs), 0);
	assert_ptr_equal(one->groups[0].rules, base->groups[0].rules); /* web: shared */
	assert_ptr_not_equal(one->groups[1].rules, base->groups[1].rules);
	/* the second change builds on the first; any document of the chain may go first */
	assert_int_equal(policy_derive(one, &ch2, "<t>", &two, &errs), 0);
	policy_document_free(base);
	assert_ptr_equal(two->groups[1].rules, one->groups[1].rules); /* lb: shared */
	policy_document_free(one);
	assert_true(policy_document_equal(two, whole));
	/* the changed rules name their remote groups by index, as a whole read does */
	assert_int_equal(two->groups[1].rules[1].group_index, 0);
	assert_int_equal(two->groups[0].rules[0].group_index, 1);
	policy_document_free(two);
	policy_document_free(whole);
	policy_pb_free(final_pb);
}

static void test_group_errors_are_refused_with_their_place(void **state)
{
	struct policy_document *base = from_message(base_yaml, NULL), *derived = (void *)1;
	Iofence__V1__Rule rule = IOFENCE__V1__RULE__INIT, *rules[] = {&rule};
	Iofence__V1__SecurityGroup grp = IOFENCE__V1__SECURITY_GROUP__INIT;
	struct policy_group_change unknown_ref[] = {{"lb", &grp}};
	struct policy_group_change added[] = {{"db", &grp}};
	struct policy_changes ch = {.groups = unknown_ref, .n_groups = 1};
	struct policy_errors errs = {0};
	char *text;

	(void)state;
	rule.direction = IOFENCE__V1__DIRECTION__DIRECTION_INGRESS;
	rule.group = (char *)"wbe";
	grp.name = (char *)"lb";
	grp.rules = rules;
	grp.n_rules = 1;
	assert_int_equal(policy_derive(base, &ch, "<etcd>", &derived, &errs), -EINVAL);
	assert_null(derived);
	text = errors_text(&errs);
	assert_non_null(strstr(text, "securityGroups[1].rules[0].group"));
	assert_non_null(strstr(text, "unknown security group \"wbe\"; did you mean web?"));
	free(text);
	policy_errors_free(&errs);
	/* a group the base does not have: the document must be read whole */
	grp.name = (char *)"db";
	rule.group = (char *)"web";
	ch.groups = added;
	assert_int_equal(policy_derive(base, &ch, "<etcd>", &derived, &errs), -EINVAL);
	text = errors_text(&errs);
	assert_non_null(strstr(text, "group \"db\" is not in revision"));
	free(text);
	policy_errors_free(&errs);
	/* a value whose name is not its key's */
	ch.groups = unknown_ref;
	assert_int_equal(policy_derive(base, &ch, "<etcd>", &derived, &errs), -EINVAL);
	text = errors_text(&errs);
	assert_non_null(strstr(text, "name \"db\" where \"lb\" was expected"));
	free(text);
	policy_errors_free(&errs);
	policy_document_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_derived_document_equals_the_final_document_read_whole),
	    cmocka_unit_test(test_endpoint_errors_are_refused_with_their_place),
	    cmocka_unit_test(test_group_changes_equal_the_final_document_read_whole),
	    cmocka_unit_test(test_group_errors_are_refused_with_their_place),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
