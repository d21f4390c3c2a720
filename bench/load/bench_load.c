// SPDX-License-Identifier: Apache-2.0
/*
 * bench_load: what loading a BPF object costs, the larger part of an agent's start. Loads each
 * object --repeat times (several objects: alternated, so that each sees the same machine) with
 * the verifier's statistics on, and prints per program the instructions the verifier processed
 * and its time, and per object the whole load's median and range. The processed count does not
 * depend on the machine's load; --max-insns N fails the run when a program exceeds N (the
 * smoke keeps the programs far from the kernel's limit of 1M).
 *   bench_load [--repeat N] [--max-insns N] OBJECT.bpf.o [OTHER.bpf.o]...
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "bench_util.h"

#define SKIP_CODE 249
#define MAX_OBJECTS 4
#define MAX_PROGS 32
#define MAX_REPEAT 50
#define LOG_SIZE 4096

struct prog_stats {
	char name[64];
	unsigned long insns;
	double verify_ms[MAX_REPEAT];
};

struct object_stats {
	const char *path;
	double load_s[MAX_REPEAT];
	struct prog_stats progs[MAX_PROGS];
	int n_progs;
};

static char logs[MAX_PROGS][LOG_SIZE];

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

/* "verification time N usec" and "processed N insns" of a BPF_LOG_STATS log. */
static void parse_log(const char *log, unsigned long *insns, double *verify_ms)
{
	const char *t = strstr(log, "verification time "), *p = strstr(log, "processed ");

	*verify_ms = t ? strtod(t + strlen("verification time "), NULL) / 1000.0 : 0;
	*insns = p ? strtoul(p + strlen("processed "), NULL, 10) : 0;
}

/* One load of s->path: its time and each program's statistics into run number rep. */
static int load_once(struct object_stats *s, int rep)
{
	struct bpf_object *obj = bpf_object__open(s->path);
	struct bpf_program *prog;
	double t0;
	int i = 0, r;

	if (!obj) {
		fprintf(stderr, "bench_load: %s: open: %s\n", s->path, strerror(errno));
		return -1;
	}
	bpf_object__for_each_program(prog, obj)
	{
		if (i == MAX_PROGS)
			break;
		logs[i][0] = 0;
		bpf_program__set_log_level(prog, 4); /* BPF_LOG_STATS: the summary lines only */
		bpf_program__set_log_buf(prog, logs[i++], LOG_SIZE);
	}
	t0 = bench_now_s();
	r = bpf_object__load(obj);
	s->load_s[rep] = bench_now_s() - t0;
	if (r) {
		fprintf(stderr, "bench_load: %s: load: %s\n", s->path, strerror(-r));
		bpf_object__close(obj);
		return -1;
	}
	i = 0;
	bpf_object__for_each_program(prog, obj)
	{
		struct prog_stats *p = &s->progs[i];

		if (i == MAX_PROGS)
			break;
		snprintf(p->name, sizeof(p->name), "%s", bpf_program__name(prog));
		parse_log(logs[i++], &p->insns, &p->verify_ms[rep]);
	}
	s->n_progs = i;
	bpf_object__close(obj);
	return 0;
}

static double median(double *v, int n)
{
	double sorted[MAX_REPEAT];

	memcpy(sorted, v, (size_t)n * sizeof(*v));
	qsort(sorted, (size_t)n, sizeof(*sorted), bench_cmp_double);
	return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

static void report(struct object_stats *s, int repeat)
{
	double lo = s->load_s[0], hi = s->load_s[0];

	for (int r = 1; r < repeat; r++) {
		lo = s->load_s[r] < lo ? s->load_s[r] : lo;
		hi = s->load_s[r] > hi ? s->load_s[r] : hi;
	}
	printf("\n%s: load %.2f s median (%.2f-%.2f) of %d\n", s->path, median(s->load_s, repeat),
	       lo, hi, repeat);
	printf("| program | processed insns | verifier ms (median) |\n|---|---:|---:|\n");
	for (int i = 0; i < s->n_progs; i++)
		printf("| %s | %lu | %.0f |\n", s->progs[i].name, s->progs[i].insns,
		       median(s->progs[i].verify_ms, repeat));
}

int main(int argc, char **argv)
{
	static const struct option longs[] = {
	    {"repeat", required_argument, NULL, 'r'},
	    {"max-insns", required_argument, NULL, 'm'},
	    {0},
	};
	static struct object_stats objs[MAX_OBJECTS];
	unsigned long max_insns = 0;
	int repeat = 1, n = 0, c, failed = 0;

	while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		if (c == 'r')
			repeat = atoi(optarg);
		else if (c == 'm')
			max_insns = strtoul(optarg, NULL, 10);
		else
			return 2;
	}
	if (optind >= argc || argc - optind > MAX_OBJECTS || repeat < 1 || repeat > MAX_REPEAT) {
		fprintf(stderr, "usage: bench_load [--repeat 1-%d] [--max-insns N] OBJECT.bpf.o "
				"[OTHER.bpf.o]... (at most %d)\n",
			MAX_REPEAT, MAX_OBJECTS);
		return 2;
	}
	if (geteuid() != 0) {
		printf("SKIP: needs root (BPF)\n");
		return SKIP_CODE;
	}
	libbpf_set_print(quiet);
	for (int i = optind; i < argc; i++)
		objs[n++].path = argv[i];
	for (int rep = 0; rep < repeat; rep++)
		for (int i = 0; i < n; i++)
			if (load_once(&objs[i], rep))
				return 1;
	for (int i = 0; i < n; i++) {
		report(&objs[i], repeat);
		for (int p = 0; max_insns && p < objs[i].n_progs; p++) {
			if (objs[i].progs[p].insns <= max_insns)
				continue;
			fprintf(stderr, "bench_load: %s: %s: %lu processed instructions, over %lu\n",
				objs[i].path, objs[i].progs[p].name, objs[i].progs[p].insns,
				max_insns);
			failed = 1;
		}
	}
	return failed;
}
