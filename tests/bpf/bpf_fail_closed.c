// SPDX-License-Identifier: Apache-2.0
/*
 * Fail-closed start and conntrack pressure through the TC programs (BPF_PROG_TEST_RUN):
 * within an endpoint's settle window (iof_ep_settle) a flow it opens other than by a TCP SYN
 * is provisional and packets entering the workload on it are judged by the ingress policy;
 * outside it they pass as replies (an ICMP echo request opens a normal flow even within it:
 * it answers nothing); an ICMP echo reply opens no flow; iof_ct_stats counts
 * inserts exactly when the table is driven to twice its capacity (the LRU evicts, nothing
 * fails). Policies go through the real compiler.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>

#include "harness.h"

#define EP "10.0.0.5"

/* Ingress: only udp/5001 from 10.9.0.0/16; egress: everything. */
static const char *policy =
    "defaults: {ingress: deny, egress: allow}\n"
    "securityGroups:\n"
    "  - name: web\n"
    "    rules:\n"
    "      - {direction: ingress, protocol: udp, ports: [5001], cidr: 10.9.0.0/16}\n"
    "endpoints:\n"
    "  - {name: web-1, node: node-a, interface: iof0, addresses: [10.0.0.5], groups: [web]}\n";

static struct harness h;
static int from_ep, to_ep;

static int run(const struct pkt_spec *s, bool egress)
{
	uint8_t buf[512];
	size_t len = pkt_build(s, buf);

	return harness_run_tc(&h, egress ? from_ep : to_ep, h.ifindex[0], buf, len);
}

static struct pkt_spec udp(const char *src, const char *dst, uint16_t sport, uint16_t dport)
{
	struct pkt_spec s = {.proto = 17, .sport = sport, .dport = dport};

	pkt_addr(&s, src, dst);
	return s;
}

/* The endpoint's settle window: open for the next ten seconds, or closed. */
static bool settle(bool open)
{
	__u32 id = (__u32)h.ifindex[0];
	struct timespec ts;
	__u64 until;

	if (!open)
		return !bpf_map_delete_elem(h.fds.ep_settle, &id) || errno == ENOENT;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	until = (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec + 10ull * 1000000000ull;
	return !bpf_map_update_elem(h.fds.ep_settle, &id, &until, BPF_ANY);
}

static bool test_reply_to_an_unjudged_packet_does_not_open_the_denied_flow(void)
{
	struct pkt_spec reply = udp(EP, "10.9.9.9", 5000, 4000); /* the workload answers */
	struct pkt_spec again = udp("10.9.9.9", EP, 4000, 5000); /* the denied flow goes on */
	struct pkt_spec reply2 = udp(EP, "10.9.9.9", 5002, 4000);
	struct pkt_spec again2 = udp("10.9.9.9", EP, 4000, 5002);
	bool ok = true;

	harness_clear_ct(&h);
	ok &= ASSERT_TRUE(settle(true), "open the settle window");
	ok &= ASSERT_EQ(run(&reply, true), TC_ACT_OK, "the workload's packet leaves (egress allow)");
	ok &= ASSERT_EQ(run(&again, false), TC_ACT_SHOT, "inbound on a provisional flow: judged");
	ok &= ASSERT_EQ(run(&again, false), TC_ACT_SHOT, "and again");
	ok &= ASSERT_EQ(run(&reply, true), TC_ACT_OK, "the workload's packets still leave");
	ok &= ASSERT_TRUE(settle(false), "close the settle window");
	ok &= ASSERT_EQ(run(&again, false), TC_ACT_SHOT, "a provisional flow stays judged");
	ok &= ASSERT_EQ(run(&reply2, true), TC_ACT_OK, "a flow opened outside the window");
	ok &= ASSERT_EQ(run(&again2, false), TC_ACT_OK, "its replies pass");
	return ok;
}

static bool test_provisional_flow_passes_what_ingress_allows(void)
{
	struct pkt_spec out = udp(EP, "10.9.1.1", 5001, 53);
	struct pkt_spec in = udp("10.9.1.1", EP, 53, 5001);
	bool ok = true;

	harness_clear_ct(&h);
	ok &= ASSERT_TRUE(settle(true), "open the settle window");
	ok &= ASSERT_EQ(run(&out, true), TC_ACT_OK, "out");
	ok &= ASSERT_EQ(run(&in, false), TC_ACT_OK, "in: udp/5001 from 10.9/16 is allowed");
	ok &= ASSERT_TRUE(settle(false), "close the settle window");
	return ok;
}

static bool test_echo_reply_opens_no_flow(void)
{
	struct pkt_spec reply = {.proto = 1, .icmp_type = 0, .sport = 77};
	struct pkt_spec request = {.proto = 1, .icmp_type = 8, .sport = 77};
	unsigned n0;
	bool ok = true;

	pkt_addr(&reply, EP, "10.9.9.9");
	pkt_addr(&request, "10.9.9.9", EP);
	harness_clear_ct(&h);
	n0 = harness_ct_count(&h);
	ok &= ASSERT_EQ(run(&reply, true), TC_ACT_OK, "an echo reply leaves (egress allow)");
	ok &= ASSERT_EQ(harness_ct_count(&h), n0, "and opens nothing");
	ok &= ASSERT_EQ(run(&request, false), TC_ACT_SHOT, "an echo request in is judged: denied");
	return ok;
}

/* The workload pings out in its settle window: an echo request answers nothing, so the
 * flow it opens is a normal one and the echo reply passes (ingress denies ICMP here). */
static bool test_echo_request_in_the_window_is_not_provisional(void)
{
	struct pkt_spec request = {.proto = 1, .icmp_type = 8, .sport = 78};
	struct pkt_spec reply = {.proto = 1, .icmp_type = 0, .sport = 78};
	bool ok = true;

	pkt_addr(&request, EP, "10.9.9.9");
	pkt_addr(&reply, "10.9.9.9", EP);
	harness_clear_ct(&h);
	ok &= ASSERT_TRUE(settle(true), "open the settle window");
	ok &= ASSERT_EQ(run(&request, true), TC_ACT_OK, "the workload's echo request leaves");
	ok &= ASSERT_EQ(run(&reply, false), TC_ACT_OK, "its echo reply passes as a reply");
	ok &= ASSERT_TRUE(settle(false), "close the settle window");
	return ok;
}

static struct iof_ct_stats ct_stats(void)
{
	int ncpu = libbpf_num_possible_cpus();
	struct iof_ct_stats sum = {0}, *v = calloc((size_t)ncpu, sizeof(*v));
	__u32 zero = 0;

	if (v && !bpf_map_lookup_elem(h.fds.ct_stats, &zero, v))
		for (int c = 0; c < ncpu; c++)
			for (int f = 0; f < 2; f++) {
				sum.inserts[f] += v[c].inserts[f];
				sum.deletes[f] += v[c].deletes[f];
				sum.insert_failures[f] += v[c].insert_failures[f];
			}
	free(v);
	return sum;
}

static bool test_conntrack_pressure_is_counted(void)
{
	const unsigned n = IOF_CT_MAX + 16384; /* past the capacity (2x: ~75 s here) */
	struct iof_ct_stats s0, s1;
	unsigned passed = 0, left;
	uint64_t derived;
	uint8_t buf[512];
	size_t len;
	bool ok = true;

	harness_clear_ct(&h);
	s0 = ct_stats();
	for (unsigned i = 0; i < n; i++) {
		char dst[32];
		struct pkt_spec s;

		snprintf(dst, sizeof(dst), "10.%u.%u.%u", 20 + (i >> 16), (i >> 8) & 255, i & 255);
		s = udp(EP, dst, 1024 + (uint16_t)(i % 50000), 9);
		len = pkt_build(&s, buf);
		passed += harness_run_tc(&h, from_ep, h.ifindex[0], buf, len) == TC_ACT_OK;
	}
	s1 = ct_stats();
	left = harness_ct_count(&h);
	ok &= ASSERT_EQ(passed, n, "every new flow passes");
	ok &= ASSERT_EQ(s1.inserts[0] - s0.inserts[0], n, "every flow counted as an insert");
	ok &= ASSERT_EQ(s1.insert_failures[0] - s0.insert_failures[0], 0, "no insert failed");
	ok &= ASSERT_TRUE(left <= IOF_CT_MAX, "the table holds at most its capacity: %u", left);
	/* what ct_stats.c derives: inserts - deletes beyond the capacity */
	derived = (s1.inserts[0] - s0.inserts[0]) - (s1.deletes[0] - s0.deletes[0]) - IOF_CT_MAX;
	printf("    %u new flows into a table of %u: %u left, %u evicted (derived: %llu)\n", n,
	       IOF_CT_MAX, left, n - left, (unsigned long long)derived);
	ok &= ASSERT_TRUE(derived <= n - left, "derived evictions are a lower bound");
	return ok; /* the last test: the table is left full */
}

int main(void)
{
	static const struct harness_test tests[] = {
	    HARNESS_TEST(test_reply_to_an_unjudged_packet_does_not_open_the_denied_flow),
	    HARNESS_TEST(test_provisional_flow_passes_what_ingress_allows),
	    HARNESS_TEST(test_echo_reply_opens_no_flow),
	    HARNESS_TEST(test_echo_request_in_the_window_is_not_provisional),
	    HARNESS_TEST(test_conntrack_pressure_is_counted),
	};
	struct iof_config cfg = {.events_per_sec = 0};
	struct policy_document *doc = NULL;
	struct policy_image *img = NULL;
	int failed = 0;

	harness_open(&h);
	from_ep = bpf_program__fd(h.skel->progs.iof_tc_from_ep);
	to_ep = bpf_program__fd(h.skel->progs.iof_tc_to_ep);
	if (harness_config(&h, &cfg) ||
	    !ASSERT_EQ(harness_apply_yaml(&h, policy, &doc, &img), 0, "apply policy"))
		return 1;
	failed = harness_run_tests("bpf_fail_closed", tests, sizeof(tests) / sizeof(tests[0]));
	policy_image_free(img);
	policy_document_free(doc);
	harness_close(&h);
	return failed ? 1 : 0;
}
