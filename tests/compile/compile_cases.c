// SPDX-License-Identifier: Apache-2.0
/* Hand-written compiler cases: entries as designed, port prefixes, classes, capacity. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "gen.h"
#include "policy/image.h"
#include "policy/parse.h"
#include "policy/prefix.h"

static struct policy_document *parse(const char *yaml)
{
	struct policy_document *doc = NULL;
	struct policy_errors errs = {0};

	if (policy_parse_buffer(yaml, strlen(yaml), "case.yaml", &doc, &errs)) {
		policy_errors_print(&errs, stderr);
		fail();
	}
	policy_errors_free(&errs);
	return doc;
}

static struct image_verdict judge(const struct policy_image *img, uint32_t ep, int dir,
				  const char *remote, uint8_t proto, uint16_t dport)
{
	struct image_packet pkt = {.endpoint_index = ep, .direction = dir, .proto = proto,
				   .dport = dport};
	struct image_verdict v;

	assert_int_equal(prefix_parse(remote, &pkt.remote), 0);
	assert_int_equal(policy_image_lookup(img, &pkt, &v), 0);
	return v;
}

static const char *web_policy =
	"defaults: {ingress: deny, egress: allow}\n"
	"securityGroups:\n"
	"  - name: web\n"
	"    rules:\n"
	"      - {direction: ingress, protocol: tcp, ports: [80, \"8000-8080\"], cidr: 10.20.0.0/16}\n"
	"      - {direction: ingress, protocol: tcp, ports: [443], group: lb}\n"
	"      - {direction: egress, action: deny, priority: 10, protocol: udp, ports: [53]}\n"
	"  - name: lb\n"
	"    rules: []\n"
	"endpoints:\n"
	"  - {name: web-1, node: node-a, interface: veth-web1, addresses: [10.20.1.5, \"fd00:20::5\"], groups: [web]}\n"
	"  - {name: lb-1, node: node-b, interface: veth-lb1, addresses: [10.30.0.7], groups: [lb]}\n";

static void test_web_policy(void **state)
{
	struct policy_document *doc = parse(web_policy);
	struct policy_image *img = NULL;

	assert_int_equal(policy_compile(doc, "node-a", &img, NULL, 0), 0);
	assert_int_equal(img->n_endpoints, 1);
	assert_int_equal(img->n_rules, 3);
	/* classes: any, {10.20/16}, {lb} */
	assert_int_equal(img->n_remote_classes, 3);

	struct image_verdict v = judge(img, 0, POLICY_INGRESS, "10.20.3.4", 6, 80);

	assert_int_equal(v.action, POLICY_ALLOW);
	assert_int_equal(v.rule_id, 0);
	v = judge(img, 0, POLICY_INGRESS, "10.20.3.4", 6, 8080);
	assert_int_equal(v.action, POLICY_ALLOW);
	v = judge(img, 0, POLICY_INGRESS, "10.20.3.4", 6, 8081);
	assert_int_equal(v.action, POLICY_DENY);
	assert_true(v.is_default);
	v = judge(img, 0, POLICY_INGRESS, "10.30.0.7", 6, 443); /* lb-1 on the other node */
	assert_int_equal(v.action, POLICY_ALLOW);
	assert_int_equal(v.rule_id, 1);
	v = judge(img, 0, POLICY_INGRESS, "10.30.0.8", 6, 443);
	assert_int_equal(v.action, POLICY_DENY);
	v = judge(img, 0, POLICY_EGRESS, "fd00::1", 17, 53);
	assert_int_equal(v.action, POLICY_DENY);
	assert_int_equal(v.rule_id, 2);
	assert_true(v.lookups <= IOF_NEW_FLOW_LOOKUPS_MAX);
	v = judge(img, 0, POLICY_EGRESS, "fd00::1", 17, 54);
	assert_int_equal(v.action, POLICY_ALLOW);
	assert_true(v.is_default);
	policy_image_free(img);

	/* node-b has lb-1 only; lb has no rules: defaults */
	assert_int_equal(policy_compile(doc, "node-b", &img, NULL, 0), 0);
	assert_int_equal(img->n_endpoints, 1);
	assert_int_equal(img->n_rules, 0);
	v = judge(img, 0, POLICY_INGRESS, "10.20.1.5", 6, 80);
	assert_true(v.is_default);
	assert_int_equal(v.action, POLICY_DENY);
	policy_image_free(img);
	policy_document_free(doc);
}

/* 8000-8080 is 8000/11 (8000-8063), 8064/12 (8064-8079), 8080/16: three masked prefixes. */
static void test_port_prefixes(void **state)
{
	struct policy_document *doc = parse(web_policy);
	struct policy_image *img = NULL;
	size_t n = 0;

	assert_int_equal(policy_compile(doc, "node-a", &img, NULL, 0), 0);
	for (size_t i = 0; i < img->n_policy; i++) {
		const struct iof_policy_key *k = &img->policy[i].key;
		uint16_t port = ntohs(k->dport);

		if (k->dir != IOF_DIR_INGRESS || k->proto != 6 || img->policy[i].val.rule_id != 0)
			continue;
		n++;
		if (port == 80)
			assert_int_equal(k->prefixlen, IOF_POLICY_PLEN_PROTO + 16);
		else if (port == 8000)
			assert_int_equal(k->prefixlen, IOF_POLICY_PLEN_PROTO + 10);
		else if (port == 8064)
			assert_int_equal(k->prefixlen, IOF_POLICY_PLEN_PROTO + 12);
		else if (port == 8080)
			assert_int_equal(k->prefixlen, IOF_POLICY_PLEN_PROTO + 16);
		else
			fail_msg("unexpected port prefix %u/%u", port, k->prefixlen);
	}
	assert_int_equal(n, 4);
	policy_image_free(img);
	policy_document_free(doc);
}

/* Priority, then deny before allow, then document order; any-remote rules still count. */
static void test_precedence(void **state)
{
	struct policy_document *doc = parse(
		"securityGroups:\n"
		"  - name: a\n"
		"    rules:\n"
		"      - {direction: ingress, action: allow, priority: 5, cidr: 10.0.0.0/8}\n"
		"      - {direction: ingress, action: deny, priority: 5, protocol: tcp}\n"
		"      - {direction: ingress, action: allow, priority: 1, protocol: tcp, ports: [22]}\n"
		"endpoints:\n"
		"  - {name: e, node: n, cgroup: /sys/fs/cgroup/e, addresses: [192.168.0.1], groups: [a]}\n");
	struct policy_image *img = NULL;

	assert_int_equal(policy_compile(doc, "n", &img, NULL, 0), 0);
	struct image_verdict v = judge(img, 0, POLICY_INGRESS, "10.1.1.1", 6, 80);

	assert_int_equal(v.action, POLICY_DENY); /* deny beats allow at priority 5 */
	assert_int_equal(v.rule_id, 1);
	assert_true(v.class_part && v.any_part); /* the class verdict is not final */
	v = judge(img, 0, POLICY_INGRESS, "10.1.1.1", 6, 22);
	assert_int_equal(v.action, POLICY_ALLOW);
	assert_int_equal(v.rule_id, 2);
	v = judge(img, 0, POLICY_INGRESS, "10.1.1.1", 17, 22);
	assert_int_equal(v.action, POLICY_ALLOW);
	assert_int_equal(v.rule_id, 0);
	v = judge(img, 0, POLICY_INGRESS, "11.1.1.1", 17, 22);
	assert_true(v.is_default);
	assert_true(!v.class_part && v.any_part); /* class any: one policy lookup */
	policy_image_free(img);
	policy_document_free(doc);
}

/* A policy too large for a map is refused whole, naming the map and the numbers. */
static void test_capacity(void **state)
{
	struct gen_rng rng = {.state = 7};
	struct gen_realistic_opts o = {.rules = 10, .endpoints = 5000, .groups = 2,
				       .group_pct = 10, .any_pct = 1};
	struct policy_document *doc = gen_realistic_policy(&rng, &o);
	struct policy_image *img = NULL;
	char msg[160] = "";

	assert_int_equal(policy_compile(doc, GEN_NODE, &img, msg, sizeof(msg)), -E2BIG);
	assert_null(img);
	assert_string_equal(msg, "endpoints: 5000 entries exceed the capacity of 4096");
	policy_document_free(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_web_policy),
		cmocka_unit_test(test_port_prefixes),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_capacity),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
