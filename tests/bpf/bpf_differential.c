// SPDX-License-Identifier: Apache-2.0
/*
 * Differential test of the TC programs: random policies x random packets, v4 and v6, every
 * protocol, both directions, audit mode; the program's verdict and the rule its event names
 * must equal the reference evaluator's. Conntrack is kept out (IOF_CFG_BENCH_NO_CT_INSERT) so
 * every packet is judged as a new flow. At least 100,000 packets (IOFENCE_CASES overrides);
 * the seed is printed and IOFENCE_SEED reproduces a run. A run in which no rule decided or
 * nothing was denied fails: it would check too little.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <linux/pkt_cls.h>

#include "gen.h"
#include "harness.h"
#include "policy/eval.h"
#include "policy/prefix.h"

struct stats {
	unsigned long long cases, policies, denied, audit, by_rule, v6, vlan, ext, skipped;
};

static void local_address(const struct policy_endpoint *ep, unsigned family, uint8_t *addr)
{
	for (size_t i = 0; i < ep->n_addresses; i++)
		if (ep->addresses[i].family == family) {
			memcpy(addr, ep->addresses[i].addr, family == 4 ? 4 : 16);
			return;
		}
	memset(addr, 0, 16);
	if (family == 4) {
		addr[0] = 10, addr[1] = 99, addr[3] = 1;
	} else {
		addr[0] = 0xfd, addr[1] = 0x99, addr[15] = 1;
	}
}

static void describe(const struct policy_packet *pkt, const struct pkt_spec *s, uint32_t local)
{
	char addr[PREFIX_STR_MAX];

	prefix_format(&pkt->remote, true, addr);
	fprintf(stderr, "  endpoint %u %s remote %s proto %u dport %u vlan %d ext %d\n", local,
		pkt->direction == POLICY_INGRESS ? "ingress" : "egress", addr, pkt->proto,
		pkt->dport, s->vlan, s->v6_ext);
}

/* One packet; returns 0 if program and evaluator agree. */
static int check_one(struct harness *h, const struct policy_document *doc,
		     const struct policy_image *img, uint32_t local,
		     const struct policy_packet *pkt, struct gen_rng *rng, struct stats *st)
{
	const struct policy_endpoint *ep = &doc->endpoints[img->endpoints[local].doc_index];
	struct pkt_spec s = {.family = pkt->remote.family, .proto = pkt->proto};
	struct policy_verdict want;
	uint8_t buf[512];
	size_t len;
	int ret, prog;
	bool ok = true;

	if (s.family == 6 && pkt->proto == 0) {
		st->skipped++; /* next header 0 is hop-by-hop: no IPv6 packet has upper layer 0 */
		return 0;
	}
	s.vlan = gen_below(rng, 10) == 0 ? 1 + (int)gen_below(rng, 2) : 0;
	s.v6_ext = s.family == 6 && gen_below(rng, 8) == 0 ? 1 + (int)gen_below(rng, 3) : 0;
	s.ip4_options = s.family == 4 && gen_below(rng, 8) == 0 ? 1 + (int)gen_below(rng, 10) : 0;
	s.tcp_flags = 0x02;			 /* SYN */
	s.icmp_type = pkt->proto == 1 ? 8 : 128; /* echo request */
	s.sport = (uint16_t)(1024 + gen_below(rng, 60000));
	if (pkt->direction == POLICY_EGRESS) {
		local_address(ep, s.family, s.src);
		memcpy(s.dst, pkt->remote.addr, 16);
		s.dport = pkt->dport;
		prog = bpf_program__fd(h->skel->progs.iof_tc_from_ep);
	} else {
		memcpy(s.src, pkt->remote.addr, 16);
		local_address(ep, s.family, s.dst);
		s.dport = pkt->dport;
		prog = bpf_program__fd(h->skel->progs.iof_tc_to_ep);
	}
	if (pkt->proto == 1 || pkt->proto == 58)
		s.dport = 0;
	len = pkt_build(&s, buf);
	policy_evaluate(doc, ep, pkt, &want);
	ret = harness_run_tc(h, prog, h->ifindex[local], buf, len);
	harness_events(h);
	st->cases++;
	st->v6 += s.family == 6;
	st->vlan += s.vlan != 0;
	st->ext += s.v6_ext != 0;
	st->denied += want.action == POLICY_DENY;
	st->audit += want.audit;
	st->by_rule += want.rule != NULL;

	bool pass = want.action == POLICY_ALLOW || want.audit;

	ok &= ASSERT_EQ(ret, pass ? TC_ACT_OK : TC_ACT_SHOT, "tc verdict");
	if (!ASSERT_EQ(h->n_events, 1, "events per new flow")) {
		describe(pkt, &s, local);
		return -1;
	}
	const struct iof_event *ev = &h->events[0];
	uint8_t want_reason = want.action == POLICY_ALLOW ? IOF_DROP_NONE
			      : want.audit		  ? IOF_DROP_AUDIT
			      : want.rule		  ? IOF_DROP_POLICY
							  : IOF_DROP_DEFAULT;

	ok &= ASSERT_EQ(ev->reason, want_reason, "event reason");
	ok &= ASSERT_EQ(!!(ev->flags & IOF_EV_AUDIT), want.audit, "event audit flag");
	ok &= ASSERT_EQ(ev->endpoint_index, local, "event endpoint");
	ok &= ASSERT_EQ(ev->dir, pkt->direction == POLICY_EGRESS ? IOF_DIR_EGRESS : IOF_DIR_INGRESS,
			"event direction");
	if (want.rule) {
		ok &= ASSERT_TRUE(ev->rule_id < img->n_rules &&
				      img->rules[ev->rule_id].group_index == want.group_index &&
				      img->rules[ev->rule_id].rule_index == want.rule_index,
				  "deciding rule: event rule id %u, evaluator group %zu rule %zu",
				  ev->rule_id, want.group_index, want.rule_index);
	} else {
		ok &= ASSERT_EQ(ev->rule_id, IOF_RULE_NONE, "default verdict rule id");
	}
	if (!ok) {
		struct image_packet ip = {.endpoint_index = local,
					  .direction = pkt->direction,
					  .remote = pkt->remote,
					  .proto = pkt->proto,
					  .dport = pkt->dport};
		struct image_verdict iv;

		describe(pkt, &s, local);
		if (!policy_image_lookup(img, &ip, &iv))
			fprintf(stderr, "  user-space image lookup: action %d rule %u default %d\n",
				iv.action, iv.rule_id, iv.is_default);
	}
	return ok ? 0 : -1;
}

int main(void)
{
	uint64_t seed = gen_seed_from_env();
	const char *env = getenv("IOFENCE_CASES");
	unsigned long long want_cases = env ? strtoull(env, NULL, 0) : 100000;
	struct gen_rng rng = {.state = seed};
	struct iof_config cfg = {.events_per_sec = 1000000000u,
				 .flags = IOF_CFG_EVENT_ALLOWS | IOF_CFG_BENCH_NO_CT_INSERT};
	struct stats st = {0};
	struct harness h;
	int failed = 0;

	harness_open(&h);
	printf("bpf_differential: seed %llu (IOFENCE_SEED=%llu reproduces)\n",
	       (unsigned long long)seed, (unsigned long long)seed);
	if (harness_config(&h, &cfg))
		return 1;
	while (st.cases < want_cases && !failed) {
		struct policy_document *doc = gen_random_policy(&rng);
		const char *node = gen_below(&rng, 4) ? GEN_NODE : GEN_OTHER_NODE;
		struct policy_image *img = NULL;

		if (harness_apply(&h, doc, node, &img)) {
			fprintf(stderr, "seed %llu policy %llu: apply failed\n",
				(unsigned long long)seed, st.policies);
			return 1;
		}
		st.policies++;
		for (uint32_t i = 0; img->n_endpoints && i < 400 && !failed; i++) {
			uint32_t local = gen_below(&rng, (uint32_t)img->n_endpoints);
			struct policy_packet pkt;

			gen_random_packet(&rng, doc, img->endpoints[local].doc_index, &pkt);
			if (check_one(&h, doc, img, local, &pkt, &rng, &st)) {
				fprintf(stderr, "seed %llu, policy %llu, case %llu\n",
					(unsigned long long)seed, st.policies, st.cases);
				failed = 1;
			}
		}
		policy_image_free(img);
		policy_document_free(doc);
	}
	if (!failed && !ASSERT_EQ(harness_ct_count(&h), 0, "conntrack entries with no-insert"))
		failed = 1;
	if (!failed && !ASSERT_TRUE(st.by_rule && st.denied,
				    "coverage: %llu decided by a rule, %llu denied", st.by_rule,
				    st.denied))
		failed = 1;
	printf("bpf_differential: %llu packets over %llu policies %s (%llu IPv6, %llu VLAN, "
	       "%llu with IPv6 extension headers; %llu denied, %llu audit, %llu decided by a "
	       "rule; %llu skipped: IPv6 with upper layer 0)\n",
	       st.cases, st.policies, failed ? "FAILED" : "agree", st.v6, st.vlan, st.ext,
	       st.denied, st.audit, st.by_rule, st.skipped);
	harness_close(&h);
	return failed;
}
