// SPDX-License-Identifier: Apache-2.0
/*
 * Model <-> iofence.v1.PolicyDocument: lossless round trips, explicit fields, and the same
 * checks for a document received as a message as for one read from YAML.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "policy/parse.h"
#include "policy/pb.h"
#include "policy/write.h"

/* model -> message -> wire -> message -> model */
static struct policy_document *through_the_wire(const struct policy_document *doc)
{
	Iofence__V1__PolicyDocument *msg = NULL, *back;
	struct policy_errors errs = {0};
	struct policy_document *out = NULL;
	uint8_t *wire;
	size_t len;

	assert_int_equal(policy_to_pb(doc, &msg), 0);
	len = iofence__v1__policy_document__get_packed_size(msg);
	wire = malloc(len ? len : 1);
	assert_non_null(wire);
	assert_int_equal(iofence__v1__policy_document__pack(msg, wire), len);
	back = iofence__v1__policy_document__unpack(NULL, len, wire);
	assert_non_null(back);
	assert_int_equal(policy_from_pb(back, "<grpc>", &out, &errs), 0);
	assert_int_equal(errs.n, 0);
	iofence__v1__policy_document__free_unpacked(back, NULL);
	policy_pb_free(msg);
	free(wire);
	return out;
}

static void test_yaml_to_pb_to_model_is_equal(void **state)
{
	struct policy_document *doc = parse_data_file("contract.yaml");
	struct policy_document *back = through_the_wire(doc);

	assert_true(policy_document_equal(doc, back));
	assert_int_equal(back->groups[0].rules[1].group_index, 1);
	assert_int_equal(back->endpoints[1].group_index[0], 1);
	assert_int_equal(back->groups[0].rules[0].line, 0);
	policy_document_free(doc);
	policy_document_free(back);
}

static void test_rule_names_cross_the_wire(void **state)
{
	struct policy_document *doc = parse_ok("securityGroups: [{name: g, rules: ["
					       "{name: dns, direction: egress}, {direction: egress}]}]\n");
	struct policy_document *back = through_the_wire(doc);

	assert_true(policy_document_equal(doc, back));
	assert_string_equal(back->groups[0].rules[0].name, "dns");
	assert_null(back->groups[0].rules[1].name);
	policy_document_free(doc);
	policy_document_free(back);
}

static void test_pb_fields_are_explicit(void **state)
{
	struct policy_document *doc = parse_data_file("contract.yaml");
	Iofence__V1__PolicyDocument *m = NULL;
	Iofence__V1__Rule *r;
	Iofence__V1__Endpoint *ep;

	assert_int_equal(policy_to_pb(doc, &m), 0);
	assert_int_equal(m->revision, 7);
	assert_true(m->has_revision);
	assert_int_equal(m->defaults->ingress, IOFENCE__V1__ACTION__ACTION_DENY);
	assert_int_equal(m->defaults->egress, IOFENCE__V1__ACTION__ACTION_ALLOW);
	assert_int_equal(m->defaults->mode, IOFENCE__V1__MODE__MODE_ENFORCE);
	assert_int_equal(m->n_security_groups, 2);
	r = m->security_groups[0]->rules[0];
	assert_int_equal(r->direction, IOFENCE__V1__DIRECTION__DIRECTION_INGRESS);
	assert_int_equal(r->action, IOFENCE__V1__ACTION__ACTION_ALLOW);
	assert_true(r->has_priority);
	assert_int_equal(r->priority, 100);
	assert_int_equal(r->protocol, 6);
	assert_int_equal(r->n_ports, 2);
	assert_int_equal(r->ports[1]->lo, 8000);
	assert_int_equal(r->ports[1]->hi, 8080);
	assert_string_equal(r->cidr, "10.20.0.0/16");
	assert_string_equal(r->group, "");
	assert_int_equal(r->line, 9);
	r = m->security_groups[0]->rules[1];
	assert_int_equal(r->priority, 1000);
	assert_string_equal(r->cidr, "");
	assert_string_equal(r->group, "lb");
	ep = m->endpoints[0];
	assert_string_equal(ep->name, "web-1");
	assert_int_equal(ep->n_addresses, 2);
	assert_string_equal(ep->addresses[0], "10.20.1.5");
	assert_string_equal(ep->addresses[1], "fd00:20::5");
	assert_int_equal(ep->ingress, IOFENCE__V1__ACTION__ACTION_DENY);
	assert_int_equal(ep->egress, IOFENCE__V1__ACTION__ACTION_UNSPECIFIED);
	assert_int_equal(ep->mode, IOFENCE__V1__MODE__MODE_AUDIT);
	assert_string_equal(m->endpoints[1]->cgroup, "");
	assert_string_equal(m->prefilter[0]->deny[1], "2001:db8:bad::/48");
	policy_pb_free(m);
	policy_pb_free(NULL);
	policy_document_free(doc);
}

/* A hand-built message: unset proto3 fields mean the YAML defaults. */
static void test_unset_message_fields_mean_defaults(void **state)
{
	Iofence__V1__PortRange port = IOFENCE__V1__PORT_RANGE__INIT;
	Iofence__V1__PortRange *ports[] = {&port};
	Iofence__V1__Rule rule = IOFENCE__V1__RULE__INIT;
	Iofence__V1__Rule *rules[] = {&rule};
	Iofence__V1__SecurityGroup grp = IOFENCE__V1__SECURITY_GROUP__INIT;
	Iofence__V1__SecurityGroup *groups[] = {&grp};
	Iofence__V1__Endpoint ep = IOFENCE__V1__ENDPOINT__INIT;
	Iofence__V1__Endpoint *eps[] = {&ep};
	char *addrs[] = {"10.0.0.1"}, *names[] = {"g"};
	Iofence__V1__PolicyDocument msg = IOFENCE__V1__POLICY_DOCUMENT__INIT;
	struct policy_errors errs = {0};
	struct policy_document *doc;

	port.lo = 22;
	rule.direction = IOFENCE__V1__DIRECTION__DIRECTION_INGRESS;
	rule.protocol = POLICY_PROTO_TCP;
	rule.n_ports = 1;
	rule.ports = ports;
	grp.name = "g";
	grp.n_rules = 1;
	grp.rules = rules;
	ep.name = "e";
	ep.node = "n";
	ep.cgroup = "/sys/fs/cgroup/e";
	ep.n_addresses = 1;
	ep.addresses = addrs;
	ep.n_groups = 1;
	ep.groups = names;
	msg.n_security_groups = 1;
	msg.security_groups = groups;
	msg.n_endpoints = 1;
	msg.endpoints = eps;

	assert_int_equal(policy_from_pb(&msg, "<grpc>", &doc, &errs), 0);
	assert_false(doc->has_revision);
	policy_document_free(doc);
	msg.revision = 7; /* found by fuzz_parse: has_revision left false */
	assert_int_equal(policy_from_pb(&msg, "<grpc>", &doc, &errs), 0);
	assert_true(doc->has_revision);
	assert_int_equal(doc->revision, 7);
	assert_int_equal(doc->defaults.ingress, POLICY_DENY);
	assert_int_equal(doc->defaults.egress, POLICY_ALLOW);
	assert_int_equal(doc->defaults.mode, POLICY_ENFORCE);
	assert_int_equal(doc->groups[0].rules[0].action, POLICY_ALLOW);
	assert_int_equal(doc->groups[0].rules[0].priority, 1000);
	assert_int_equal(doc->groups[0].rules[0].ports[0].lo, 22);
	assert_int_equal(doc->groups[0].rules[0].ports[0].hi, 22);
	assert_int_equal(doc->groups[0].rules[0].remote_kind, POLICY_REMOTE_ANY);
	assert_null(doc->endpoints[0].interface);
	assert_int_equal(doc->endpoints[0].ingress, POLICY_INHERIT);
	assert_int_equal(doc->endpoints[0].mode, POLICY_INHERIT);
	policy_document_free(doc);
}

static void test_message_gets_the_same_checks_as_yaml(void **state)
{
	Iofence__V1__PortRange p0 = IOFENCE__V1__PORT_RANGE__INIT, p1 = p0, p2 = p0;
	Iofence__V1__PortRange *ports[] = {&p0, &p1, &p2};
	Iofence__V1__Rule r0 = IOFENCE__V1__RULE__INIT, r1 = r0;
	Iofence__V1__Rule *rules[] = {&r0, &r1};
	Iofence__V1__SecurityGroup grp = IOFENCE__V1__SECURITY_GROUP__INIT;
	Iofence__V1__SecurityGroup *groups[] = {&grp};
	Iofence__V1__Endpoint e0 = IOFENCE__V1__ENDPOINT__INIT, e1 = e0;
	Iofence__V1__Endpoint *eps[] = {&e0, &e1};
	Iofence__V1__Defaults defaults = IOFENCE__V1__DEFAULTS__INIT;
	char *a0[] = {"10.0.0.1", "224.0.0.1", "10.0.0.0/8"}, *a1[] = {"10.0.0.1"};
	char *g0[] = {"web", "nope", ""};
	Iofence__V1__PolicyDocument msg = IOFENCE__V1__POLICY_DOCUMENT__INIT;
	struct policy_errors errs = {0};
	struct policy_document *doc = (void *)1;
	char *text;

	defaults.mode = 7;
	p0.lo = 0;
	p1.lo = 90, p1.hi = 80;
	p2.lo = 1, p2.hi = 70000;
	r0.protocol = POLICY_PROTO_TCP;
	r0.n_ports = 3;
	/* r0.direction left unset: refused */
	r0.ports = ports;
	r0.cidr = "10.1.0.0/8";
	r0.has_priority = true;
	r0.priority = 70000;
	r1.direction = 5;
	r1.action = 9;
	r1.protocol = 300;
	r1.group = "db";
	grp.name = "web";
	grp.n_rules = 2;
	grp.rules = rules;
	e0.name = e1.name = "e";
	e0.node = e1.node = "n";
	e0.interface = "veth0";
	e1.interface = "a:b";
	e0.n_addresses = 3;
	e0.addresses = a0;
	e1.n_addresses = 1;
	e1.addresses = a1;
	e0.n_groups = 3;
	e0.groups = g0;
	msg.defaults = &defaults;
	msg.n_security_groups = 1;
	msg.security_groups = groups;
	msg.n_endpoints = 2;
	msg.endpoints = eps;

	assert_int_equal(policy_from_pb(&msg, "<grpc>", &doc, &errs), -EINVAL);
	assert_null(doc);
	text = errors_text(&errs);
	assert_string_equal(
		text,
		"<grpc>:0: defaults.mode: 7 is not one of enforce | audit\n"
		"<grpc>:0: securityGroups[0].rules[0]: direction is required (ingress | egress)\n"
		"<grpc>:0: securityGroups[0].rules[0].priority: 70000 is out of range 0..65535\n"
		"<grpc>:0: securityGroups[0].rules[0].ports[0]: \"0\" is not a port (1..65535) or "
		"range (\"lo-hi\")\n"
		"<grpc>:0: securityGroups[0].rules[0].ports[1]: port range \"90-80\" is reversed "
		"(low > high)\n"
		"<grpc>:0: securityGroups[0].rules[0].ports[2]: \"1-70000\" is not a port (1..65535) "
		"or range (\"lo-hi\")\n"
		"<grpc>:0: securityGroups[0].rules[0].cidr: \"10.1.0.0/8\" has host bits set; did "
		"you mean 10.0.0.0/8?\n"
		"<grpc>:0: securityGroups[0].rules[1].direction: 5 is not one of ingress | egress\n"
		"<grpc>:0: securityGroups[0].rules[1].action: 9 is not one of allow | deny\n"
		"<grpc>:0: securityGroups[0].rules[1].protocol: \"300\" is not a protocol (tcp | udp "
		"| sctp | icmp | icmpv6 | any | 0..255)\n"
		"<grpc>:0: endpoints[0].addresses[1]: 224.0.0.1: multicast address is not a unicast "
		"address\n"
		"<grpc>:0: endpoints[0].addresses[2]: 10.0.0.0/8: must be a host address, not a "
		"prefix\n"
		"<grpc>:0: endpoints[0].groups[2]: must not be empty\n"
		"<grpc>:0: endpoints[1].name: duplicate name \"e\" (first defined at line 0)\n"
		"<grpc>:0: securityGroups[0].rules[1].group: unknown security group \"db\"\n"
		"<grpc>:0: endpoints[0].groups[1]: unknown security group \"nope\"\n"
		"<grpc>:0: endpoints[1].interface: interface \"a:b\" is not a valid interface name "
		"(1..15 characters, no '/', ':' or spaces)\n"
		"<grpc>:0: endpoints[1].addresses[0]: address 10.0.0.1 is already an address of "
		"endpoint \"e\"");
	free(text);
	policy_errors_free(&errs);
}

static void test_message_strings_must_be_utf8(void **state)
{
	Iofence__V1__Endpoint ep = IOFENCE__V1__ENDPOINT__INIT;
	Iofence__V1__Endpoint *eps[] = {&ep};
	Iofence__V1__PolicyDocument msg = IOFENCE__V1__POLICY_DOCUMENT__INIT;
	struct policy_errors errs = {0};
	struct policy_document *doc;
	char *text;

	ep.name = "caf\xe9";
	ep.node = "n";
	ep.interface = "veth0";
	msg.n_endpoints = 1;
	msg.endpoints = eps;
	assert_int_equal(policy_from_pb(&msg, "<grpc>", &doc, &errs), -EINVAL);
	text = errors_text(&errs);
	assert_string_equal(text, "<grpc>:0: endpoints[0].name: not valid UTF-8\n"
				  "<grpc>:0: endpoints[0]: name is required");
	free(text);
	policy_errors_free(&errs);
}

/* The read budget reaches policy_from_pb(): a passed deadline stops it, naming the list. */
static void test_a_passed_deadline_stops_the_message_read(void **state)
{
	Iofence__V1__PolicyDocument msg = IOFENCE__V1__POLICY_DOCUMENT__INIT;
	Iofence__V1__SecurityGroup grp = IOFENCE__V1__SECURITY_GROUP__INIT;
	Iofence__V1__SecurityGroup *grps[] = {&grp};
	Iofence__V1__Rule rule = IOFENCE__V1__RULE__INIT;
	Iofence__V1__Rule *rules[5000];
	struct policy_errors errs = {0};
	struct policy_document *doc = NULL;

	(void)state;
	rule.direction = IOFENCE__V1__DIRECTION__DIRECTION_INGRESS;
	for (size_t i = 0; i < 5000; i++)
		rules[i] = &rule;
	grp.name = "g";
	grp.n_rules = 5000;
	grp.rules = rules;
	msg.n_security_groups = 1;
	msg.security_groups = grps;
	assert_int_equal(policy_from_pb_until(&msg, "<grpc>", &(struct policy_parse_stop){
						  .deadline_usec = 1},
					      &doc, &errs),
			 -ETIME);
	assert_null(doc);
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.items[0].field, "securityGroups[0].rules");
	assert_string_equal(errs.items[0].message,
			    "not read within the time allowed: stopped here, item 1024");
	policy_errors_free(&errs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yaml_to_pb_to_model_is_equal),
		cmocka_unit_test(test_pb_fields_are_explicit),
		cmocka_unit_test(test_rule_names_cross_the_wire),
		cmocka_unit_test(test_unset_message_fields_mean_defaults),
		cmocka_unit_test(test_message_gets_the_same_checks_as_yaml),
		cmocka_unit_test(test_message_strings_must_be_utf8),
		cmocka_unit_test(test_a_passed_deadline_stops_the_message_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
