// SPDX-License-Identifier: Apache-2.0
/*
 * The vxlan-trace programs through BPF_PROG_TEST_RUN on crafted packets: tunnel and inner-pair
 * entries per direction for IPv4 and IPv6 outer (VLAN tags, IPv4 options, IPv6 extension
 * headers, inner VLAN), non-IP inner frames, other ports and later fragments ignored, packets
 * without the I flag counted as non-VXLAN, cut VXLAN or inner headers as malformed, the port
 * list taken from the map, every packet passed on unchanged (TC_ACT_UNSPEC), and the eviction
 * count of a full inner table (inserts - entries, as the agent's reader computes it).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>

#include "agent/datapath/module_vxlan.h"
#include "harness.h"
#include "vxlan_trace.skel.h"

static struct vxlan_trace *skel;

struct vx_spec {
	const char *osrc, *odst; /* outer addresses (family from them) */
	uint16_t dport;		 /* 0: 4789 */
	uint8_t flags;		 /* VXLAN flags byte; 0 here means 0x08 unless raw_flags */
	bool raw_flags;
	uint32_t vni;
	int outer_vlan, ip4_options, v6_ext, outer_frag;
	const char *isrc, *idst; /* inner; NULL: an ARP frame */
	uint8_t iproto;
	int inner_vlan;
	size_t cut; /* > 0: keep only this many bytes */
};

static uint8_t pkt[1024];

static size_t build(const struct vx_spec *v)
{
	struct pkt_spec o = {.proto = 17, .sport = 50000, .dport = v->dport ? v->dport : 4789,
			     .vlan = v->outer_vlan, .ip4_options = v->ip4_options,
			     .v6_ext = v->v6_ext, .frag = v->outer_frag};
	size_t n;

	pkt_addr(&o, v->osrc, v->odst);
	n = pkt_build(&o, pkt);
	if (v->outer_frag == 2) /* no UDP header in a later fragment */
		return n;
	uint8_t *vx = pkt + n;

	memset(vx, 0, 8);
	vx[0] = v->raw_flags ? v->flags : 0x08;
	vx[4] = (uint8_t)(v->vni >> 16);
	vx[5] = (uint8_t)(v->vni >> 8);
	vx[6] = (uint8_t)v->vni;
	n += 8;
	if (v->isrc) {
		struct pkt_spec in = {.proto = v->iproto, .sport = 1234, .dport = 80,
				      .tcp_flags = 2, .icmp_type = 8, .vlan = v->inner_vlan};

		pkt_addr(&in, v->isrc, v->idst);
		n += pkt_build(&in, pkt + n);
	} else { /* ARP request */
		static const uint8_t arp[42] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 9,
						0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1};

		memcpy(pkt + n, arp, sizeof(arp));
		n += sizeof(arp);
	}
	return v->cut ? v->cut : n;
}

static int run(int prog_fd, const struct vx_spec *v, size_t *len)
{
	size_t n = build(v);
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = (uint32_t)n,
		    .repeat = 1);

	if (len)
		*len = n;
	if (bpf_prog_test_run_opts(prog_fd, &opts)) {
		fprintf(stderr, "test run: %s\n", strerror(errno));
		return -1000;
	}
	return (int)opts.retval;
}

static int in_fd(void)
{
	return bpf_program__fd(skel->progs.vxt_ingress);
}
static int eg_fd(void)
{
	return bpf_program__fd(skel->progs.vxt_egress);
}

static void set_ports(uint16_t a, uint16_t b)
{
	struct vxt_ports p = {{a, b, 0, 0}};
	__u32 zero = 0;

	bpf_map_update_elem(bpf_map__fd(skel->maps.vxt_ports), &zero, &p, BPF_ANY);
}

static void addr(uint8_t out[16], const char *s)
{
	memset(out, 0, 16);
	if (strchr(s, ':'))
		inet_pton(AF_INET6, s, out);
	else
		inet_pton(AF_INET, s, out);
}

static struct vxt_tunnel_key tkey(const char *src, const char *dst, uint32_t vni, uint8_t dir)
{
	struct vxt_tunnel_key k;

	memset(&k, 0, sizeof(k));
	addr(k.src, src);
	addr(k.dst, dst);
	k.vni = vni;
	k.family = strchr(src, ':') ? 6 : 4;
	k.dir = dir;
	return k;
}

/* A per-CPU entry summed (test runs may land on any CPU). */
static struct vxt_count lookup(int fd, const void *key)
{
	struct vxt_count v[512], c = {0};
	int ncpu = libbpf_num_possible_cpus();

	memset(v, 0, sizeof(v));
	if (ncpu <= 0 || ncpu > 512 || bpf_map_lookup_elem(fd, key, v))
		return c;
	for (int i = 0; i < ncpu; i++) {
		c.packets += v[i].packets;
		c.bytes += v[i].bytes;
		if (v[i].first_seen && (!c.first_seen || v[i].first_seen < c.first_seen))
			c.first_seen = v[i].first_seen;
		if (v[i].last_seen > c.last_seen)
			c.last_seen = v[i].last_seen;
	}
	return c;
}

static struct vxt_count tunnel(const char *src, const char *dst, uint32_t vni, uint8_t dir)
{
	struct vxt_tunnel_key k = tkey(src, dst, vni, dir);

	return lookup(bpf_map__fd(skel->maps.vxt_tunnels), &k);
}

static struct vxt_count inner(const char *osrc, const char *odst, uint32_t vni, uint8_t dir,
			      const char *isrc, const char *idst, uint8_t proto)
{
	struct vxt_inner_key k;

	memset(&k, 0, sizeof(k));
	k.outer = tkey(osrc, odst, vni, dir);
	if (isrc) {
		addr(k.src, isrc);
		addr(k.dst, idst);
		k.family = strchr(isrc, ':') ? 6 : 4;
		k.proto = proto;
	}
	return lookup(bpf_map__fd(skel->maps.vxt_inner), &k);
}

static uint64_t stat(enum vxt_stat s)
{
	struct vxt_snapshot snap;
	char err[256];
	uint64_t v;

	if (vxt_read_fds(bpf_map__fd(skel->maps.vxt_tunnels), bpf_map__fd(skel->maps.vxt_inner),
			 bpf_map__fd(skel->maps.vxt_stats), &snap, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return ~0ull;
	}
	v = snap.stats[s];
	vxt_snapshot_free(&snap);
	return v;
}

static bool load(uint32_t inner_capacity)
{
	if (skel)
		vxlan_trace__destroy(skel);
	skel = vxlan_trace__open();
	if (!skel)
		return false;
	if (inner_capacity)
		bpf_map__set_max_entries(skel->maps.vxt_inner, inner_capacity);
	if (vxlan_trace__load(skel)) {
		vxlan_trace__destroy(skel);
		skel = NULL;
		return false;
	}
	set_ports(4789, 0);
	return true;
}

static bool basic_v4(void)
{
	struct vx_spec v = {.osrc = "192.168.210.1", .odst = "192.168.210.2", .vni = 4242,
			    .isrc = "10.210.0.11", .idst = "10.210.0.21", .iproto = 6};
	size_t len = 0;
	bool ok = true;

	for (int i = 0; i < 3; i++)
		ok &= ASSERT_EQ(run(in_fd(), &v, &len), TC_ACT_UNSPEC, "passes unchanged");
	ok &= ASSERT_EQ(run(eg_fd(), &v, NULL), TC_ACT_UNSPEC, "egress passes unchanged");
	struct vxt_count t = tunnel("192.168.210.1", "192.168.210.2", 4242, VXT_DIR_INGRESS);
	struct vxt_count e = tunnel("192.168.210.1", "192.168.210.2", 4242, VXT_DIR_EGRESS);
	struct vxt_count p = inner("192.168.210.1", "192.168.210.2", 4242, VXT_DIR_INGRESS,
				   "10.210.0.11", "10.210.0.21", 6);

	ok &= ASSERT_EQ(t.packets, 3, "ingress tunnel packets");
	ok &= ASSERT_EQ(t.bytes, 3 * len, "ingress tunnel bytes (whole frames)");
	ok &= ASSERT_TRUE(t.first_seen && t.last_seen >= t.first_seen, "first/last seen");
	ok &= ASSERT_EQ(e.packets, 1, "egress tunnel packets (own key)");
	ok &= ASSERT_EQ(p.packets, 3, "inner pair tcp packets");
	ok &= ASSERT_EQ(p.bytes, 3 * len, "inner pair bytes");
	return ok;
}

static bool headers_in_front(void)
{
	bool ok = true;
	struct vx_spec v6 = {.osrc = "fd00:21::1", .odst = "fd00:21::3", .vni = 7, .v6_ext = 3,
			     .isrc = "fd00:210::b", .idst = "fd00:210::1f", .iproto = 17};
	struct vx_spec vlan = {.osrc = "192.168.210.3", .odst = "192.168.210.1", .vni = 0xabcdef,
			       .outer_vlan = 2, .ip4_options = 10, .isrc = "fd00:210::1f",
			       .idst = "fd00:210::b", .iproto = 58, .inner_vlan = 1};
	struct vx_spec frag1 = {.osrc = "fd00:21::2", .odst = "fd00:21::1", .vni = 9,
				.outer_frag = 1, .isrc = "10.0.0.1", .idst = "10.0.0.2",
				.iproto = 1};
	struct vx_spec arp = {.osrc = "192.168.210.2", .odst = "192.168.210.3", .vni = 4242};

	ok &= ASSERT_EQ(run(in_fd(), &v6, NULL), TC_ACT_UNSPEC, "v6 outer");
	ok &= ASSERT_EQ(run(eg_fd(), &vlan, NULL), TC_ACT_UNSPEC, "vlan outer");
	ok &= ASSERT_EQ(run(in_fd(), &frag1, NULL), TC_ACT_UNSPEC, "first fragment");
	ok &= ASSERT_EQ(run(in_fd(), &arp, NULL), TC_ACT_UNSPEC, "arp inner");
	ok &= ASSERT_EQ(inner("fd00:21::1", "fd00:21::3", 7, VXT_DIR_INGRESS, "fd00:210::b",
			      "fd00:210::1f", 17)
			    .packets,
			1, "IPv6 outer behind extension headers, inner IPv6 udp");
	ok &= ASSERT_EQ(inner("192.168.210.3", "192.168.210.1", 0xabcdef, VXT_DIR_EGRESS,
			      "fd00:210::1f", "fd00:210::b", 58)
			    .packets,
			1, "two outer VLAN tags + IPv4 options, 24-bit VNI, inner VLAN icmpv6");
	ok &= ASSERT_EQ(inner("fd00:21::2", "fd00:21::1", 9, VXT_DIR_INGRESS, "10.0.0.1",
			      "10.0.0.2", 1)
			    .packets,
			1, "IPv6 outer first fragment");
	ok &= ASSERT_EQ(inner("192.168.210.2", "192.168.210.3", 4242, VXT_DIR_INGRESS, NULL, NULL,
			      0)
			    .packets,
			1, "ARP inner frame: family 0");
	return ok;
}

static bool ignored_and_bad(void)
{
	bool ok = true;
	uint64_t pk = stat(VXT_STAT_PACKETS), mal = stat(VXT_STAT_MALFORMED),
		 non = stat(VXT_STAT_NON_VXLAN);
	struct vx_spec other = {.osrc = "192.168.210.1", .odst = "192.168.210.9", .dport = 53,
				.vni = 1, .isrc = "10.0.0.1", .idst = "10.0.0.2", .iproto = 6};
	struct vx_spec later = {.osrc = "192.168.210.1", .odst = "192.168.210.9", .vni = 1,
				.outer_frag = 2};
	struct vx_spec noflag = {.osrc = "192.168.210.1", .odst = "192.168.210.9", .vni = 1,
				 .raw_flags = true, .flags = 0x80, .isrc = "10.0.0.1",
				 .idst = "10.0.0.2", .iproto = 6};
	struct vx_spec cutvx = {.osrc = "192.168.210.1", .odst = "192.168.210.9", .vni = 1,
				.isrc = "10.0.0.1", .idst = "10.0.0.2", .iproto = 6,
				.cut = 14 + 20 + 8 + 4};
	struct vx_spec cutin = {.osrc = "192.168.210.1", .odst = "192.168.210.9", .vni = 1,
				.isrc = "10.0.0.1", .idst = "10.0.0.2", .iproto = 6,
				.cut = 14 + 20 + 8 + 8 + 14 + 12};
	struct vx_spec cutl4 = {.osrc = "192.168.210.1", .odst = "192.168.210.9", .vni = 1,
				.isrc = "10.0.0.1", .idst = "10.0.0.2", .iproto = 6,
				.cut = 14 + 20 + 8 + 8 + 14 + 20 + 10};
	struct vx_spec cutouter = {.osrc = "192.168.210.1", .odst = "192.168.210.9", .vni = 1,
				   .isrc = "10.0.0.1", .idst = "10.0.0.2", .iproto = 6,
				   .cut = 14 + 20 + 3};

	ok &= ASSERT_EQ(run(in_fd(), &other, NULL), TC_ACT_UNSPEC, "other port passes");
	ok &= ASSERT_EQ(run(in_fd(), &later, NULL), TC_ACT_UNSPEC, "later fragment passes");
	ok &= ASSERT_EQ(run(in_fd(), &cutouter, NULL), TC_ACT_UNSPEC, "cut outer passes");
	ok &= ASSERT_EQ(tunnel("192.168.210.1", "192.168.210.9", 1, VXT_DIR_INGRESS).packets, 0,
			"not VXLAN: no tunnel entry");
	ok &= ASSERT_EQ(stat(VXT_STAT_MALFORMED), mal, "outer cut before the port: not ours");
	ok &= ASSERT_EQ(run(in_fd(), &noflag, NULL), TC_ACT_UNSPEC, "no I flag passes");
	ok &= ASSERT_EQ(stat(VXT_STAT_NON_VXLAN), non + 1, "no I flag: non-VXLAN");
	ok &= ASSERT_EQ(run(in_fd(), &cutvx, NULL), TC_ACT_UNSPEC, "cut VXLAN header passes");
	ok &= ASSERT_EQ(stat(VXT_STAT_MALFORMED), mal + 1, "cut VXLAN header: malformed");
	ok &= ASSERT_EQ(tunnel("192.168.210.1", "192.168.210.9", 1, VXT_DIR_INGRESS).packets, 0,
			"cut VXLAN header: no tunnel entry");
	ok &= ASSERT_EQ(run(in_fd(), &cutin, NULL), TC_ACT_UNSPEC, "cut inner IP passes");
	ok &= ASSERT_EQ(run(in_fd(), &cutl4, NULL), TC_ACT_UNSPEC, "cut inner TCP passes");
	ok &= ASSERT_EQ(stat(VXT_STAT_MALFORMED), mal + 3, "cut inner headers: malformed");
	ok &= ASSERT_EQ(tunnel("192.168.210.1", "192.168.210.9", 1, VXT_DIR_INGRESS).packets, 2,
			"cut inner headers: the tunnel still counts them");
	ok &= ASSERT_EQ(inner("192.168.210.1", "192.168.210.9", 1, VXT_DIR_INGRESS, "10.0.0.1",
			      "10.0.0.2", 6)
			    .packets,
			0, "cut inner headers: no inner entry");
	ok &= ASSERT_EQ(stat(VXT_STAT_PACKETS), pk + 2, "VXLAN packets counted");
	return ok;
}

static bool port_list(void)
{
	struct vx_spec v = {.osrc = "192.168.210.5", .odst = "192.168.210.6", .dport = 8472,
			    .vni = 5, .isrc = "10.0.0.1", .idst = "10.0.0.2", .iproto = 17};
	bool ok = true;

	run(in_fd(), &v, NULL);
	ok &= ASSERT_EQ(tunnel("192.168.210.5", "192.168.210.6", 5, 0).packets, 0,
			"8472 not configured");
	set_ports(4789, 8472);
	run(in_fd(), &v, NULL);
	ok &= ASSERT_EQ(tunnel("192.168.210.5", "192.168.210.6", 5, 0).packets, 1,
			"8472 configured");
	set_ports(4789, 0);
	return ok;
}

static bool evictions(void)
{
	const int pairs = 300;
	struct vxt_snapshot snap;
	char err[256], src[32];
	bool ok = true;

	if (!ASSERT_TRUE(load(64), "load with inner capacity 64"))
		return false;
	for (int i = 0; i < pairs; i++) {
		struct vx_spec v = {.osrc = "192.168.210.1", .odst = "192.168.210.2", .vni = 1,
				    .isrc = src, .idst = "10.0.0.2", .iproto = 6};

		snprintf(src, sizeof(src), "10.1.%d.%d", i / 200, i % 200 + 1);
		run(in_fd(), &v, NULL);
	}
	if (!ASSERT_EQ(vxt_read_fds(bpf_map__fd(skel->maps.vxt_tunnels),
				    bpf_map__fd(skel->maps.vxt_inner),
				    bpf_map__fd(skel->maps.vxt_stats), &snap, err, sizeof(err)),
		       0, err))
		return false;
	ok &= ASSERT_EQ(snap.stats[VXT_STAT_INNER_INSERTS], pairs, "inner inserts");
	ok &= ASSERT_TRUE(snap.n_inner <= 64, "entries %zu within capacity", snap.n_inner);
	ok &= ASSERT_EQ(snap.inner_evictions, pairs - snap.n_inner, "evictions = inserts - entries");
	ok &= ASSERT_EQ(snap.tunnel_evictions, 0, "tunnel table complete");
	ok &= ASSERT_EQ(snap.n_tunnels, 1, "one tunnel");
	ok &= ASSERT_EQ(snap.tunnels[0].count.packets, pairs, "tunnel counts every packet");
	for (size_t i = 1; i < snap.n_inner; i++)
		ok &= ASSERT_TRUE(snap.inner[i - 1].count.bytes >= snap.inner[i].count.bytes,
				  "sorted by bytes");
	vxt_snapshot_free(&snap);
	return ok;
}

/* --bench: ns per run of the ingress program on one packet (bpf_prog_test_run, repeat). */
static int bench(void)
{
	struct vx_spec vx = {.osrc = "192.168.210.1", .odst = "192.168.210.2", .vni = 4242,
			     .isrc = "10.210.0.11", .idst = "10.210.0.21", .iproto = 17};
	struct vx_spec other = {.osrc = "192.168.210.1", .odst = "192.168.210.2", .dport = 53,
				.vni = 1, .isrc = "10.0.0.1", .idst = "10.0.0.2", .iproto = 17};
	const struct vx_spec *specs[2] = {&vx, &other};
	const char *names[2] = {"vxlan (existing entries)", "udp to another port"};

	for (int i = 0; i < 2; i++) {
		size_t n = build(specs[i]);
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = (uint32_t)n,
			    .repeat = 2000000);

		if (bpf_prog_test_run_opts(in_fd(), &opts))
			return 1;
		printf("%-28s %u ns per run\n", names[i], opts.duration);
	}
	return 0;
}

int main(int argc, char **argv)
{
	bool ok = true;

	if (geteuid() != 0) {
		printf("SKIP: needs root\n");
		return SKIP_CODE;
	}
	if (!load(0)) {
		printf("SKIP: cannot load vxlan_trace.bpf.o\n");
		return SKIP_CODE;
	}
	if (argc > 1 && !strcmp(argv[1], "--bench"))
		return bench();
	ok &= basic_v4();
	ok &= headers_in_front();
	ok &= ignored_and_bad();
	ok &= port_list();
	ok &= evictions();
	vxlan_trace__destroy(skel);
	printf("%s\n", ok ? "PASS" : "FAIL");
	return ok ? 0 : 1;
}
