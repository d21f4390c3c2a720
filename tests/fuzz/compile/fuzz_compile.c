// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: the fuzzer's bytes drive the random policy generator (structure, CIDRs,
 * ports, priorities) and then the packets; the compiled image must agree with the reference
 * evaluator on every packet. Any mismatch aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "gen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t half = size / 2;
	struct policy_document *doc = gen_policy_from_bytes(data, half);
	struct gen_rng rng = {.data = data + half, .len = size - half};
	struct policy_image *img = NULL;
	struct check_stats st = {0};

	if (policy_compile(doc, GEN_NODE, &img, NULL, 0))
		abort();
	for (int i = 0; img->n_endpoints && i < 64; i++) {
		uint32_t local = gen_below(&rng, (uint32_t)img->n_endpoints);
		struct policy_packet pkt;

		gen_random_packet(&rng, doc, img->endpoints[local].doc_index, &pkt);
		if (check_image_case(doc, img, local, &pkt, &st, stderr))
			abort();
	}
	policy_image_free(img);
	policy_document_free(doc);
	return 0;
}
