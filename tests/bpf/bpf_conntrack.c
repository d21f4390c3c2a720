// SPDX-License-Identifier: Apache-2.0
/*
 * Conntrack and parsing through the TC programs (BPF_PROG_TEST_RUN): TCP life cycle, replies
 * that pass without rules, denied flows never tracked, revocation after a flip, re-checked
 * flows that stay, timeouts, related ICMP errors, ARP/NDP, fragments, VLAN, IPv6 extension
 * headers, truncated packets and unknown endpoints. Policies go through the real compiler.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>

#include "harness.h"

#define EP "10.0.0.5"
#define EP6 "fd00::5"

/* Ingress: tcp/80 from 10.1.0.0/16 and fd01::/64, tcp/443 from 10.1.0.0/16; egress: udp/53.
 * Both defaults deny, so a reply can only pass by conntrack. */
static const char *policy_a =
    "defaults: {ingress: deny, egress: deny}\n"
    "securityGroups:\n"
    "  - name: web\n"
    "    rules:\n"
    "      - {direction: ingress, protocol: tcp, ports: [80], cidr: 10.1.0.0/16}\n"
    "      - {direction: ingress, protocol: tcp, ports: [80], cidr: \"fd01::/64\"}\n"
    "      - {direction: ingress, protocol: tcp, ports: [443], cidr: 10.1.0.0/16}\n"
    "      - {direction: egress, protocol: udp, ports: [53]}\n"
    "endpoints:\n"
    "  - {name: web-1, node: node-a, interface: iof0, addresses: [10.0.0.5, \"fd00::5\"],"
    " groups: [web]}\n";

/* The same but tcp/80 only from 10.2.0.0/16: flows from 10.1.x to port 80 are revoked. */
static const char *policy_b =
    "defaults: {ingress: deny, egress: deny}\n"
    "securityGroups:\n"
    "  - name: web\n"
    "    rules:\n"
    "      - {direction: ingress, protocol: tcp, ports: [80], cidr: 10.2.0.0/16}\n"
    "      - {direction: ingress, protocol: tcp, ports: [443], cidr: 10.1.0.0/16}\n"
    "      - {direction: egress, protocol: udp, ports: [53]}\n"
    "endpoints:\n"
    "  - {name: web-1, node: node-a, interface: iof0, addresses: [10.0.0.5, \"fd00::5\"],"
    " groups: [web]}\n";

static struct harness h;
static int from_ep, to_ep;

struct doc_img {
	struct policy_document *doc;
	struct policy_image *img;
};

static bool apply(const char *yaml, struct doc_img *di)
{
	return ASSERT_EQ(harness_apply_yaml(&h, yaml, &di->doc, &di->img), 0, "apply policy");
}

static void release(struct doc_img *di)
{
	policy_image_free(di->img);
	policy_document_free(di->doc);
	di->img = NULL;
	di->doc = NULL;
}

/* Runs a spec through from_ep (egress = true) or to_ep of endpoint 0. */
static int run(const struct pkt_spec *s, bool egress)
{
	uint8_t buf[512];
	size_t len = pkt_build(s, buf);

	return harness_run_tc(&h, egress ? from_ep : to_ep, h.ifindex[0], buf, len);
}

static struct pkt_spec tcp(const char *src, const char *dst, uint16_t sport, uint16_t dport,
			   uint8_t flags)
{
	struct pkt_spec s = {.proto = 6, .sport = sport, .dport = dport, .tcp_flags = flags};

	pkt_addr(&s, src, dst);
	return s;
}

static struct pkt_spec udp(const char *src, const char *dst, uint16_t sport, uint16_t dport)
{
	struct pkt_spec s = {.proto = 17, .sport = sport, .dport = dport};

	pkt_addr(&s, src, dst);
	return s;
}

static bool ct_state(const struct pkt_spec *s, bool egress, struct iof_ct_val *ret)
{
	struct iof_ct_key k = {
	    .attach_id = (uint32_t)h.ifindex[0], .family = s->family, .proto = s->proto};
	struct iof_ct4_key k4 = {.attach_id = k.attach_id, .proto = s->proto};

	memcpy(k.local, egress ? s->src : s->dst, 16);
	memcpy(k.remote, egress ? s->dst : s->src, 16);
	k.local_port = htons(egress ? s->sport : s->dport);
	k.remote_port = htons(egress ? s->dport : s->sport);
	if (s->family == 6)
		return bpf_map_lookup_elem(h.fds.ct6, &k, ret) == 0;
	memcpy(k4.local, k.local, 4);
	memcpy(k4.remote, k.remote, 4);
	k4.local_port = k.local_port;
	k4.remote_port = k.remote_port;
	return bpf_map_lookup_elem(h.fds.ct4, &k4, ret) == 0;
}

static uint64_t drops(enum iof_drop_reason r)
{
	return harness_drops(&h, r).packets;
}

#define SYN 0x02
#define ACK 0x10
#define FIN 0x01
#define RST 0x04

static bool test_tcp_life_cycle_and_replies_without_rules(void)
{
	struct pkt_spec syn = tcp("10.1.2.3", EP, 40000, 80, SYN);
	struct pkt_spec synack = tcp(EP, "10.1.2.3", 80, 40000, SYN | ACK);
	struct pkt_spec ack = tcp("10.1.2.3", EP, 40000, 80, ACK);
	struct pkt_spec data_out = tcp(EP, "10.1.2.3", 80, 40000, ACK);
	struct pkt_spec fin_out = tcp(EP, "10.1.2.3", 80, 40000, FIN | ACK);
	struct pkt_spec fin_in = tcp("10.1.2.3", EP, 40000, 80, FIN | ACK);
	struct pkt_spec rst = tcp("10.1.2.3", EP, 40000, 80, RST);
	struct iof_ct_val ct;
	bool ok = true;

	harness_events(&h);
	ok &= ASSERT_EQ(run(&syn, false), TC_ACT_OK, "SYN to an allowed port");
	ok &= ASSERT_TRUE(ct_state(&syn, false, &ct) && ct.state == IOF_CT_NEW &&
			      ct.dir == IOF_DIR_INGRESS,
			  "SYN makes a NEW ingress entry");
	ok &= ASSERT_EQ(run(&synack, true), TC_ACT_OK, "SYN-ACK reply (egress default deny)");
	ok &= ASSERT_TRUE(ct_state(&syn, false, &ct) && ct.state == IOF_CT_ESTABLISHED,
			  "reply establishes");
	ok &= ASSERT_EQ(run(&ack, false), TC_ACT_OK, "ACK");
	ok &= ASSERT_EQ(run(&data_out, true), TC_ACT_OK, "data from the endpoint");
	ok &= ASSERT_EQ(run(&fin_out, true), TC_ACT_OK, "FIN from the endpoint");
	ok &= ASSERT_TRUE(ct_state(&syn, false, &ct) && ct.state == IOF_CT_CLOSING &&
			      ct.fin_seen == 1,
			  "one FIN: closing");
	ok &= ASSERT_EQ(run(&fin_in, false), TC_ACT_OK, "FIN from the remote");
	ok &= ASSERT_TRUE(ct_state(&syn, false, &ct) && ct.state == IOF_CT_CLOSED,
			  "both FINs: closed");
	ok &= ASSERT_EQ(run(&rst, false), TC_ACT_OK, "RST");
	ok &= ASSERT_EQ(harness_events(&h), 1, "one event: the new flow (replies: none)");
	ok &= ASSERT_EQ(h.events[0].flags & IOF_EV_NEW_FLOW, IOF_EV_NEW_FLOW, "new-flow event");
	return ok;
}

static bool test_denied_syn_is_not_tracked(void)
{
	struct pkt_spec syn = tcp("10.9.9.9", EP, 40000, 80, SYN);
	struct pkt_spec syn22 = tcp("10.1.2.3", EP, 40000, 22, SYN);
	struct pkt_spec reply = tcp(EP, "10.9.9.9", 80, 40000, SYN | ACK);
	uint64_t d0 = drops(IOF_DROP_DEFAULT);
	unsigned n0 = harness_ct_count(&h);
	struct iof_ct_val ct;
	bool ok = true;

	ok &= ASSERT_EQ(run(&syn, false), TC_ACT_SHOT, "SYN from outside the allowed CIDR");
	ok &= ASSERT_EQ(run(&syn22, false), TC_ACT_SHOT, "SYN to a port no rule allows");
	ok &= ASSERT_TRUE(!ct_state(&syn, false, &ct), "no entry for a denied SYN");
	ok &= ASSERT_EQ(harness_ct_count(&h), n0, "conntrack unchanged");
	ok &= ASSERT_EQ(drops(IOF_DROP_DEFAULT) - d0, 2, "counted as default drops");
	ok &= ASSERT_EQ(run(&reply, true), TC_ACT_SHOT, "a 'reply' to a denied SYN is judged");
	harness_events(&h);
	ok &= ASSERT_TRUE(h.n_events == 3 && h.events[0].reason == IOF_DROP_DEFAULT,
			  "every deny is an event (%zu)", h.n_events);
	return ok;
}

static bool test_revocation_and_recheck_after_flip(void)
{
	struct pkt_spec syn80 = tcp("10.1.2.3", EP, 41000, 80, SYN);
	struct pkt_spec ack80 = tcp("10.1.2.3", EP, 41000, 80, ACK);
	struct pkt_spec syn443 = tcp("10.1.2.3", EP, 41001, 443, SYN);
	struct pkt_spec ack443 = tcp("10.1.2.3", EP, 41001, 443, ACK);
	struct pkt_spec out443 = tcp(EP, "10.1.2.3", 443, 41001, ACK);
	struct doc_img b = {0}, a = {0};
	struct iof_ct_val ct;
	uint64_t r0 = drops(IOF_DROP_REVOKED), rev;
	bool ok = true;

	ok &= ASSERT_EQ(run(&syn80, false), TC_ACT_OK, "port 80 admitted under policy A");
	ok &= ASSERT_EQ(run(&syn443, false), TC_ACT_OK, "port 443 admitted under policy A");
	if (!apply(policy_b, &b))
		return false;
	rev = h.revision;
	ok &= ASSERT_EQ(run(&ack80, false), TC_ACT_SHOT, "revoked flow: next packet dropped");
	ok &= ASSERT_EQ(drops(IOF_DROP_REVOKED) - r0, 1, "counted as revoked");
	ok &= ASSERT_TRUE(!ct_state(&syn80, false, &ct), "revoked entry removed");
	ok &= ASSERT_EQ(run(&ack443, false), TC_ACT_OK, "still-allowed flow passes");
	ok &= ASSERT_TRUE(ct_state(&syn443, false, &ct) && ct.revision == rev,
			  "re-checked entry carries the new revision");
	ok &= ASSERT_EQ(run(&out443, true), TC_ACT_OK, "and its replies pass");
	/* A TCP packet without an entry passes if its direction allows it, but opens nothing:
	 * else the other end of a revoked connection would reopen it with the roles swapped. */
	struct pkt_spec mid = tcp("10.1.7.7", EP, 5000, 443, ACK);
	struct iof_ct_val none;

	ok &= ASSERT_EQ(run(&mid, false), TC_ACT_OK, "mid-stream ACK to an allowed port passes");
	ok &= ASSERT_TRUE(!ct_state(&mid, false, &none), "but opens no entry");
	ok &= ASSERT_EQ(run(&ack80, false), TC_ACT_SHOT, "revoked flow stays cut");
	release(&b);
	ok &= apply(policy_a, &a); /* back to A for the other tests */
	release(&a);
	return ok;
}

static bool test_timeouts(void)
{
	struct iof_config cfg = {.ct_timeout_udp_ns = 50 * 1000000ull,
				 .events_per_sec = 100000,
				 .flags = IOF_CFG_EVENT_ALLOWS};
	struct pkt_spec q = udp(EP, "10.3.0.1", 5353, 53);
	struct pkt_spec ans = udp("10.3.0.1", EP, 53, 5353);
	struct timespec ts = {.tv_nsec = 120 * 1000000};
	bool ok = true;

	ok &= ASSERT_EQ(harness_config(&h, &cfg), 0, "config");
	ok &= ASSERT_EQ(run(&q, true), TC_ACT_OK, "DNS query allowed");
	ok &= ASSERT_EQ(run(&ans, false), TC_ACT_OK, "answer passes as a reply");
	nanosleep(&ts, NULL);
	ok &= ASSERT_EQ(run(&ans, false), TC_ACT_SHOT, "late answer after the UDP timeout");
	cfg.ct_timeout_udp_ns = 0;
	ok &= ASSERT_EQ(harness_config(&h, &cfg), 0, "config");
	return ok;
}

static bool test_related_icmp_error_passes(void)
{
	struct pkt_spec q = udp(EP, "10.3.0.1", 5354, 53);
	struct pkt_spec inner = udp(EP, "10.3.0.1", 5354, 53);
	struct pkt_spec other = udp(EP, "10.3.0.1", 5355, 53);
	struct pkt_spec err = {.proto = 1, .icmp_type = 3, .inner = &inner};
	struct pkt_spec err2 = {.proto = 1, .icmp_type = 3, .inner = &other};
	struct pkt_spec q6 = udp(EP6, "fd03::1", 5354, 53), inner6 = q6;
	struct pkt_spec err6 = {.proto = 58, .icmp_type = 2 /* packet too big */, .inner = &inner6};
	bool ok = true;

	pkt_addr(&err, "10.7.7.7", EP);
	pkt_addr(&err2, "10.7.7.7", EP);
	pkt_addr(&err6, "fd07::7", EP6);
	ok &= ASSERT_EQ(run(&q, true), TC_ACT_OK, "query allowed");
	ok &= ASSERT_EQ(run(&err, false), TC_ACT_OK, "port unreachable from a router passes");
	ok &= ASSERT_EQ(run(&err2, false), TC_ACT_SHOT, "an error about no flow is judged");
	ok &= ASSERT_EQ(run(&q6, true), TC_ACT_OK, "IPv6 query allowed");
	ok &= ASSERT_EQ(run(&err6, false), TC_ACT_OK, "packet too big about it passes");
	return ok;
}

static bool test_arp_and_neighbour_discovery_pass(void)
{
	uint8_t arp[42] = {0};
	struct pkt_spec ns = {.proto = 58, .icmp_type = 135};
	uint8_t buf[512];
	size_t len;
	bool ok = true;

	arp[12] = 0x08, arp[13] = 0x06;
	pkt_addr(&ns, "fe80::1", "ff02::1:ff00:5");
	ok &=
	    ASSERT_EQ(harness_run_tc(&h, to_ep, h.ifindex[0], arp, sizeof(arp)), TC_ACT_OK, "ARP");
	ok &= ASSERT_EQ(harness_run_tc(&h, from_ep, h.ifindex[7], arp, sizeof(arp)), TC_ACT_OK,
			"ARP even on an interface with no endpoint");
	len = pkt_build(&ns, buf);
	ok &= ASSERT_EQ(harness_run_tc(&h, to_ep, h.ifindex[0], buf, len), TC_ACT_OK,
			"neighbour solicitation");
	ns.icmp_type = 136;
	len = pkt_build(&ns, buf);
	ok &= ASSERT_EQ(harness_run_tc(&h, from_ep, h.ifindex[0], buf, len), TC_ACT_OK,
			"neighbour advertisement");
	return ok;
}

static bool test_fragments(void)
{
	struct pkt_spec later = udp(EP, "10.3.0.9", 6000, 53);
	struct pkt_spec first = later;
	uint64_t f0 = drops(IOF_DROP_FRAGMENT);
	bool ok = true;

	later.frag = 2;
	first.frag = 1;
	ok &= ASSERT_EQ(run(&later, true), TC_ACT_SHOT, "non-first fragment without a flow");
	ok &= ASSERT_EQ(drops(IOF_DROP_FRAGMENT) - f0, 1, "counted as fragment drop");
	ok &= ASSERT_EQ(run(&first, true), TC_ACT_OK, "first fragment judged (allowed)");
	ok &= ASSERT_EQ(run(&later, true), TC_ACT_OK, "its next fragment passes");
	struct pkt_spec later6 = udp(EP6, "fd03::9", 6000, 53), first6 = later6;

	later6.frag = 2;
	first6.frag = 1;
	ok &= ASSERT_EQ(run(&later6, true), TC_ACT_SHOT, "IPv6 non-first fragment alone");
	ok &= ASSERT_EQ(run(&first6, true), TC_ACT_OK, "IPv6 first fragment");
	ok &= ASSERT_EQ(run(&later6, true), TC_ACT_OK, "IPv6 next fragment");
	struct pkt_spec denied = tcp("10.9.0.1", EP, 1, 80, SYN);

	denied.frag = 1;
	ok &= ASSERT_EQ(run(&denied, false), TC_ACT_SHOT, "denied first fragment");
	denied.frag = 2;
	ok &= ASSERT_EQ(run(&denied, false), TC_ACT_SHOT, "and its next fragment");
	return ok;
}

static bool test_vlan_options_and_ipv6_extension_headers(void)
{
	struct pkt_spec s = tcp("10.1.5.5", EP, 42000, 80, SYN);
	struct pkt_spec d = tcp("10.8.5.5", EP, 42000, 80, SYN);
	struct pkt_spec s6 = tcp("fd01::7", EP6, 42000, 80, SYN);
	struct pkt_spec d6 = tcp("fd02::7", EP6, 42000, 80, SYN);
	bool ok = true;

	for (int vlan = 1; vlan <= 2; vlan++) {
		s.vlan = d.vlan = vlan;
		s.sport = (uint16_t)(42000 + vlan);
		ok &= ASSERT_EQ(run(&s, false), TC_ACT_OK, "VLAN-tagged allowed SYN");
		ok &= ASSERT_EQ(run(&d, false), TC_ACT_SHOT, "VLAN-tagged denied SYN");
	}
	s.vlan = 0;
	s.ip4_options = 10;
	s.sport = 42010;
	ok &= ASSERT_EQ(run(&s, false), TC_ACT_OK, "IPv4 with 40 bytes of options");
	for (int ext = 0; ext <= 3; ext++) {
		s6.v6_ext = d6.v6_ext = ext;
		s6.sport = (uint16_t)(42100 + ext);
		ok &= ASSERT_EQ(run(&s6, false), TC_ACT_OK, "IPv6 allowed SYN behind extensions");
		ok &= ASSERT_EQ(run(&d6, false), TC_ACT_SHOT, "IPv6 denied SYN behind extensions");
	}
	return ok;
}

static bool test_truncated_packets_are_dropped(void)
{
	struct pkt_spec specs[4] = {tcp("10.1.6.6", EP, 43000, 80, SYN),
				    tcp("fd01::8", EP6, 43000, 80, SYN),
				    udp(EP, "10.3.0.1", 43000, 53)};
	uint64_t m0 = drops(IOF_DROP_MALFORMED), cut = 0, refused = 0;
	bool ok = true;

	specs[1].v6_ext = 3;
	specs[2].vlan = 2;
	specs[3] = specs[0];
	specs[3].ip4_options = 3;
	for (int i = 0; i < 4; i++) {
		uint8_t buf[512];
		size_t len = pkt_build(&specs[i], buf);
		int egress = specs[i].proto == 17;

		for (size_t l = 15; l < len; l++, cut++) { /* test runs need > ETH_HLEN */
			int r = harness_run_tc(&h, egress ? from_ep : to_ep, h.ifindex[0], buf, l);

			if (r ==
			    -1000) { /* the kernel refuses to build this skb: nothing to judge */
				refused++;
				cut--;
				continue;
			}
			if (!ASSERT_EQ(r, TC_ACT_SHOT, "truncated packet")) {
				fprintf(stderr, "  spec %d cut to %zu of %zu bytes\n", i, l, len);
				return false;
			}
		}
	}
	ok &= ASSERT_EQ(drops(IOF_DROP_MALFORMED) - m0, cut, "all counted as malformed");
	ok &= ASSERT_TRUE(cut > 100, "%llu truncations judged (%llu refused by test run)",
			  (unsigned long long)cut, (unsigned long long)refused);
	printf("  %llu truncated packets dropped as malformed (%llu lengths refused by the "
	       "kernel's test run)\n",
	       (unsigned long long)cut, (unsigned long long)refused);
	return ok;
}

static bool test_events_are_rate_limited_and_losses_counted(void)
{
	struct iof_config cfg = {.events_per_sec = 5, .flags = IOF_CFG_EVENT_ALLOWS};
	struct pkt_spec s = tcp("10.9.9.9", EP, 45000, 80, SYN);
	int cpus = libbpf_num_possible_cpus();
	uint64_t lost[64] = {0}, total = 0;
	uint32_t key = IOF_EVLOST_RATELIMIT;
	bool ok = true;

	ok &= ASSERT_EQ(harness_config(&h, &cfg), 0, "config");
	harness_events(&h);
	for (int i = 0; i < 40; i++)
		run(&s, false); /* denied: an event each, if the bucket allows */
	harness_events(&h);
	ok &= ASSERT_TRUE(h.n_events >= 1 && h.n_events <= 6,
			  "%zu events from 40 denies at 5/s (burst 5)", h.n_events);
	if (cpus > 0 && cpus <= 64 && !bpf_map_lookup_elem(h.fds.events_lost, &key, lost))
		for (int i = 0; i < cpus; i++)
			total += lost[i];
	ok &= ASSERT_TRUE(total >= 40 - h.n_events, "rate-limited records counted (%llu)",
			  (unsigned long long)total);
	cfg.events_per_sec = 100000;
	ok &= ASSERT_EQ(harness_config(&h, &cfg), 0, "config");
	return ok;
}

static bool test_rule_and_endpoint_counters(void)
{
	struct pkt_spec syn = tcp("10.1.9.9", EP, 46000, 443, SYN);
	struct pkt_spec ack = tcp("10.1.9.9", EP, 46000, 443, ACK);
	struct iof_ct_val ct;
	struct iof_counter before, after;
	bool ok = true;

	ok &= ASSERT_EQ(run(&syn, false), TC_ACT_OK, "tcp/443 admitted");
	if (!ASSERT_TRUE(ct_state(&syn, false, &ct) && ct.rule_id != IOF_RULE_NONE, "by a rule"))
		return false;
	before = harness_rule_counter(&h, ct.rule_id);
	ok &= ASSERT_EQ(run(&ack, false), TC_ACT_OK, "established packet");
	ok &= ASSERT_EQ(run(&ack, false), TC_ACT_OK, "established packet");
	after = harness_rule_counter(&h, ct.rule_id);
	ok &=
	    ASSERT_EQ(after.packets - before.packets, 2, "rule counter counts the flow's packets");
	ok &= ASSERT_EQ(after.bytes - before.bytes, 2 * 54, "and their bytes");
	return ok;
}

static bool test_unknown_endpoint_fails_closed(void)
{
	struct pkt_spec s = tcp("10.1.2.3", EP, 44000, 80, SYN);
	uint8_t buf[512];
	size_t len = pkt_build(&s, buf);
	uint64_t u0 = drops(IOF_DROP_UNKNOWN_EP);
	bool ok = true;

	ok &= ASSERT_EQ(harness_run_tc(&h, to_ep, h.ifindex[9], buf, len), TC_ACT_SHOT,
			"interface with no endpoint in the active slot");
	ok &= ASSERT_EQ(drops(IOF_DROP_UNKNOWN_EP) - u0, 1, "counted");
	return ok;
}

int main(void)
{
	static const struct harness_test tests[] = {
	    HARNESS_TEST(test_tcp_life_cycle_and_replies_without_rules),
	    HARNESS_TEST(test_denied_syn_is_not_tracked),
	    HARNESS_TEST(test_revocation_and_recheck_after_flip),
	    HARNESS_TEST(test_timeouts),
	    HARNESS_TEST(test_related_icmp_error_passes),
	    HARNESS_TEST(test_arp_and_neighbour_discovery_pass),
	    HARNESS_TEST(test_fragments),
	    HARNESS_TEST(test_vlan_options_and_ipv6_extension_headers),
	    HARNESS_TEST(test_truncated_packets_are_dropped),
	    HARNESS_TEST(test_unknown_endpoint_fails_closed),
	    HARNESS_TEST(test_events_are_rate_limited_and_losses_counted),
	    HARNESS_TEST(test_rule_and_endpoint_counters),
	};
	struct iof_config cfg = {.events_per_sec = 100000, .flags = IOF_CFG_EVENT_ALLOWS};
	struct doc_img a = {0};
	int failed = 0;

	harness_open(&h);
	from_ep = bpf_program__fd(h.skel->progs.iof_tc_from_ep);
	to_ep = bpf_program__fd(h.skel->progs.iof_tc_to_ep);
	if (harness_config(&h, &cfg) || !apply(policy_a, &a))
		return 1;
	failed = harness_run_tests("bpf_conntrack", tests, sizeof(tests) / sizeof(tests[0]));
	release(&a);
	harness_close(&h);
	return failed ? 1 : 0;
}
