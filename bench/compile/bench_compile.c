// SPDX-License-Identifier: Apache-2.0
/*
 * bench/compile: compile time and image size for realistic policies of 1k, 10k and 100k
 * rules over 1k local endpoints (and 1k on another node as group members). Prints a
 * markdown table; the targets (100k rules under 1 s, entries growing at most linearly in
 * rules) are printed as ratios measured in this run.
 *   bench_compile [--rules 1000,10000,100000] [--endpoints 1000] [--groups 100] [--repeat 3]
 * With --parse it times reading the same documents instead: YAML and JSON text through
 * policy_parse_buffer() and the PolicyDocument message through policy_from_pb(), for the
 * realistic document and for bench/apply's one-group flow-style document, and prints their
 * sizes: YAML, JSON, and the Apply request iofencectl sends (the message and the YAML text),
 * which the message limit (RPC_MAX_REQUEST) must admit. With --write FILE it writes the
 * realistic document of the first --rules figure as YAML to FILE (for bench/hostile) instead.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "gen.h"
#include "policy/image.h"
#include "policy/parse.h"
#include "policy/pb.h"
#include "policy/write.h"

/* bench/apply's document: one group of n flow-style tcp rules, one endpoint. */
static char *flow_doc(size_t n, size_t *ret_len)
{
	size_t cap = 256 + n * 96, len = 0;
	char *s = malloc(cap);

	if (!s)
		return NULL;
	len +=
	    (size_t)snprintf(s, cap, "revision: 5\nsecurityGroups:\n  - name: big\n    rules:\n");
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len,
					"      - {direction: ingress, protocol: tcp, ports: [%u], "
					"cidr: 10.%zu.%zu.0/24}\n",
					i ? 1 + (unsigned)(i % 60000) : 7, (i >> 16) & 255,
					(i >> 8) & 255);
	len += (size_t)snprintf(s + len, cap - len,
				"endpoints:\n  - {name: e, node: bench, interface: bench0, "
				"addresses: [10.255.0.1], groups: [big]}\n");
	*ret_len = len;
	return s;
}

static double median_ms(double *t, int repeat)
{
	qsort(t, (size_t)repeat, sizeof(double), bench_cmp_double);
	return t[repeat / 2] * 1e3;
}

/* Median time of policy_parse_buffer() on text; exits on a parse error. */
static double time_text(const char *text, size_t len, int repeat)
{
	double t[100];

	for (int k = 0; k < repeat; k++) {
		struct policy_errors errs = {0};
		struct policy_document *doc;
		double t0 = bench_now_s();

		if (policy_parse_buffer(text, len, "<bench>", &doc, &errs)) {
			policy_errors_print(&errs, stderr);
			exit(1);
		}
		t[k] = bench_now_s() - t0;
		policy_document_free(doc);
		policy_errors_free(&errs);
	}
	return median_ms(t, repeat);
}

/* Median time of policy_from_pb() on the unpacked message form of doc. */
static double time_message(const struct policy_document *doc, int repeat)
{
	Iofence__V1__PolicyDocument *msg = NULL, *unpacked;
	uint8_t *buf;
	double t[100];

	if (policy_to_pb(doc, &msg))
		exit(1);
	buf = malloc(iofence__v1__policy_document__get_packed_size(msg));
	if (!buf)
		exit(1);
	unpacked = iofence__v1__policy_document__unpack(
	    NULL, iofence__v1__policy_document__pack(msg, buf), buf);
	if (!unpacked)
		exit(1);
	for (int k = 0; k < repeat; k++) {
		struct policy_errors errs = {0};
		struct policy_document *out;
		double t0 = bench_now_s();

		if (policy_from_pb(unpacked, "<bench>", &out, &errs)) {
			policy_errors_print(&errs, stderr);
			exit(1);
		}
		t[k] = bench_now_s() - t0;
		policy_document_free(out);
		policy_errors_free(&errs);
	}
	iofence__v1__policy_document__free_unpacked(unpacked, NULL);
	policy_pb_free(msg);
	free(buf);
	return median_ms(t, repeat);
}

static void parse_row(const char *name, size_t rules, const struct policy_document *doc,
		      const char *yaml, size_t yaml_len, int repeat)
{
	char *json = NULL;
	size_t json_len = 0;

	Iofence__V1__PolicyDocument *msg = NULL;
	size_t msg_len;

	if (policy_write_buffer(doc, POLICY_FORMAT_JSON, &json, &json_len) ||
	    policy_to_pb(doc, &msg))
		exit(1);
	msg_len = iofence__v1__policy_document__get_packed_size(msg);
	policy_pb_free(msg);
	/* what iofencectl apply sends: the message and the YAML text it was read from */
	printf("| %s | %zu | %zu | %zu | %zu | %.2f | %.2f | %.2f |\n", name, rules, yaml_len,
	       json_len, msg_len + yaml_len, time_text(yaml, yaml_len, repeat),
	       time_text(json, json_len, repeat), time_message(doc, repeat));
	free(json);
}

static int bench_parse(const size_t *rules, size_t n_rules, size_t endpoints, size_t groups,
		       int repeat)
{
	printf("| document | rules | YAML bytes | JSON bytes | iofencectl request bytes | YAML ms | "
	       "JSON ms | message ms |\n");
	printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
	for (size_t i = 0; i < n_rules; i++) {
		struct gen_rng rng = {.state = 42 + i};
		struct gen_realistic_opts o = {.rules = rules[i],
					       .endpoints = endpoints,
					       .groups = groups,
					       .group_pct = 60,
					       .any_pct = 3};
		struct policy_document *doc = gen_realistic_policy(&rng, &o), *flow = NULL;
		struct policy_errors errs = {0};
		char *yaml = NULL;
		size_t len = 0;

		if (policy_write_buffer(doc, POLICY_FORMAT_YAML, &yaml, &len))
			return 1;
		parse_row("realistic", rules[i], doc, yaml, len, repeat);
		free(yaml);
		yaml = flow_doc(rules[i], &len);
		if (!yaml || policy_parse_buffer(yaml, len, "<flow>", &flow, &errs)) {
			policy_errors_print(&errs, stderr);
			return 1;
		}
		parse_row("flow", rules[i], flow, yaml, len, repeat);
		free(yaml);
		policy_document_free(flow);
		policy_document_free(doc);
	}
	return 0;
}

/* The realistic document of rules rules, as YAML in path. */
static int write_yaml(const char *path, size_t rules, size_t endpoints, size_t groups)
{
	struct gen_rng rng = {.state = 42};
	struct gen_realistic_opts o = {.rules = rules,
				       .endpoints = endpoints,
				       .groups = groups,
				       .group_pct = 60,
				       .any_pct = 3};
	struct policy_document *doc = gen_realistic_policy(&rng, &o);
	char *yaml = NULL;
	size_t len = 0;
	FILE *f = fopen(path, "w");

	if (!f || !doc || policy_write_buffer(doc, POLICY_FORMAT_YAML, &yaml, &len) ||
	    fwrite(yaml, 1, len, f) != len || fclose(f)) {
		fprintf(stderr, "%s: cannot write the document\n", path);
		return 1;
	}
	printf("%s: %zu rules, %zu bytes of YAML\n", path, rules, len);
	free(yaml);
	policy_document_free(doc);
	return 0;
}

int main(int argc, char **argv)
{
	size_t rules[8] = {1000, 10000, 100000}, n_rules = 3, endpoints = 1000, groups = 100;
	int repeat = 3;
	bool parse = false;
	const char *write = NULL;

	for (int i = 1; i < argc; i += 2) {
		if (!strcmp(argv[i], "--parse")) {
			parse = true;
			i--;
		} else if (i + 1 >= argc) {
			break;
		} else if (!strcmp(argv[i], "--rules")) {
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
		} else if (!strcmp(argv[i], "--write")) {
			write = argv[i + 1];
		} else {
			fprintf(stderr,
				"usage: %s [--rules a,b,c] [--endpoints N] [--groups N] "
				"[--repeat N] [--parse | --write FILE]\n",
				argv[0]);
			return 2;
		}
	}
	if (repeat < 1 || repeat > 99)
		repeat = 3;
	if (write)
		return write_yaml(write, rules[0], endpoints, groups);
	if (parse)
		return bench_parse(rules, n_rules, endpoints, groups, repeat);
	printf("| rules | endpoints | profiles | compile ms (median of %d) | remote4 | remote6 | "
	       "classes | policy entries | policy entries/rule | all entries/rule |\n",
	       repeat);
	printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	double first_per_rule = 0, last_per_rule = 0, first_all = 0, last_all = 0, last_ms = 0;

	for (size_t i = 0; i < n_rules; i++) {
		struct gen_rng rng = {.state = 42 + i};
		struct gen_realistic_opts o = {.rules = rules[i],
					       .endpoints = endpoints,
					       .groups = groups,
					       .group_pct = 60,
					       .any_pct = 3};
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
		size_t entries = policy_image_entries(img);
		double per_rule = (double)img->n_policy / (double)rules[i];
		double all_per_rule = (double)entries / (double)rules[i];

		if (i == 0) {
			first_per_rule = per_rule;
			first_all = all_per_rule;
		}
		last_per_rule = per_rule;
		last_all = all_per_rule;
		last_ms = t[repeat / 2] * 1e3;
		printf("| %zu | %zu | %zu | %.1f | %zu | %zu | %zu | %zu | %.2f | %.2f |\n",
		       rules[i], img->n_endpoints, img->n_profiles, last_ms,
		       policy_image_remotes(img, 4), policy_image_remotes(img, 6),
		       img->n_remote_classes, img->n_policy, per_rule,
		       all_per_rule);
		policy_image_free(img);
		policy_document_free(doc);
	}
	printf("\nlargest policy: %.0f ms = %.2fx the 1000 ms target (<= 1.00 meets it)\n", last_ms,
	       last_ms / 1000.0);
	printf("policy entries per rule, largest / smallest policy: %.2f (<= 1.00: at most "
	       "linear)\n",
	       last_per_rule / first_per_rule);
	printf("all entries per rule, largest / smallest policy: %.2f (<= 1.00: at most linear)\n",
	       last_all / first_all);
	return 0;
}
