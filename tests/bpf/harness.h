/* SPDX-License-Identifier: Apache-2.0 */
/*
 * BPF test harness: loads iofence.bpf.o through the skeleton (no attach), in a private network
 * namespace with veth interfaces whose ifindexes serve as TC attach ids (test runs of TC
 * programs need a real device for ctx ifindex), builds packets, runs programs with
 * BPF_PROG_TEST_RUN and collects verdict events. Selftest-style ASSERT_* macros.
 */
#ifndef IOFENCE_TESTS_BPF_HARNESS_H
#define IOFENCE_TESTS_BPF_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "agent/datapath/image_delta.h"
#include "agent/datapath/image_write.h"
#include "bpf/datapath_maps.h"
#include "iofence.skel.h"
#include "policy/image.h"

#define SKIP_CODE 249
#define H_IFACES 16
#define H_EVENTS_MAX 64

#define ASSERT_TRUE(cond, ...)                                                                     \
	({                                                                                         \
		bool ok_ = (cond);                                                                 \
		if (!ok_) {                                                                        \
			fprintf(stderr, "%s:%d: FAIL %s: ", __FILE__, __LINE__, #cond);            \
			fprintf(stderr, __VA_ARGS__);                                              \
			fprintf(stderr, "\n");                                                     \
		}                                                                                  \
		ok_;                                                                               \
	})
#define ASSERT_EQ(a, b, what)                                                                      \
	({                                                                                         \
		long long a_ = (long long)(a), b_ = (long long)(b);                                \
		ASSERT_TRUE(a_ == b_, "%s: got %lld, want %lld", what, a_, b_);                    \
	})

/* A table of named tests run in order by harness_run_tests(). */
struct harness_test {
	const char *name;
	bool (*fn)(void);
};
#define HARNESS_TEST(f) {#f, f}

/* Runs every test, one "ok"/"FAIL" line each and a summary line; returns how many failed. */
int harness_run_tests(const char *suite, const struct harness_test *tests, size_t n);

struct harness {
	struct iofence *skel;
	struct dp_map_fds fds;
	int ifindex[H_IFACES];
	struct ring_buffer *rb;
	struct iof_event events[H_EVENTS_MAX];
	size_t n_events;
	uint8_t slot; /* the active slot */
	uint64_t revision;
};

/* Loads everything or exits with SKIP_CODE saying why (not root, no BPF). */
void harness_open(struct harness *h);
void harness_close(struct harness *h);

/* Writes cfg into iof_config. */
int harness_config(struct harness *h, const struct iof_config *cfg);

/*
 * Compiles doc for GEN_NODE-style node, writes it into the inactive slot (endpoint i gets
 * ifindex[i]) and flips. Returns 0 or -errno; *ret_img receives the image (caller frees).
 */
int harness_apply(struct harness *h, const struct policy_document *doc, const char *node,
		  struct policy_image **ret_img);
/* Same, from YAML text. */
int harness_apply_yaml(struct harness *h, const char *yaml, struct policy_document **ret_doc,
		       struct policy_image **ret_img);

/*
 * Writes img into the inactive slot the way dp_apply() does: the tries as a delta from what d
 * remembers when it can, else whole; the rest of the slot whole; then flips and tells d.
 * Returns 0 or -errno; *ret_written: the delta's map operations (0 when whole), *ret_whole.
 */
int harness_write_like_apply(struct harness *h, struct dp_delta *d,
			     const struct policy_image *img, size_t *ret_written, bool *ret_whole);

void harness_clear_ct(struct harness *h);
unsigned harness_ct_count(struct harness *h);

/* Runs prog on pkt with skb->ifindex = ifindex; returns the program's return value. */
int harness_run_tc(struct harness *h, int prog_fd, int ifindex, const void *pkt, size_t len);
int harness_run_xdp(struct harness *h, int ifindex, const void *pkt, size_t len);

/* Drains the ring buffer into h->events (cleared first). */
size_t harness_events(struct harness *h);

/* Summed per-CPU counters. */
struct iof_counter harness_drops(struct harness *h, enum iof_drop_reason reason);
struct iof_counter harness_rule_counter(struct harness *h, uint32_t rule_id);

/* Packet builder. */
struct pkt_spec {
	uint8_t family; /* 4 or 6 */
	uint8_t proto;
	uint8_t src[16], dst[16];
	uint16_t sport, dport; /* host order */
	uint8_t tcp_flags;
	uint8_t icmp_type; /* ICMP/ICMPv6 (echo: id = sport) */
	int vlan;	   /* VLAN tags: 0, 1 (802.1Q) or 2 (802.1ad + 802.1Q) */
	int frag;	   /* 0 none, 1 first fragment, 2 non-first fragment */
	int v6_ext;	   /* IPv6 hop-by-hop, destination options and routing headers: 0..3 */
	int ip4_options;   /* IPv4 options, 4-byte words (0..10) */
	const struct pkt_spec *inner; /* ICMP error: the embedded packet */
};

/* Builds the packet into buf (at least 256 bytes); returns its length. */
size_t pkt_build(const struct pkt_spec *s, uint8_t *buf);

/* "10.1.2.3" or "fd00::1" into spec addresses; sets family. */
void pkt_addr(struct pkt_spec *s, const char *src, const char *dst);

#endif /* IOFENCE_TESTS_BPF_HARNESS_H */
