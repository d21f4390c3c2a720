// SPDX-License-Identifier: Apache-2.0
/*
 * The XDP prefilter through BPF_PROG_TEST_RUN: sources in the node's deny-list are dropped
 * and counted on the listed uplink only; the failsafe set (tcp/22 here) passes even from a
 * denied prefix, with IPv4 options, VLAN tags or IPv6 extension headers in front of its ports;
 * other sources, other interfaces and non-IP frames pass. A slot's host map is kept when it
 * is written again with the list it holds (replacing it waits for a grace period), and
 * replaced when it holds anything else.
 */
#include <arpa/inet.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "harness.h"

static const char *policy =
    "securityGroups: []\n"
    "endpoints:\n"
    "  - {name: web-1, node: node-a, interface: iof0, addresses: [10.0.0.5]}\n"
    "prefilter:\n"
    "  - node: node-a\n"
    "    interfaces: [iof15]\n"
    "    deny: [198.51.100.0/24, \"2001:db8:bad::/48\", 203.0.113.9, \"2001:db8:f00::9\"]\n";

static struct harness h;

static int xdp_spec(struct pkt_spec *s, const char *src, const char *dst, int iface)
{
	uint8_t buf[512];

	pkt_addr(s, src, dst);
	return harness_run_xdp(&h, h.ifindex[iface], buf, pkt_build(s, buf));
}

static int xdp(const char *src, const char *dst, uint8_t proto, uint16_t dport, int iface)
{
	struct pkt_spec s = {.proto = proto, .sport = 40000, .dport = dport, .tcp_flags = 2};

	return xdp_spec(&s, src, dst, iface);
}

/* tcp/22 from a denied source with headers in front of its ports (pkt_spec fields). */
static bool failsafe_behind_headers(void)
{
	struct pkt_spec opt = {.proto = 6, .dport = 22, .tcp_flags = 2, .ip4_options = 10};
	struct pkt_spec vlan = {.proto = 6, .dport = 22, .tcp_flags = 2, .vlan = 2};
	struct pkt_spec ext = {.proto = 6, .dport = 22, .tcp_flags = 2, .v6_ext = 3};
	struct pkt_spec frag = {.proto = 6, .dport = 22, .tcp_flags = 2, .v6_ext = 1, .frag = 1};
	struct pkt_spec later = {.proto = 6, .dport = 22, .frag = 2};
	bool ok = true;

	ok &= ASSERT_EQ(xdp_spec(&opt, "198.51.100.7", "10.0.0.5", 15), XDP_PASS,
			"failsafe behind IPv4 options");
	ok &= ASSERT_EQ(xdp_spec(&vlan, "198.51.100.7", "10.0.0.5", 15), XDP_PASS,
			"failsafe behind two VLAN tags");
	ok &= ASSERT_EQ(xdp_spec(&ext, "2001:db8:bad::1", "fd00::5", 15), XDP_PASS,
			"failsafe behind IPv6 extension headers");
	ok &= ASSERT_EQ(xdp_spec(&frag, "2001:db8:bad::1", "fd00::5", 15), XDP_PASS,
			"failsafe in a first IPv6 fragment");
	ok &= ASSERT_EQ(xdp_spec(&later, "198.51.100.7", "10.0.0.5", 15), XDP_DROP,
			"a non-first fragment carries no port to match");
	ok &= ASSERT_EQ(xdp("198.51.100.7", "10.0.0.5", 1, 0, 15), XDP_DROP,
			"denied ICMP (no failsafe protocol)");
	return ok;
}

/* The id of the slot's IPv4 host map (0: none). */
static uint32_t host4_map_id(uint8_t slot)
{
	uint32_t idx = slot, id = 0;

	bpf_map_lookup_elem(h.fds.prefilter4_host, &idx, &id);
	return id;
}

/* The active slot's prefilter written again: kept while it holds the list, else replaced. */
static bool host_maps_kept_while_they_hold_the_list(const struct policy_image *img)
{
	uint32_t ifindex[8], id0 = host4_map_id(h.slot), id1, id2;
	struct iof_prefilter4_host_key k = {.ifindex = (uint32_t)h.ifindex[15]};
	bool ok = true;
	int fd;

	for (size_t i = 0; i < img->n_prefilter && i < 8; i++)
		ifindex[i] = (uint32_t)h.ifindex[15];
	ok &= ASSERT_TRUE(id0 && img->n_prefilter <= 8 &&
			      !dp_prefilter_write(&h.fds, img, h.slot, ifindex),
			  "write the prefilter again");
	id1 = host4_map_id(h.slot);
	ok &= ASSERT_EQ(id1, id0, "host map replaced though it held the list");
	/* an entry deleted behind the writer's back: the next write replaces the map */
	inet_pton(AF_INET, "203.0.113.9", k.addr);
	fd = bpf_map_get_fd_by_id(id1);
	ok &= ASSERT_TRUE(fd >= 0 && !bpf_map_delete_elem(fd, &k), "delete a host entry");
	ok &= ASSERT_EQ(xdp("203.0.113.9", "10.0.0.5", 6, 80, 15), XDP_PASS, "host entry gone");
	if (fd >= 0)
		close(fd);
	ok &= ASSERT_TRUE(!dp_prefilter_write(&h.fds, img, h.slot, ifindex), "write again");
	id2 = host4_map_id(h.slot);
	ok &= ASSERT_TRUE(id2 && id2 != id1, "host map kept though it lost an entry");
	ok &= ASSERT_EQ(xdp("203.0.113.9", "10.0.0.5", 6, 80, 15), XDP_DROP, "denied host again");
	return ok;
}

int main(void)
{
	struct iof_failsafe fs4 = {.used = 1, .proto = 6, .port = htons(22), .family = 4};
	struct iof_failsafe fs6 = {
	    .used = 1, .proto = 6, .port = htons(22), .family = 6, .prefix_len = 32};
	struct iof_failsafe fs_udp = {.used = 1, .proto = 17, .port = htons(5353), .family = 4};
	/* what the loader writes beside the table (agent/datapath/open.c) */
	struct iof_config cfg = {.flags = IOF_CFG_FAILSAFE_TCP4 | IOF_CFG_FAILSAFE_TCP6 |
					  IOF_CFG_FAILSAFE_UDP4};
	struct policy_document *doc = NULL;
	struct policy_image *img = NULL;
	uint32_t k0 = 0, k1 = 1, k2 = 2;
	uint64_t d0;
	bool ok = true;

	harness_open(&h);
	inet_pton(AF_INET6, "2001:db8::", fs6.addr);
	if (harness_apply_yaml(&h, policy, &doc, &img) ||
	    bpf_map_update_elem(h.fds.failsafe, &k0, &fs4, BPF_ANY) ||
	    bpf_map_update_elem(h.fds.failsafe, &k1, &fs6, BPF_ANY) ||
	    bpf_map_update_elem(h.fds.failsafe, &k2, &fs_udp, BPF_ANY) || harness_config(&h, &cfg))
		return 1;
	d0 = harness_drops(&h, IOF_DROP_PREFILTER).packets;
	ok &= ASSERT_EQ(xdp("198.51.100.7", "10.0.0.5", 6, 80, 15), XDP_DROP, "denied source");
	ok &=
	    ASSERT_EQ(xdp("198.51.100.7", "10.0.0.5", 17, 53, 15), XDP_DROP, "denied source, udp");
	ok &= ASSERT_EQ(harness_drops(&h, IOF_DROP_PREFILTER).packets - d0, 2, "counted");
	ok &= ASSERT_EQ(xdp("198.51.100.7", "10.0.0.5", 6, 22, 15), XDP_PASS,
			"failsafe tcp/22 from a denied prefix");
	ok &= ASSERT_EQ(xdp("198.51.100.7", "10.0.0.5", 17, 22, 15), XDP_DROP,
			"udp/22 is not in the failsafe set");
	ok &= ASSERT_EQ(xdp("198.51.100.7", "10.0.0.5", 17, 5353, 15), XDP_PASS,
			"failsafe udp/5353 from a denied prefix");
	ok &= ASSERT_EQ(xdp("2001:db8:bad::1", "fd00::5", 17, 5353, 15), XDP_DROP,
			"udp/5353 is failsafe for IPv4 only");
	ok &= failsafe_behind_headers();
	ok &= ASSERT_EQ(xdp("198.51.101.7", "10.0.0.5", 6, 80, 15), XDP_PASS, "other source");
	ok &= ASSERT_EQ(xdp("198.51.100.7", "10.0.0.5", 6, 80, 14), XDP_PASS,
			"interface without a deny-list");
	ok &= ASSERT_EQ(xdp("2001:db8:bad::1", "fd00::5", 6, 443, 15), XDP_DROP, "denied IPv6");
	ok &= ASSERT_EQ(xdp("2001:db8:bad::1", "fd00::5", 6, 22, 15), XDP_PASS,
			"IPv6 failsafe (2001:db8::/32 tcp/22)");
	ok &= ASSERT_EQ(xdp("2001:db8:bae::1", "fd00::5", 6, 443, 15), XDP_PASS, "other IPv6");
	/* host entries live in the exact-match maps, looked up before the tries */
	ok &= ASSERT_EQ(xdp("203.0.113.9", "10.0.0.5", 6, 80, 15), XDP_DROP, "denied host");
	ok &= ASSERT_EQ(xdp("203.0.113.8", "10.0.0.5", 6, 80, 15), XDP_PASS, "host's neighbour");
	ok &= ASSERT_EQ(xdp("203.0.113.9", "10.0.0.5", 6, 22, 15), XDP_PASS,
			"failsafe from a denied host");
	ok &= ASSERT_EQ(xdp("2001:db8:f00::9", "fd00::5", 17, 53, 15), XDP_DROP,
			"denied IPv6 host");
	ok &= ASSERT_EQ(xdp("2001:db8:f00::8", "fd00::5", 17, 53, 15), XDP_PASS,
			"IPv6 host's neighbour");
	ok &= host_maps_kept_while_they_hold_the_list(img);
	uint8_t arp[42] = {0};

	arp[12] = 8, arp[13] = 6;
	ok &= ASSERT_EQ(harness_run_xdp(&h, h.ifindex[15], arp, sizeof(arp)), XDP_PASS, "ARP");
	printf("bpf_prefilter: %s\n", ok ? "ok" : "FAILED");
	policy_image_free(img);
	policy_document_free(doc);
	harness_close(&h);
	return ok ? 0 : 1;
}
