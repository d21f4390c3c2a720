// SPDX-License-Identifier: Apache-2.0
/*
 * Documents derived by endpoint changes (policy/derive.h): equal to the final document read
 * whole, groups shared rather than copied (either document may be freed first), endpoint
 * errors refused with their place.
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

	(void)state;
	assert_int_equal(policy_derive_endpoints(base, changes, 4, by_name, "<t>", &derived, &errs),
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
	derived->groups = whole->groups; /* the groups are the base's: compared apart */
	assert_true(policy_document_equal(derived, whole));
	derived->groups = base->groups;
	assert_ptr_equal(derived->groups, base->groups);
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
	assert_int_equal(policy_derive_endpoints(base, c1, 2, NULL, "<t>", &derived, &errs),
			 -EINVAL);
	assert_null(derived);
	text = errors_text(&errs);
	assert_non_null(strstr(text, "endpoints[3].addresses[0]"));
	assert_non_null(strstr(text, "10.0.0.1 is already an address of endpoint \"a\""));
	assert_non_null(strstr(text, "endpoints[4].groups[0]"));
	free(text);
	policy_errors_free(&errs);
	assert_int_equal(policy_derive_endpoints(base, c2, 1, NULL, "<t>", &derived, &errs),
			 -EINVAL);
	text = errors_text(&errs);
	assert_non_null(strstr(text, "name \"f\" where \"g\" was expected"));
	free(text);
	policy_errors_free(&errs);
	policy_document_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_derived_document_equals_the_final_document_read_whole),
	    cmocka_unit_test(test_endpoint_errors_are_refused_with_their_place),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
