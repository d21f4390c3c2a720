// SPDX-License-Identifier: Apache-2.0
/* BPF test harness (harness.h): skeleton, private netns with dummy devices, packets, events. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>

#include "harness.h"
#include "policy/parse.h"

static void skip(const char *why)
{
	printf("SKIP: %s\n", why);
	exit(SKIP_CODE);
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct harness *h = ctx;

	if (size >= sizeof(struct iof_event) && h->n_events < H_EVENTS_MAX)
		memcpy(&h->events[h->n_events++], data, sizeof(struct iof_event));
	return 0;
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

void harness_open(struct harness *h)
{
	char cmd[4096];
	size_t off = 0;

	memset(h, 0, sizeof(*h));
	if (geteuid() != 0)
		skip("needs root (BPF_PROG_TEST_RUN, network namespace)");
	if (unshare(CLONE_NEWNET))
		skip("cannot create a network namespace");
	off += (size_t)snprintf(cmd + off, sizeof(cmd) - off, "ip link set lo up");
	for (int i = 0; i < H_IFACES; i++)
		off += (size_t)snprintf(cmd + off, sizeof(cmd) - off,
					" && ip link add iof%d type veth peer name iofp%d"
					" && ip link set iof%d up",
					i, i, i);
	if (system(cmd))
		skip("cannot create veth interfaces (ip link add ... type veth)");
	for (int i = 0; i < H_IFACES; i++) {
		char name[16];

		snprintf(name, sizeof(name), "iof%d", i);
		h->ifindex[i] = (int)if_nametoindex(name);
	}
	libbpf_set_print(libbpf_quiet);
	h->skel = iofence__open_and_load();
	if (!h->skel)
		skip("cannot load iofence.bpf.o (no BPF support?)");
	dp_map_fds_from_skel(h->skel, &h->fds);
	h->rb = ring_buffer__new(h->fds.events, on_event, h, NULL);
	if (!h->rb) {
		fprintf(stderr, "ring_buffer__new: %s\n", strerror(errno));
		exit(1);
	}
}

void harness_close(struct harness *h)
{
	ring_buffer__free(h->rb);
	iofence__destroy(h->skel);
}

int harness_run_tests(const char *suite, const struct harness_test *tests, size_t n)
{
	int failed = 0;

	for (size_t i = 0; i < n; i++) {
		bool ok = tests[i].fn();

		printf("%s %s\n", ok ? "ok  " : "FAIL", tests[i].name);
		failed += !ok;
	}
	printf("%s: %zu tests, %d failed\n", suite, n, failed);
	return failed;
}

int harness_config(struct harness *h, const struct iof_config *cfg)
{
	uint32_t zero = 0;

	return bpf_map_update_elem(h->fds.config, &zero, cfg, BPF_ANY) ? -errno : 0;
}

int harness_apply(struct harness *h, const struct policy_document *doc, const char *node,
		  struct policy_image **ret_img)
{
	struct policy_image *img = NULL;
	uint32_t attach[H_IFACES] = {0}, *pf = NULL;
	uint8_t slot = h->slot ^ 1;
	char msg[200];
	int err;

	err = policy_compile(doc, node, &img, msg, sizeof(msg));
	if (err) {
		fprintf(stderr, "compile: %s\n", msg);
		return err;
	}
	if (img->n_endpoints > H_IFACES) {
		policy_image_free(img);
		return -E2BIG;
	}
	for (size_t i = 0; i < img->n_endpoints; i++)
		attach[i] = (uint32_t)h->ifindex[i];
	if (img->n_prefilter) {
		pf = calloc(img->n_prefilter, sizeof(*pf));
		for (size_t i = 0; pf && i < img->n_prefilter; i++)
			pf[i] = if_nametoindex(img->prefilter[i].interface);
	}
	err = dp_slot_clear(&h->fds, slot);
	if (!err)
		err = dp_image_write(&h->fds, img, slot, attach, pf, msg, sizeof(msg));
	if (!err)
		err = dp_slot_activate(h->fds.state, slot, ++h->revision);
	free(pf);
	if (err) {
		fprintf(stderr, "apply: %s (%s)\n", strerror(-err), msg);
		policy_image_free(img);
		return err;
	}
	h->slot = slot;
	*ret_img = img;
	return 0;
}

int harness_apply_yaml(struct harness *h, const char *yaml, struct policy_document **ret_doc,
		       struct policy_image **ret_img)
{
	struct policy_errors errs = {0};
	int err;

	err = policy_parse_buffer(yaml, strlen(yaml), "test.yaml", ret_doc, &errs);
	if (err) {
		policy_errors_print(&errs, stderr);
		policy_errors_free(&errs);
		return err;
	}
	policy_errors_free(&errs);
	return harness_apply(h, *ret_doc, "node-a", ret_img);
}

int harness_write_like_apply(struct harness *h, struct dp_delta *d,
			     const struct policy_image *img, size_t *ret_written, bool *ret_whole)
{
	uint8_t slot = h->slot ^ 1;
	char msg[256] = "";
	int err = dp_slot_clear_some(&h->fds, slot, DP_SLOT_OTHER, IOF_MAX_RULES,
				     IOF_MAX_ENDPOINTS);

	*ret_written = 0;
	*ret_whole = false;
	if (!err)
		err = dp_delta_write_tries(d, &h->fds, img, slot, ret_written);
	if (err == -E2BIG || err == -ENODATA) { /* too large a change, or the slot unknown */
		*ret_whole = true;
		*ret_written = 0;
		err = dp_slot_clear_some(&h->fds, slot, DP_SLOT_TRIES, 0, 0);
		if (!err)
			err = dp_image_write_some(&h->fds, img, slot, DP_SLOT_TRIES, NULL, NULL, msg,
						  sizeof(msg));
		if (err)
			fprintf(stderr, "whole write: %s (%s)\n", strerror(-err), msg);
	}
	if (!err)
		err = dp_slot_activate(h->fds.state, slot, ++h->revision);
	if (!err) {
		h->slot = slot;
		err = dp_delta_activated(d, img);
	}
	return err;
}

void harness_clear_ct(struct harness *h)
{
	struct iof_ct_key k; /* the larger key of the two maps */

	while (!bpf_map_get_next_key(h->fds.ct4, NULL, &k))
		bpf_map_delete_elem(h->fds.ct4, &k);
	while (!bpf_map_get_next_key(h->fds.ct6, NULL, &k))
		bpf_map_delete_elem(h->fds.ct6, &k);
}

static unsigned count_keys(int fd)
{
	struct iof_ct_key k, prev;
	unsigned n = 0;
	void *p = NULL;

	while (!bpf_map_get_next_key(fd, p, &k)) {
		n++;
		prev = k;
		p = &prev;
	}
	return n;
}

unsigned harness_ct_count(struct harness *h)
{
	return count_keys(h->fds.ct4) + count_keys(h->fds.ct6);
}

int harness_run_tc(struct harness *h, int prog_fd, int ifindex, const void *pkt, size_t len)
{
	struct __sk_buff ctx = {.ifindex = (uint32_t)ifindex};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = (uint32_t)len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);
	int err = bpf_prog_test_run_opts(prog_fd, &opts);

	(void)h;
	if (err) {
		if (errno != EINVAL || len > 64)
			fprintf(stderr, "test run: %s\n", strerror(errno));
		return -1000;
	}
	return (int)opts.retval;
}

int harness_run_xdp(struct harness *h, int ifindex, const void *pkt, size_t len)
{
	struct xdp_md ctx = {.data_end = (uint32_t)len, .ingress_ifindex = (uint32_t)ifindex};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = (uint32_t)len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);
	int err = bpf_prog_test_run_opts(bpf_program__fd(h->skel->progs.iof_xdp_prefilter), &opts);

	if (err) {
		fprintf(stderr, "xdp test run: %s\n", strerror(errno));
		return -1000;
	}
	return (int)opts.retval;
}

size_t harness_events(struct harness *h)
{
	h->n_events = 0;
	ring_buffer__consume(h->rb);
	return h->n_events;
}

static struct iof_counter sum_percpu(int fd, uint32_t key)
{
	int cpus = libbpf_num_possible_cpus();
	struct iof_counter *v = calloc((size_t)cpus, sizeof(*v)), sum = {0};

	if (v && !bpf_map_lookup_elem(fd, &key, v))
		for (int i = 0; i < cpus; i++) {
			sum.packets += v[i].packets;
			sum.bytes += v[i].bytes;
		}
	free(v);
	return sum;
}

struct iof_counter harness_drops(struct harness *h, enum iof_drop_reason reason)
{
	return sum_percpu(h->fds.drops, reason);
}

struct iof_counter harness_rule_counter(struct harness *h, uint32_t rule_id)
{
	return sum_percpu(h->fds.rule_counters, h->slot * IOF_MAX_RULES + rule_id);
}

void pkt_addr(struct pkt_spec *s, const char *src, const char *dst)
{
	s->family = strchr(src, ':') ? 6 : 4;
	inet_pton(s->family == 4 ? AF_INET : AF_INET6, src, s->src);
	inet_pton(s->family == 4 ? AF_INET : AF_INET6, dst, s->dst);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* L4 header (or a payload stand-in) at p; returns its length. */
static size_t build_l4(const struct pkt_spec *s, uint8_t *p);

/* IP header and everything after it; returns the length. */
static size_t build_ip(const struct pkt_spec *s, uint8_t *buf)
{
	uint8_t *p = buf;
	size_t l4;

	if (s->family == 4) {
		size_t ihl = 5 + (size_t)s->ip4_options;

		memset(p, 0, ihl * 4);
		p[0] = (uint8_t)(0x40 | ihl);
		p[8] = 64;
		p[9] = s->proto;
		put16(p + 6, s->frag == 1 ? 0x2000 : s->frag == 2 ? 0x2000 | 185 : 0);
		memcpy(p + 12, s->src, 4);
		memcpy(p + 16, s->dst, 4);
		memset(p + 20, 1, ihl * 4 - 20); /* NOP options */
		l4 = build_l4(s, p + ihl * 4);
		put16(p + 2, (uint16_t)(ihl * 4 + l4));
		return ihl * 4 + l4;
	}
	static const uint8_t ext_types[] = {0 /* hop-by-hop */, 60 /* dest opts */,
					    43 /* routing */};
	uint8_t *nh = p + 6;

	memset(p, 0, 40);
	p[0] = 0x60;
	p[7] = 64;
	memcpy(p + 8, s->src, 16);
	memcpy(p + 24, s->dst, 16);
	p += 40;
	for (int i = 0; i < s->v6_ext && i < 3; i++) {
		*nh = ext_types[i];
		memset(p, 0, 8);
		if (ext_types[i] == 43)
			p[2] = 4; /* routing type 4 (segment routing), segments left 0 */
		else
			p[2] = 1, p[3] = 4; /* PadN over the remaining 6 bytes */
		nh = p;
		p += 8;
	}
	if (s->frag) {
		*nh = 44;
		memset(p, 0, 8);
		put16(p + 2, s->frag == 1 ? 1 : (185 << 3) | 1);
		p[7] = 0x42;
		nh = p;
		p += 8;
	}
	*nh = s->proto;
	l4 = build_l4(s, p);
	p += l4;
	put16(buf + 4, (uint16_t)(p - buf - 40));
	return (size_t)(p - buf);
}

static size_t build_l4(const struct pkt_spec *s, uint8_t *p)
{
	if (s->frag == 2) { /* no L4 header in a non-first fragment */
		memset(p, 0xab, 16);
		return 16;
	}
	switch (s->proto) {
	case 6:
		memset(p, 0, 20);
		put16(p, s->sport);
		put16(p + 2, s->dport);
		p[12] = 5 << 4;
		p[13] = s->tcp_flags;
		return 20;
	case 17:
		memset(p, 0, 8);
		put16(p, s->sport);
		put16(p + 2, s->dport);
		put16(p + 4, 8);
		return 8;
	case 132:
		memset(p, 0, 12);
		put16(p, s->sport);
		put16(p + 2, s->dport);
		return 12;
	case 1:
	case 58:
		memset(p, 0, 8);
		p[0] = s->icmp_type;
		put16(p + 4, s->sport);
		put16(p + 6, 1);
		if (s->inner)
			return 8 + build_ip(s->inner, p + 8);
		return 8;
	default:
		memset(p, 0x5a, 8);
		return 8;
	}
}

size_t pkt_build(const struct pkt_spec *s, uint8_t *buf)
{
	uint8_t *p = buf;
	static const uint8_t mac_a[6] = {2, 0, 0, 0, 0, 1}, mac_b[6] = {2, 0, 0, 0, 0, 2};

	memcpy(p, mac_a, 6);
	memcpy(p + 6, mac_b, 6);
	p += 12;
	if (s->vlan == 2) {
		put16(p, 0x88a8);
		put16(p + 2, 100);
		p += 4;
	}
	if (s->vlan >= 1) {
		put16(p, 0x8100);
		put16(p + 2, 200);
		p += 4;
	}
	put16(p, s->family == 4 ? 0x0800 : 0x86dd);
	p += 2;
	return (size_t)(p - buf) + build_ip(s, p);
}
