// SPDX-License-Identifier: Apache-2.0
/*
 * bench/verdict: ns per packet through the TC program (BPF_PROG_TEST_RUN) for established and
 * new flows, with realistic policies of 1, 100, 10k and 100k rules over 1000 local endpoints,
 * IPv4 and IPv6, beside the empty TC program in the same run. New flows: a denied packet
 * (never tracked, so every repetition takes the full new-flow path) and an allowed one with
 * conntrack insertion disabled (IOF_CFG_BENCH_NO_CT_INSERT). Each figure is averaged over
 * --remotes distinct remote addresses (one test run of repeat/remotes each), since one hot key
 * flatters the LPM trie. Prints a markdown table and the target ratios.
 *   bench_verdict [--rules 1,100,10000,100000] [--endpoints 1000] [--repeat 1000000]
 *                 [--remotes 64]
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <linux/pkt_cls.h>

#include "bench_util.h"
#include "gen.h"
#include "harness.h"
#include "policy/eval.h"

static struct harness h;
static unsigned long repeat = 1000000, n_remotes = 64;

/* Mean ns per run of prog over the packets, repeat/n runs each. */
static double measure_once(int prog, uint8_t (*pkts)[256], const size_t *lens, size_t n)
{
	double sum = 0;
	uint32_t per = (uint32_t)(repeat / n ? repeat / n : 1);

	for (size_t i = 0; i < n; i++) {
		struct __sk_buff ctx = {.ifindex = (uint32_t)h.ifindex[0]};
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkts[i],
			    .data_size_in = (uint32_t)lens[i], .ctx_in = &ctx,
			    .ctx_size_in = sizeof(ctx), .repeat = per);

		if (bpf_prog_test_run_opts(prog, &opts)) {
			perror("bpf_prog_test_run_opts");
			exit(1);
		}
		sum += opts.duration;
	}
	return sum / (double)n;
}

struct flows {
	uint8_t (*deny)[256], (*allow)[256], (*est)[256];
	size_t *deny_len, *allow_len, *est_len;
	size_t n_deny, n_allow, n_est;
};

static void flows_free(struct flows *f)
{
	free(f->deny), free(f->allow), free(f->est);
	free(f->deny_len), free(f->allow_len), free(f->est_len);
}

/* A remote address: another endpoint's (a group member, in the trie as a host) or any. */
static struct policy_prefix pick_remote(struct gen_rng *r, const struct policy_document *doc,
					unsigned family)
{
	for (int tries = 0; tries < 64; tries++) {
		const struct policy_endpoint *ep =
		    &doc->endpoints[gen_below(r, (uint32_t)doc->n_endpoints)];

		for (size_t a = 0; a < ep->n_addresses; a++)
			if (ep->addresses[a].family == family && gen_below(r, 4))
				return ep->addresses[a];
	}
	struct policy_prefix p = {.family = (uint8_t)family, .len = family == 4 ? 32 : 128};

	for (int i = 0; i < (family == 4 ? 4 : 16); i++)
		p.addr[i] = (uint8_t)gen_next(r);
	return p;
}

/*
 * Packets at endpoint 0: ingress SYNs the policy denies, egress SYNs it allows, and ACKs of
 * admitted ingress flows (established; inserted here with conntrack on).
 */
static void make_flows(struct gen_rng *r, const struct policy_document *doc,
		       const struct policy_image *img, unsigned family, struct flows *f)
{
	const struct policy_endpoint *ep = &doc->endpoints[img->endpoints[0].doc_index];
	const struct policy_prefix *local = NULL;
	static const uint16_t ports[] = {22, 53, 80, 443, 3306, 5432, 6379, 8080, 8443, 9090};

	for (size_t a = 0; a < ep->n_addresses; a++)
		if (ep->addresses[a].family == family)
			local = &ep->addresses[a];
	memset(f, 0, sizeof(*f));
	f->deny = calloc(n_remotes, 256), f->allow = calloc(n_remotes, 256);
	f->est = calloc(n_remotes, 256);
	f->deny_len = calloc(n_remotes, sizeof(size_t));
	f->allow_len = calloc(n_remotes, sizeof(size_t));
	f->est_len = calloc(n_remotes, sizeof(size_t));
	if (!local)
		return;
	for (int tries = 0; tries < 100000 && (f->n_deny < n_remotes || f->n_allow < n_remotes);
	     tries++) {
		struct policy_packet pkt = {.remote = pick_remote(r, doc, family), .proto = 6};
		struct policy_verdict v;
		struct pkt_spec s = {.family = (uint8_t)family,
				     .proto = 6,
				     .tcp_flags = 2,
				     .sport = (uint16_t)(1024 + gen_below(r, 60000))};

		pkt.direction = gen_below(r, 2) ? POLICY_INGRESS : POLICY_EGRESS;
		pkt.dport = gen_below(r, 2) ? ports[gen_below(r, 10)] : (uint16_t)gen_next(r);
		s.dport = pkt.dport;
		policy_evaluate(doc, ep, &pkt, &v);
		if (pkt.direction == POLICY_INGRESS && v.action == POLICY_DENY &&
		    f->n_deny < n_remotes) {
			memcpy(s.src, pkt.remote.addr, 16);
			memcpy(s.dst, local->addr, 16);
			f->deny_len[f->n_deny] = pkt_build(&s, f->deny[f->n_deny]);
			f->n_deny++;
		} else if (pkt.direction == POLICY_EGRESS && v.action == POLICY_ALLOW &&
			   f->n_allow < n_remotes) {
			memcpy(s.src, local->addr, 16);
			memcpy(s.dst, pkt.remote.addr, 16);
			f->allow_len[f->n_allow] = pkt_build(&s, f->allow[f->n_allow]);
			f->n_allow++;
			/* the same flow's reply, once admitted, is the established packet */
			struct pkt_spec rep = s;

			memcpy(rep.src, s.dst, 16);
			memcpy(rep.dst, s.src, 16);
			rep.sport = s.dport;
			rep.dport = s.sport;
			rep.tcp_flags = 0x10;
			f->est_len[f->n_est] = pkt_build(&rep, f->est[f->n_est]);
			f->n_est++;
		}
	}
}

#define PASSES 5

enum metric { M_EMPTY, M_EST4, M_DENY4, M_ALLOW4, M_EST6, M_DENY6, M_ALLOW6, M_N };

/* One policy, written into its own slot, with its packets and per-pass figures. */
struct side {
	size_t rules, entries;
	double write_s;
	uint8_t slot;
	uint64_t revision;
	struct flows f[2];
	double v[M_N][PASSES];
};

static int side_load(struct gen_rng *rng, size_t rules, size_t endpoints, uint8_t slot,
		     struct side *s)
{
	struct gen_realistic_opts o = {
	    .rules = rules, .endpoints = endpoints, .groups = 100, .group_pct = 60, .any_pct = 3};
	struct policy_document *doc = gen_realistic_policy(rng, &o);
	struct policy_image *img = NULL;
	uint32_t *attach;
	char msg[200] = "";
	double t0;
	int err = -1;

	memset(s, 0, sizeof(*s));
	if (policy_compile(doc, GEN_NODE, &img, msg, sizeof(msg))) {
		fprintf(stderr, "compile: %s\n", msg);
		policy_document_free(doc);
		return -1;
	}
	attach = calloc(img->n_endpoints, sizeof(*attach));
	for (size_t i = 0; attach && i < img->n_endpoints; i++)
		attach[i] = i ? 0x1000000u + (uint32_t)i : (uint32_t)h.ifindex[0];
	t0 = bench_now_s();
	if (!attach || dp_slot_clear(&h.fds, slot) ||
	    dp_image_write(&h.fds, img, slot, attach, NULL, msg, sizeof(msg))) {
		fprintf(stderr, "write: %s\n", msg);
		goto out;
	}
	s->write_s = bench_now_s() - t0;
	s->slot = slot;
	s->revision = ++h.revision;
	s->rules = rules;
	s->entries = policy_image_entries(img);
	for (int fam = 0; fam < 2; fam++) {
		make_flows(rng, doc, img, fam ? 6 : 4, &s->f[fam]);
		if (!s->f[fam].n_deny || !s->f[fam].n_allow) {
			fprintf(stderr, "no %s flows found for %zu rules\n", fam ? "IPv6" : "IPv4",
				rules);
			goto out;
		}
	}
	err = 0;
out:
	free(attach);
	policy_image_free(img);
	policy_document_free(doc);
	return err;
}

/* Makes s's slot the active one and measures every figure once (pass). */
static void side_measure(struct side *s, int pass)
{
	int from_ep = bpf_program__fd(h.skel->progs.iof_tc_from_ep);
	int to_ep = bpf_program__fd(h.skel->progs.iof_tc_to_ep);
	int empty = bpf_program__fd(h.skel->progs.iof_tc_empty);
	struct iof_config cfg = {0};

	dp_slot_activate(h.fds.state, s->slot, s->revision);
	for (int fam = 0; fam < 2; fam++) {
		struct flows *f = &s->f[fam];
		int base = fam ? M_EST6 : M_EST4;

		harness_clear_ct(&h);
		cfg.flags = 0; /* admit the allowed flows: their replies are established */
		harness_config(&h, &cfg);
		measure_once(from_ep, f->allow, f->allow_len, f->n_allow);
		s->v[base][pass] = measure_once(to_ep, f->est, f->est_len, f->n_est);
		harness_clear_ct(&h);
		cfg.flags = IOF_CFG_BENCH_NO_CT_INSERT;
		harness_config(&h, &cfg);
		s->v[base + 1][pass] = measure_once(to_ep, f->deny, f->deny_len, f->n_deny);
		s->v[base + 2][pass] = measure_once(from_ep, f->allow, f->allow_len, f->n_allow);
	}
	s->v[M_EMPTY][pass] = measure_once(empty, s->f[0].est, s->f[0].est_len, s->f[0].n_est);
}

static double med(const struct side *s, enum metric m)
{
	double v[PASSES];

	memcpy(v, s->v[m], sizeof(v));
	qsort(v, PASSES, sizeof(v[0]), bench_cmp_double);
	return v[PASSES / 2];
}

/* Median over passes of a/b, both measured in the same pass (paired). */
static double ratio(const struct side *a, enum metric ma, const struct side *b, enum metric mb)
{
	double v[PASSES];

	for (int i = 0; i < PASSES; i++)
		v[i] = a->v[ma][i] / b->v[mb][i];
	qsort(v, PASSES, sizeof(v[0]), bench_cmp_double);
	return v[PASSES / 2];
}

static void print_row(const struct side *s, const struct side *base)
{
	printf(
	    "| %zu | %zu | %.2f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.2f / %.2f | "
	    "%.2f / %.2f | %.2f / %.2f |\n",
	    s->rules, s->entries, s->write_s, med(s, M_EMPTY), med(s, M_EST4), med(s, M_DENY4),
	    med(s, M_ALLOW4), med(s, M_EST6), med(s, M_DENY6), med(s, M_ALLOW6),
	    ratio(s, M_DENY4, base, M_DENY4), ratio(s, M_DENY6, base, M_DENY6),
	    ratio(s, M_ALLOW4, base, M_ALLOW4), ratio(s, M_ALLOW6, base, M_ALLOW6),
	    ratio(s, M_EST4, s, M_EMPTY), ratio(s, M_EST6, s, M_EMPTY));
}

static void side_free(struct side *s)
{
	flows_free(&s->f[0]);
	flows_free(&s->f[1]);
}

int main(int argc, char **argv)
{
	size_t rules[8] = {1, 100, 10000, 100000}, n_rules = 4, endpoints = 1000;
	struct gen_rng rng = {.state = 42};
	struct side base, other;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--rules")) {
			n_rules = 0;
			for (char *t = strtok(argv[i + 1], ","); t && n_rules < 8;
			     t = strtok(NULL, ","))
				rules[n_rules++] = strtoull(t, NULL, 10);
		} else if (!strcmp(argv[i], "--endpoints")) {
			endpoints = strtoull(argv[i + 1], NULL, 10);
		} else if (!strcmp(argv[i], "--repeat")) {
			repeat = strtoul(argv[i + 1], NULL, 10);
		} else if (!strcmp(argv[i], "--remotes")) {
			n_remotes = strtoul(argv[i + 1], NULL, 10);
		} else {
			fprintf(stderr,
				"usage: %s [--rules a,b] [--endpoints N] [--repeat N] "
				"[--remotes N]\n",
				argv[0]);
			return 2;
		}
	}
	if (!n_remotes || n_remotes > 4096)
		n_remotes = 64;
	harness_open(&h);
	if (!n_rules || side_load(&rng, rules[0], endpoints, 0, &base))
		return 1;
	printf("ns per packet (BPF_PROG_TEST_RUN), median of %d passes; a pass runs each figure "
	       "%lu times over %lu remotes. %zu local endpoints. The first policy stays in slot 0, "
	       "each other one is written to slot 1, and every pass measures both (flipping the "
	       "active slot), so ratios compare figures taken side by side.\n\n",
	       PASSES, repeat, n_remotes, endpoints);
	printf("| rules | map entries | write s | empty | v4 est. | v4 new deny | v4 new allow | "
	       "v6 est. | v6 new deny | v6 new allow | new deny ÷ %zu rule (v4 / v6) | "
	       "new allow ÷ %zu rule (v4 / v6) | est. ÷ empty (v4 / v6) |\n",
	       rules[0], rules[0]);
	printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (int p = 0; p < PASSES; p++)
		side_measure(&base, p);
	print_row(&base, &base);
	for (size_t i = 1; i < n_rules; i++) {
		if (side_load(&rng, rules[i], endpoints, 1, &other))
			return 1;
		for (int p = 0; p < PASSES; p++) {
			side_measure(&base, p);
			side_measure(&other, p);
		}
		print_row(&other, &base);
		side_free(&other);
	}
	printf("\nTargets: new flow at the largest policy ÷ at %zu rule <= 1.5; established ÷ "
	       "empty <= 2.0.\n",
	       rules[0]);
	side_free(&base);
	harness_close(&h);
	return 0;
}
