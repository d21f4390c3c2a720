// SPDX-License-Identifier: Apache-2.0
/*
 * Differential test: random policies x random packets; the compiled image, looked up as the
 * BPF programs do (policy_image_lookup), must agree with the reference evaluator on every
 * case: action, audit, default-or-rule, and which rule. At least 1,000,000 cases per run
 * (IOFENCE_CASES overrides), seed printed (IOFENCE_SEED reproduces a run).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gen.h"
#include "policy/eval.h"
#include "policy/image.h"
#include "policy/prefix.h"

static void describe(const struct policy_packet *pkt, size_t ep, const char *why)
{
	char addr[PREFIX_STR_MAX];

	prefix_format(&pkt->remote, true, addr);
	fprintf(stderr, "mismatch (%s): endpoint %zu %s remote %s proto %u dport %u\n", why, ep,
		pkt->direction == POLICY_INGRESS ? "ingress" : "egress", addr, pkt->proto,
		pkt->dport);
}

/* Checks one packet; returns 0 if image and evaluator agree. */
static uint64_t n_by_rule, n_denied, n_three_lookups; /* coverage, printed at the end */

static int check_case(const struct policy_document *doc, const struct policy_image *img,
		      uint32_t local, const struct policy_packet *pkt)
{
	const struct policy_endpoint *ep = &doc->endpoints[img->endpoints[local].doc_index];
	struct policy_verdict want;
	struct image_verdict got;
	struct image_packet ip = {.endpoint_index = local, .direction = pkt->direction,
				  .remote = pkt->remote, .proto = pkt->proto, .dport = pkt->dport};

	policy_evaluate(doc, ep, pkt, &want);
	if (policy_image_lookup(img, &ip, &got)) {
		describe(pkt, local, "lookup missed");
		return -1;
	}
	if (got.lookups > 3) {
		describe(pkt, local, "more than 3 lookups");
		return -1;
	}
	if (got.action != want.action || got.audit != want.audit ||
	    got.is_default != (want.rule == NULL)) {
		describe(pkt, local, "verdict");
		fprintf(stderr, "  evaluator: action %d audit %d default %d; image: %d %d %d\n",
			want.action, want.audit, want.rule == NULL, got.action, got.audit,
			got.is_default);
		return -1;
	}
	n_by_rule += want.rule != NULL;
	n_denied += want.action == POLICY_DENY;
	n_three_lookups += got.lookups == 3;
	if (want.rule) {
		const struct image_rule *r = &img->rules[got.rule_id];

		if (got.rule_id >= img->n_rules || r->group_index != want.group_index ||
		    r->rule_index != want.rule_index) {
			describe(pkt, local, "deciding rule");
			fprintf(stderr, "  evaluator: group %zu rule %zu; image rule id %u\n",
				want.group_index, want.rule_index, got.rule_id);
			return -1;
		}
	}
	return 0;
}

static void test_differential(void **state)
{
	uint64_t seed = gen_seed_from_env();
	const char *env = getenv("IOFENCE_CASES");
	uint64_t want_cases = env ? strtoull(env, NULL, 0) : 1000000, cases = 0, policies = 0;
	struct gen_rng rng = {.state = seed};

	printf("differential: seed %llu (IOFENCE_SEED=%llu reproduces)\n",
	       (unsigned long long)seed, (unsigned long long)seed);
	while (cases < want_cases) {
		struct policy_document *doc = gen_random_policy(&rng);
		const char *node = gen_below(&rng, 4) ? GEN_NODE : GEN_OTHER_NODE;
		struct policy_image *img = NULL;
		char msg[160];

		assert_int_equal(policy_compile(doc, node, &img, msg, sizeof(msg)), 0);
		policies++;
		for (uint32_t i = 0; img->n_endpoints && i < 400; i++) {
			uint32_t local = gen_below(&rng, (uint32_t)img->n_endpoints);
			struct policy_packet pkt;

			gen_random_packet(&rng, doc, img->endpoints[local].doc_index, &pkt);
			if (check_case(doc, img, local, &pkt)) {
				fprintf(stderr, "seed %llu, policy %llu, case %llu\n",
					(unsigned long long)seed, (unsigned long long)policies,
					(unsigned long long)cases);
				fail();
			}
			cases++;
		}
		policy_image_free(img);
		policy_document_free(doc);
	}
	printf("differential: %llu cases over %llu policies agree (%llu decided by a rule, "
	       "%llu denied, %llu needed the third lookup)\n",
	       (unsigned long long)cases, (unsigned long long)policies,
	       (unsigned long long)n_by_rule, (unsigned long long)n_denied,
	       (unsigned long long)n_three_lookups);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_differential),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
