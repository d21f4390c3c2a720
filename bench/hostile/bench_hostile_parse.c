// SPDX-License-Identifier: Apache-2.0
/*
 * bench/hostile: the policy parser on hostile documents (deep nesting in YAML and JSON, many
 * keys, anchors, tag directives, errors), each at growing sizes. Prints a markdown table of
 * milliseconds and nanoseconds per byte; a linear parser keeps the cost per byte flat as size
 * grows (the ratio column: CPU time per byte at the largest size over the smallest, which
 * holds on a shared machine where wall-clock time does not).
 *   bench_hostile_parse [--sizes 50000,200000,800000] [--max-ms 5000] [--shape TEXT]
 *                       [--repeat 3]
 * Each figure is the median of --repeat parses: wall-clock milliseconds (nanoseconds per
 * byte), and CPU milliseconds, which hold on a machine shared with other work. The floor
 * column: CPU milliseconds libyaml alone takes to produce the events of the largest text
 * (the parser can cost no less; "-" for a text the parser stops at a limit, where libyaml
 * alone may be quadratic). A shape whose parse
 * took more than --max-ms is not run at larger sizes.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <yaml.h>

#include "policy/parse.h"

struct text {
	char *s;
	size_t len, cap;
};

static void put(struct text *t, const char *s)
{
	size_t n = strlen(s);

	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		t->s = realloc(t->s, t->cap);
		if (!t->s) {
			perror("realloc");
			exit(1);
		}
	}
	memcpy(t->s + t->len, s, n + 1);
	t->len += n;
}

static void repeat(struct text *t, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		put(t, s);
}

/* Each shape writes a document of about size bytes. */
static void flow_seq_depth(struct text *t, size_t size)
{
	put(t, "securityGroups: ");
	repeat(t, "[", size / 2);
	repeat(t, "]", size / 2);
	put(t, "\n");
}

static void json_object_depth(struct text *t, size_t size)
{
	put(t, "{\"securityGroups\": ");
	repeat(t, "{\"a\":", size / 6);
	put(t, "1");
	repeat(t, "}", size / 6);
	put(t, "}\n");
}

static void json_array_depth(struct text *t, size_t size)
{
	repeat(t, "[", size / 2);
	repeat(t, "]", size / 2);
}

static void flow_open_only(struct text *t, size_t size)
{
	put(t, "securityGroups: ");
	repeat(t, "[{a: ", size / 5);
}

static void block_seq_depth(struct text *t, size_t size)
{
	put(t, "securityGroups:\n");
	repeat(t, "- ", size / 2);
	put(t, "x\n");
}

static void block_map_depth(struct text *t, size_t size)
{
	char line[64];

	put(t, "securityGroups:\n");
	for (size_t d = 1; t->len < size; d++) {
		repeat(t, " ", d);
		snprintf(line, sizeof(line), "k%zu:\n", d);
		put(t, line);
	}
	put(t, "\n");
}

static void many_keys(struct text *t, size_t size)
{
	char key[48];

	put(t, "securityGroups:\n  - name: g\n    rules:\n      - {direction: ingress");
	for (size_t i = 0; t->len < size; i++) {
		snprintf(key, sizeof(key), ", k%zu: 1", i);
		put(t, key);
	}
	put(t, "}\n");
}

static void many_same_keys(struct text *t, size_t size)
{
	put(t, "securityGroups:\n  - name: g\n    rules:\n      - {direction: ingress");
	repeat(t, ", priority: 1", size / 13);
	put(t, "}\n");
}

static void many_anchors(struct text *t, size_t size)
{
	char item[48];

	put(t, "securityGroups: [");
	for (size_t i = 0; t->len < size; i++) {
		snprintf(item, sizeof(item), "%s&a%zu 1", i ? ", " : "", i);
		put(t, item);
	}
	put(t, "]\n");
}

static void many_aliases(struct text *t, size_t size)
{
	put(t, "securityGroups: [&a 1");
	repeat(t, ", *a", size / 4);
	put(t, "]\n");
}

static void many_tag_directives(struct text *t, size_t size)
{
	char line[64];

	for (size_t i = 0; t->len < size; i++) {
		snprintf(line, sizeof(line), "%%TAG !t%zu! tag:x,2000:\n", i);
		put(t, line);
	}
	put(t, "---\nsecurityGroups: []\n");
}

static void many_errors(struct text *t, size_t size)
{
	put(t, "securityGroups:\n  - name: g\n    rules:\n      - direction: ingress\n"
	       "        protocol: tcp\n        ports: [");
	repeat(t, "0, ", size / 3);
	put(t, "1]\n");
}

/* The densest a list gets: a one-character item every 2 bytes. */
static void many_errors_dense(struct text *t, size_t size)
{
	put(t, "securityGroups:\n  - name: g\n    rules:\n      - direction: ingress\n"
	       "        protocol: tcp\n        ports: [");
	repeat(t, "0,", size / 2);
	put(t, "1]\n");
}

/* The same density, valid: every port is walked and kept (the walk does not stop early). */
static void valid_dense(struct text *t, size_t size)
{
	put(t, "securityGroups:\n  - name: g\n    rules:\n      - direction: ingress\n"
	       "        protocol: tcp\n        ports: [");
	repeat(t, "1,", size / 2);
	put(t, "2]\n");
}

static void json_dense(struct text *t, size_t size)
{
	put(t, "{\"securityGroups\": [{\"name\": \"g\", \"rules\": [{\"direction\": "
	       "\"ingress\", \"protocol\": \"tcp\", \"ports\": [");
	repeat(t, "0,", size / 2);
	put(t, "1]}]}]}\n");
}

/* A block list: an item a line, 4 bytes each. */
static void block_list_dense(struct text *t, size_t size)
{
	put(t, "securityGroups:\n  - name: g\n    rules:\n      - direction: ingress\n"
	       "        protocol: tcp\n        ports:\n");
	repeat(t, "- 0\n", size / 4);
}

static void long_scalar(struct text *t, size_t size)
{
	put(t, "securityGroups:\n  - name: \"");
	repeat(t, "a \\t", size / 4);
	put(t, "\"\n");
}

/* Not hostile: a valid policy of many rules, as large as the others (what a big site sends). */
static void valid_many_rules(struct text *t, size_t size)
{
	char rule[128];

	put(t, "securityGroups:\n  - name: big\n    rules:\n");
	for (size_t i = 0; t->len < size; i++) {
		snprintf(rule, sizeof(rule),
			 "      - {direction: ingress, protocol: tcp, ports: [%zu], "
			 "cidr: 10.%zu.%zu.0/24}\n",
			 1 + i % 60000, (i >> 16) & 255, (i >> 8) & 255);
		put(t, rule);
	}
	put(t, "endpoints:\n  - {name: big, node: n1, interface: none0, addresses: [10.99.0.1], "
	       "groups: [big]}\n");
}

static void many_lines_in_flow(struct text *t, size_t size)
{
	put(t, "securityGroups: [\n");
	repeat(t, "[\n", size / 2);
}

struct shape {
	const char *name;
	void (*make)(struct text *t, size_t size);
};

static const struct shape shapes[] = {
    {"YAML flow lists nested", flow_seq_depth},
    {"JSON objects nested", json_object_depth},
    {"JSON arrays nested", json_array_depth},
    {"flow collections opened, never closed", flow_open_only},
    {"flow lists nested, one a line", many_lines_in_flow},
    {"block lists nested (- - -)", block_seq_depth},
    {"block mappings nested (indented)", block_map_depth},
    {"one mapping, many unknown keys", many_keys},
    {"one mapping, one key repeated", many_same_keys},
    {"many anchors", many_anchors},
    {"many aliases", many_aliases},
    {"many %TAG directives", many_tag_directives},
    {"many errors (bad ports)", many_errors},
    {"many errors, densest (0,0,0)", many_errors_dense},
    {"JSON, densest ([0,0,0])", json_dense},
    {"block list, an item a line (- 0)", block_list_dense},
    {"valid, densest (ports 1,1,1)", valid_dense},
    {"one long quoted scalar", long_scalar},
    {"valid policy, many rules", valid_many_rules},
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/*
 * CPU milliseconds libyaml takes to turn t into events, nothing kept (the parser's floor), or
 * -1 past FLOOR_MAX_MS: libyaml alone is quadratic on the nesting the parser stops early.
 */
#define FLOOR_MAX_MS 2000
/* Shapes our parse reads whole take more CPU than this at the largest size. */
#define FLOOR_MIN_PARSE_MS 20

static double libyaml_cpu_ms(const struct text *t)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	double c0 = cpu_ms(), ms = 0;

	if (!yaml_parser_initialize(&parser))
		return 0;
	yaml_parser_set_input_string(&parser, (const unsigned char *)t->s, t->len);
	for (unsigned n = 1; yaml_parser_parse(&parser, &ev); n++) {
		bool end = ev.type == YAML_STREAM_END_EVENT;

		yaml_event_delete(&ev);
		if (end)
			break;
		if (n % 1024 == 0 && cpu_ms() - c0 > FLOOR_MAX_MS) {
			ms = -1;
			break;
		}
	}
	yaml_parser_delete(&parser);
	return ms < 0 ? ms : cpu_ms() - c0;
}

/* Wall-clock milliseconds of one parse; its CPU milliseconds in *ret_cpu. */
static double parse_ms(const struct text *t, int *ret_r, double *ret_cpu, char *first,
		       size_t first_len)
{
	struct policy_errors errs = {0};
	struct policy_document *doc = NULL;
	double t0 = now_ms(), c0 = cpu_ms(), ms;

	*ret_r = policy_parse_buffer(t->s, t->len, "hostile.yaml", &doc, &errs);
	ms = now_ms() - t0;
	*ret_cpu = cpu_ms() - c0;
	first[0] = '\0';
	if (errs.n)
		policy_error_format(&errs.items[0], first, first_len);
	policy_document_free(doc);
	policy_errors_free(&errs);
	return ms;
}

static size_t parse_sizes(const char *arg, size_t *sizes, size_t max)
{
	size_t n = 0;
	char *copy = strdup(arg), *tok, *save = NULL;

	for (tok = strtok_r(copy, ",", &save); tok && n < max; tok = strtok_r(NULL, ",", &save))
		sizes[n++] = strtoull(tok, NULL, 10);
	free(copy);
	return n;
}

int main(int argc, char **argv)
{
	size_t sizes[8] = {50000, 200000, 800000}, n_sizes = 3;
	double max_ms = 5000;
	int repeat = 3;
	const char *only = NULL; /* shapes whose name contains it */

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--sizes") && i + 1 < argc)
			n_sizes = parse_sizes(argv[++i], sizes, 8);
		else if (!strcmp(argv[i], "--max-ms") && i + 1 < argc)
			max_ms = atof(argv[++i]);
		else if (!strcmp(argv[i], "--shape") && i + 1 < argc)
			only = argv[++i];
		else if (!strcmp(argv[i], "--repeat") && i + 1 < argc && atoi(argv[i + 1]) > 0 &&
			 atoi(argv[i + 1]) <= 15)
			repeat = atoi(argv[++i]);
		else {
			fprintf(
			    stderr,
			    "usage: %s [--sizes a,b,c] [--max-ms N] [--shape TEXT] [--repeat N]\n",
			    argv[0]);
			return 2;
		}
	}
	printf("| shape |");
	for (size_t s = 0; s < n_sizes; s++)
		printf(" %zu B: ms (ns/B) / CPU ms |", sizes[s]);
	printf(" CPU/B ratio | libyaml floor, CPU ms | first error |\n|---|");
	for (size_t s = 0; s < n_sizes; s++)
		printf("---:|");
	printf("---:|---:|---|\n");
	for (size_t k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++) {
		double first_cpb = 0, last_cpb = 0, floor = 0;
		char err[256] = "", e[256];
		bool stopped = false;

		if (only && !strstr(shapes[k].name, only))
			continue;
		printf("| %s |", shapes[k].name);
		for (size_t s = 0; s < n_sizes; s++) {
			struct text t = {0};
			double ms, cpu, runs[15], cpus[15];
			int r = 0;

			if (stopped) {
				printf(" - |");
				continue;
			}
			shapes[k].make(&t, sizes[s]);
			for (int i = 0; i < repeat; i++)
				runs[i] = parse_ms(&t, &r, &cpus[i], e, sizeof(e));
			/* a text the loader stops early is not read whole: no floor to compare */
			if (s == n_sizes - 1 && cpus[repeat / 2] >= FLOOR_MIN_PARSE_MS) {
				double floors[15];

				for (int i = 0; i < repeat && floor >= 0; i++)
					floor = floors[i] = libyaml_cpu_ms(&t);
				if (floor >= 0) {
					qsort(floors, (size_t)repeat, sizeof(floors[0]), cmp_double);
					floor = floors[repeat / 2];
				}
			}
			qsort(runs, (size_t)repeat, sizeof(runs[0]), cmp_double);
			qsort(cpus, (size_t)repeat, sizeof(cpus[0]), cmp_double);
			ms = runs[repeat / 2];
			cpu = cpus[repeat / 2];
			last_cpb = cpu * 1e6 / (double)t.len;
			if (s == 0) {
				first_cpb = last_cpb;
				snprintf(err, sizeof(err), "%s", r == 0 ? "(valid)" : e);
			}
			printf(" %.1f (%.0f) / %.1f |", ms, ms * 1e6 / (double)t.len, cpu);
			fflush(stdout);
			stopped = ms > max_ms;
			free(t.s);
		}
		printf(" %.2f |", first_cpb > 0 ? last_cpb / first_cpb : 0);
		if (floor < 0)
			printf(" > %d |", FLOOR_MAX_MS);
		else if (floor == 0) /* stopped at a limit, or by --max-ms */
			printf(" - |");
		else
			printf(" %.1f |", floor);
		printf(" %.90s |\n", err);
	}
	return 0;
}
