// SPDX-License-Identifier: Apache-2.0
/*
 * Differential test: random policies x random packets; the compiled image, looked up as the
 * BPF programs do (policy_image_lookup walks the kernel layout's tries, host tables, listed
 * ports and groups), must agree with the reference evaluator on every case: action, audit,
 * default-or-rule, and which rule. At least 1,000,000 cases per run (IOFENCE_CASES
 * overrides), seed printed (IOFENCE_SEED reproduces a run). A run in which no rule decided,
 * nothing was denied, or no listed port group was consulted fails: it would check too little.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "check.h"
#include "gen.h"

static void test_differential(void **state)
{
	uint64_t seed = gen_seed_from_env();
	const char *env = getenv("IOFENCE_CASES");
	unsigned long long want_cases = env ? strtoull(env, NULL, 0) : 1000000, policies = 0;
	struct gen_rng rng = {.state = seed};
	struct check_stats st = {0};

	printf("differential: seed %llu (IOFENCE_SEED=%llu reproduces)\n",
	       (unsigned long long)seed, (unsigned long long)seed);
	while (st.cases < want_cases) {
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
			if (check_image_case(doc, img, local, &pkt, &st, stderr)) {
				fprintf(stderr, "seed %llu, policy %llu, case %llu\n",
					(unsigned long long)seed, policies, st.cases);
				fail();
			}
		}
		policy_image_free(img);
		policy_document_free(doc);
	}
	printf("differential: %llu cases over %llu policies agree (%llu decided by a rule, "
	       "%llu denied, %llu looked up both policy parts, %llu a listed port group)\n",
	       st.cases, policies, st.by_rule, st.denied, st.both_parts, st.listed);
	assert_int_equal(check_coverage(&st, stderr), 0);
	assert_true(st.both_parts > 0 && st.listed > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_differential),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
