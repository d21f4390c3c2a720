// SPDX-License-Identifier: Apache-2.0
/*
 * bench/compile: compile time and image size for realistic policies of 1k, 10k and 100k
 * rules over 1k local endpoints (and 1k on another node as group members). Prints a
 * markdown table; the targets (100k rules under 1 s, entries growing at most linearly in
 * rules) are printed as ratios measured in this run.
 *   bench_compile [--rules 1000,10000,100000] [--endpoints 1000] [--groups 100] [--repeat 3]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "gen.h"
#include "policy/image.h"

int main(int argc, char **argv)
{
	size_t rules[8] = {1000, 10000, 100000}, n_rules = 3, endpoints = 1000, groups = 100;
	int repeat = 3;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--rules")) {
			n_rules = 0;
			for (char *tok = strtok(argv[i + 1], ","); tok && n_rules < 8;
			     tok = strtok(NULL, ","))
				rules[n_rules++] = strtoull(tok, NULL, 10);
		} else if (!strcmp(argv[i], "--endpoints")) {
			endpoints = strtoull(argv[i + 1], NULL, 10);
		} else if (!strcmp(argv[i], "--groups")) {
			groups = strtoull(argv[i + 1], NULL, 10);
		} else if (!strcmp(argv[i], "--repeat")) {
			repeat = atoi(argv[i + 1]);
		} else {
			fprintf(stderr, "usage: %s [--rules a,b,c] [--endpoints N] [--groups N] "
					"[--repeat N]\n", argv[0]);
			return 2;
		}
	}
	if (repeat < 1 || repeat > 99)
		repeat = 3;
	printf("| rules | endpoints | profiles | compile ms (median of %d) | remote4 | remote6 | "
	       "classes | policy entries | policy entries/rule | all entries/rule |\n", repeat);
	printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	double first_per_rule = 0, last_per_rule = 0, first_all = 0, last_all = 0, last_ms = 0;

	for (size_t i = 0; i < n_rules; i++) {
		struct gen_rng rng = {.state = 42 + i};
		struct gen_realistic_opts o = {.rules = rules[i], .endpoints = endpoints,
					       .groups = groups, .group_pct = 60, .any_pct = 3};
		struct policy_document *doc = gen_realistic_policy(&rng, &o);
		struct policy_image *img = NULL;
		double t[100];
		char msg[160];

		for (int k = 0; k < repeat; k++) {
			policy_image_free(img);
			double t0 = bench_now_s();

			if (policy_compile(doc, GEN_NODE, &img, msg, sizeof(msg))) {
				fprintf(stderr, "compile failed: %s\n", msg);
				return 1;
			}
			t[k] = bench_now_s() - t0;
		}
		qsort(t, (size_t)repeat, sizeof(double), bench_cmp_double);
		size_t entries = img->n_policy + img->n_remote4 + img->n_remote6;
		double per_rule = (double)img->n_policy / (double)rules[i];
		double all_per_rule = (double)entries / (double)rules[i];

		if (i == 0) {
			first_per_rule = per_rule;
			first_all = all_per_rule;
		}
		last_per_rule = per_rule;
		last_all = all_per_rule;
		last_ms = t[repeat / 2] * 1e3;
		printf("| %zu | %zu | %zu | %.1f | %zu | %zu | %zu | %zu | %.2f | %.2f |\n", rules[i],
		       img->n_endpoints, img->n_profiles, last_ms, img->n_remote4, img->n_remote6,
		       img->n_remote_classes, img->n_policy, per_rule, all_per_rule);
		policy_image_free(img);
		policy_document_free(doc);
	}
	printf("\nlargest policy: %.0f ms = %.2fx the 1000 ms target (<= 1.00 meets it)\n",
	       last_ms, last_ms / 1000.0);
	printf("policy entries per rule, largest / smallest policy: %.2f (<= 1.00: at most "
	       "linear)\n", last_per_rule / first_per_rule);
	printf("all entries per rule, largest / smallest policy: %.2f (<= 1.00: at most linear)\n",
	       last_all / first_all);
	return 0;
}
