// SPDX-License-Identifier: Apache-2.0
/*
 * bench_guard: what the guard (agent/iofenced/guard.c) and the counter ledger cost on the
 * real maps at N rules. Loads the datapath under its own pin dir, applies a realistic
 * N-rule image (tests/lib gen.c) and then, alternately, the same image with one rule changed:
 *  - each guard check (links, pins, slot maps, endpoint entries) and the policy-trie
 *    verification of both slots (dp_verify_slots), CPU ms per pass, and what they cost per
 *    second of agent life on the guard's schedule (guard.h: checks every GUARD_PERIOD_MS,
 *    the verification at most a GUARD_VERIFY_DUTY-th of the time, at least every
 *    GUARD_VERIFY_EVERY_MAX_MS);
 *  - the counter ledger's share of an apply (dp_ledger_retire on a slot), with no rule
 *    counted and with every rule of the slot counted, every identity moving (a whole
 *    renumbering: a base each; an identity that keeps its index is not carried);
 *  - dp_apply of a one-rule change, CPU and wall ms;
 *  - an apply's wait for the guard: --waits one-rule applies, a random 0-20 ms apart, while
 *    another thread verifies the slots on the guard's schedule (GUARD_VERIFY_DUTY times a
 *    verification's duration apart; GUARD_VERIFY_RETRY_MS after one overtaken), the
 *    verification holding applies until done (as when it ran on the apply thread) or reading
 *    beside them (the guard's thread now); wall ms p50 / p99 / max against the same applies
 *    with no verification.
 * Medians of --passes / --applies. Root (BPF); exits 249 when BPF cannot be used.
 *   bench_guard [--rules 10000] [--endpoints 50] [--passes 20] [--applies 20] [--waits 0]
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/datapath/counter_ledger.h"
#include "agent/datapath/datapath.h"
#include "agent/datapath/dp_internal.h"
#include "agent/iofenced/guard.h" /* the guard's schedule */
#include "gen.h"
#include "policy/image.h"
#include "tests/lib/bench_util.h"

#define SKIP 249
#define MAX_RUNS 1000

static double cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
	return n ? v[n / 2] : 0;
}

static unsigned reports;

static void count_report(void *ctx, const char *what, const char *detail)
{
	(void)ctx;
	if (reports++ < 3)
		fprintf(stderr, "guard found: %s: %s\n", what, detail);
}

/* Gives every rule of slot a count, as traffic through all of them would (per-CPU values). */
static int count_every_rule(const char *pin_dir, uint32_t slot, size_t n_rules)
{
	char path[256];
	int ncpu = libbpf_num_possible_cpus(), fd, r = 0;
	struct iof_counter *v;

	snprintf(path, sizeof(path), "%s/maps/iof_rule_counters", pin_dir);
	fd = bpf_obj_get(path);
	if (fd < 0 || ncpu <= 0)
		return -errno;
	v = calloc((size_t)ncpu, sizeof(*v));
	for (int c = 0; v && c < ncpu; c++)
		v[c] = (struct iof_counter){.packets = 3, .bytes = 300};
	for (size_t i = 0; v && !r && i < n_rules; i++) {
		__u32 key = slot * IOF_MAX_RULES + (__u32)i;

		r = bpf_map_update_elem(fd, &key, v, BPF_ANY) ? -errno : 0;
	}
	free(v);
	close(fd);
	return r;
}

struct series {
	double v[MAX_RUNS];
	int n;
};

static void add(struct series *s, double x)
{
	if (s->n < MAX_RUNS)
		s->v[s->n++] = x;
}

static void bench_guard_pass(struct datapath *dp, int passes)
{
	struct series links = {0}, pins = {0}, maps = {0}, eps = {0}, verify = {0};

	for (int i = 0; i < passes; i++) {
		double t = cpu_ms();

		dp_check_links(dp, count_report, NULL);
		add(&links, cpu_ms() - t);
		t = cpu_ms();
		dp_check_pins(dp, count_report, NULL);
		add(&pins, cpu_ms() - t);
		t = cpu_ms();
		dp_check_slot_maps(dp, count_report, NULL);
		add(&maps, cpu_ms() - t);
		t = cpu_ms();
		dp_check_endpoint_entries(dp, count_report, NULL);
		add(&eps, cpu_ms() - t);
		t = cpu_ms();
		dp_verify_slots(dp, true, count_report, NULL);
		add(&verify, cpu_ms() - t);
	}
	double c = median(links.v, links.n) + median(pins.v, pins.n) + median(maps.v, maps.n) +
		   median(eps.v, eps.n);
	double v = median(verify.v, verify.n);
	/* the guard verifies again (cost of the whole tick) * VERIFY_DUTY after it began */
	double verify_every_s = (c + v) * GUARD_VERIFY_DUTY / 1e3;
	double per_s;

	if (verify_every_s > GUARD_VERIFY_EVERY_MAX_MS / 1e3)
		verify_every_s = GUARD_VERIFY_EVERY_MAX_MS / 1e3;
	if (verify_every_s < GUARD_PERIOD_MS / 1e3)
		verify_every_s = GUARD_PERIOD_MS / 1e3;
	per_s = c / (GUARD_PERIOD_MS / 1e3) + v / verify_every_s;
	printf("| guard checks: links / pins / slot maps / endpoint entries | %.2f / %.2f / %.2f "
	       "/ %.2f ms CPU a pass |\n",
	       median(links.v, links.n), median(pins.v, pins.n), median(maps.v, maps.n),
	       median(eps.v, eps.n));
	printf("| policy-trie verification, both slots (dp_verify_slots) | %.2f ms CPU a pass, "
	       "every %.1f s |\n",
	       v, verify_every_s);
	printf("| guard per second of agent life | %.2f ms CPU (%.2f%% of a core) |\n", per_s,
	       per_s / 10.0);
}

struct verifier {
	struct datapath *dp;
	bool hold;
	atomic_bool stop;
	unsigned concluded, overtaken;
};

static void *verify_on_schedule(void *arg)
{
	struct verifier *v = arg;

	while (!atomic_load(&v->stop)) {
		double w = bench_now_s();
		int r = dp_verify_slots(v->dp, v->hold, count_report, NULL);
		double apart = (bench_now_s() - w) * GUARD_VERIFY_DUTY;

		v->concluded += r >= 0;
		v->overtaken += r == -EAGAIN;
		if (r == -EAGAIN) /* as the guard does */
			apart = GUARD_VERIFY_RETRY_MS / 1e3;
		for (; apart > 0 && !atomic_load(&v->stop); apart -= 0.01)
			usleep(10000);
	}
	return NULL;
}

static double percentile(double *v, int n, double p)
{
	qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
	return n ? v[(int)((n - 1) * p + 0.5)] : 0;
}

/* mode 0: no verification; 1: verifications holding applies; 2: verifications beside them. */
static int applies_beside_guard(struct datapath *dp, struct policy_image **img, int applies,
				int mode, uint64_t *revision)
{
	static const char *const names[] = {"no verification", "verification holding applies",
					    "verification beside applies"};
	struct verifier v = {.dp = dp, .hold = mode == 1};
	struct series wall = {0};
	unsigned seed = 7;
	pthread_t th;
	char err[256];
	int r = 0;

	if (mode && pthread_create(&th, NULL, verify_on_schedule, &v))
		return -errno;
	for (int i = 0; i < applies && !r; i++) {
		struct policy_image *next = img[*revision & 1];
		double w;

		usleep((useconds_t)(rand_r(&seed) % 20000));
		next->revision = (*revision)++;
		w = bench_now_s();
		r = dp_apply(dp, next, err, sizeof(err));
		add(&wall, (bench_now_s() - w) * 1e3);
	}
	if (mode) {
		atomic_store(&v.stop, true);
		pthread_join(th, NULL);
	}
	if (r) {
		fprintf(stderr, "apply: %s\n", err);
		return r;
	}
	printf("| one-rule apply, %s (%d applies; %u verifications concluded, %u overtaken) | "
	       "p50 %.1f / p99 %.1f / max %.1f ms wall |\n",
	       names[mode], wall.n, v.concluded, v.overtaken, percentile(wall.v, wall.n, 0.5),
	       percentile(wall.v, wall.n, 0.99), percentile(wall.v, wall.n, 1.0));
	return 0;
}

int main(int argc, char **argv)
{
	struct gen_realistic_opts o = {.rules = 10000, .endpoints = 50, .groups = 10,
				       .group_pct = 30, .any_pct = 5};
	int passes = 20, applies = 20, waits = 0;
	char pin_dir[128], err[256];
	struct dp_options opts = {0};
	struct datapath *dp = NULL;
	struct policy_image *img[2] = {NULL, NULL};
	struct policy_document *doc;
	struct gen_rng rng = {.state = 42};
	int rc = 1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--rules") && i + 1 < argc)
			o.rules = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--endpoints") && i + 1 < argc)
			o.endpoints = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--passes") && i + 1 < argc)
			passes = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--applies") && i + 1 < argc)
			applies = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--waits") && i + 1 < argc)
			waits = atoi(argv[++i]);
		else {
			fprintf(stderr,
				"usage: %s [--rules N] [--endpoints N] [--passes N] [--applies N] "
				"[--waits N]\n",
				argv[0]);
			return 2;
		}
	}
	if (passes < 1 || passes > MAX_RUNS || applies < 2 || applies > MAX_RUNS || waits < 0 ||
	    waits > MAX_RUNS) {
		fprintf(stderr, "--passes 1..%d, --applies 2..%d, --waits 0..%d\n", MAX_RUNS,
			MAX_RUNS, MAX_RUNS);
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "SKIP: needs root (BPF)\n");
		return SKIP;
	}
	doc = gen_realistic_policy(&rng, &o);
	for (int k = 0; k < 2; k++) {
		if (k) /* the second image: one rule's priority changed */
			doc->groups[0].rules[0].priority ^= 1;
		if (policy_compile(doc, GEN_NODE, &img[k], err, sizeof(err))) {
			fprintf(stderr, "compile: %s\n", err);
			goto out;
		}
	}
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/iofence-bench-guard-%d", (int)getpid());
	opts.pin_dir = pin_dir;
	if (dp_open(&opts, &dp, err, sizeof(err))) {
		fprintf(stderr, "SKIP: datapath: %s\n", err);
		rc = SKIP;
		goto out;
	}
	printf("| %zu rules, %zu local endpoints: %zu policy + %zu remote entries an image | |\n"
	       "|---|---|\n",
	       o.rules, o.endpoints, img[0]->n_policy, img[0]->n_remote4 + img[0]->n_remote6);

	struct series apply_cpu = {0}, apply_wall = {0}, ledger_idle = {0}, ledger_counted = {0};

	for (int i = 0; i < applies; i++) {
		double t = cpu_ms(), w = bench_now_s();

		if (dp_apply(dp, img[i & 1], err, sizeof(err))) {
			fprintf(stderr, "apply: %s\n", err);
			goto out;
		}
		if (i >= 2) /* the first two write both slots whole */
			add(&apply_cpu, cpu_ms() - t), add(&apply_wall, (bench_now_s() - w) * 1e3);
	}
	bench_guard_pass(dp, passes);
	for (int i = 0; i < applies; i++) {
		uint32_t slot = dp_active_slot(dp) ^ 1; /* what the next apply retires */
		bool counted = i & 1;
		double t;

		if (counted && count_every_rule(pin_dir, slot, img[0]->n_rules)) {
			fprintf(stderr, "could not set counters: %s\n", strerror(errno));
			goto out;
		}
		t = cpu_ms();
		dp_ledger_retire(&dp->ledger, (uint8_t)slot, img[i & 1], true); /* all move */
		add(counted ? &ledger_counted : &ledger_idle, cpu_ms() - t);
	}
	printf("| counter ledger a retired slot, no rule counted | %.2f ms CPU |\n",
	       median(ledger_idle.v, ledger_idle.n));
	printf("| counter ledger a retired slot, every rule counted | %.2f ms CPU |\n",
	       median(ledger_counted.v, ledger_counted.n));
	printf("| dp_apply of a one-rule change (ledger included) | %.2f ms CPU, %.2f ms wall |\n",
	       median(apply_cpu.v, apply_cpu.n), median(apply_wall.v, apply_wall.n));
	uint64_t revision = 1000;

	for (int mode = 0; waits && mode < 3; mode++)
		if (applies_beside_guard(dp, img, waits, mode, &revision))
			goto out;
	rc = 0;
out:
	if (dp) {
		dp_close(dp);
		dp_cleanup(pin_dir, err, sizeof(err));
	}
	policy_image_free(img[0]);
	policy_image_free(img[1]);
	policy_document_free(doc);
	return rc;
}
