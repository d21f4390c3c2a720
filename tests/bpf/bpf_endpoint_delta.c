// SPDX-License-Identifier: Apache-2.0
/*
 * Endpoint and group deltas of cluster mode (policy/derive.h) against whole applies. A
 * realistic policy (rules naming groups, endpoints on this node and on others) gets rounds of
 * one to four endpoint changes - added, removed, given other groups or another address, moved
 * to another node (a removal and a put of the same name) - and, every other round, one or two
 * security groups whose rules change (priority, action, direction, ports), applied the way
 * the agent applies a JOB_DELTA: policy_derive() on the previous revision, compiled, written
 * into the inactive slot as a delta and flipped. The reference is built apart: the test's own
 * objects, read whole as the agent reads the datastore's (a PolicyDocument with its endpoints
 * in key order, policy_from_pb()), compiled and written whole into a second set of the maps.
 * After every round the documents must be equal and both active slots, dumped from the
 * kernel, equal map by map, entry by entry.
 *   test_bpf_endpoint_delta [rounds]   (IOFENCE_SEED reproduces a run)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/datapath/image_delta.h"
#include "agent/etcd/cluster.h"
#include "gen.h"
#include "harness.h"
#include "policy/derive.h"
#include "policy/errors.h"
#include "policy/pb.h"
#include "policy/write.h"
#include "slot_dump.h"

#define MAX_EPS 64
static const char *const nodes[] = {GEN_NODE, GEN_OTHER_NODE, "node-c"};

/* The test's truth: what a controller wrote (one object per endpoint). */
struct ep {
	char name[32], node[16], iface[16], addr[48], *groups[2];
	size_t n_groups;
};

struct truth {
	struct ep v[MAX_EPS];
	size_t n;
	unsigned next_id;
	Iofence__V1__PolicyDocument *rest; /* defaults and groups */
};

static void ep_to_pb(struct ep *e, Iofence__V1__Endpoint *m, char **addrs)
{
	iofence__v1__endpoint__init(m);
	m->name = e->name;
	m->node = e->node;
	m->interface = e->iface;
	addrs[0] = e->addr;
	m->addresses = addrs;
	m->n_addresses = 1;
	m->groups = e->groups;
	m->n_groups = e->n_groups;
}

static void ep_random(struct gen_rng *r, const struct truth *t, struct ep *e)
{
	Iofence__V1__SecurityGroup **g = t->rest->security_groups;
	size_t ng = t->rest->n_security_groups;

	e->n_groups = 1 + gen_below(r, 2);
	e->groups[0] = g[gen_below(r, (uint32_t)ng)]->name;
	e->groups[1] = g[gen_below(r, (uint32_t)ng)]->name;
	if (e->n_groups == 2 && !strcmp(e->groups[0], e->groups[1]))
		e->n_groups = 1;
}

/* A new endpoint with a fresh name and address. */
static struct ep ep_new(struct gen_rng *r, struct truth *t)
{
	struct ep e = {0};
	unsigned id = t->next_id++;

	snprintf(e.name, sizeof(e.name), "ep-%u", id);
	snprintf(e.node, sizeof(e.node), "%s", nodes[gen_below(r, 3)]);
	snprintf(e.iface, sizeof(e.iface), "ifd%u", id);
	if (gen_below(r, 4))
		snprintf(e.addr, sizeof(e.addr), "10.200.%u.%u", id / 250, id % 250 + 1);
	else
		snprintf(e.addr, sizeof(e.addr), "fd00:99::%x", id + 1);
	ep_random(r, t, &e);
	return e;
}

static int key_order(const struct policy_endpoint *a, const struct policy_endpoint *b)
{
	return cluster_endpoint_key_cmp(a->node, a->name, b->node, b->name);
}

static int pb_key_order(const void *a, const void *b)
{
	const Iofence__V1__Endpoint *x = *(Iofence__V1__Endpoint *const *)a;
	const Iofence__V1__Endpoint *y = *(Iofence__V1__Endpoint *const *)b;

	return cluster_endpoint_key_cmp(x->node, x->name, y->node, y->name);
}

/* The truth read whole, endpoints in key order (as the follower reads the objects). */
static struct policy_document *read_whole(struct truth *t)
{
	Iofence__V1__Endpoint m[MAX_EPS], *ptrs[MAX_EPS];
	char *addrs[MAX_EPS][1];
	Iofence__V1__PolicyDocument whole = *t->rest;
	struct policy_errors errs = {0};
	struct policy_document *doc = NULL;

	for (size_t i = 0; i < t->n; i++) {
		ep_to_pb(&t->v[i], &m[i], addrs[i]);
		ptrs[i] = &m[i];
	}
	qsort(ptrs, t->n, sizeof(*ptrs), pb_key_order);
	whole.endpoints = ptrs;
	whole.n_endpoints = t->n;
	if (policy_from_pb(&whole, "<whole>", &doc, &errs)) {
		char line[512];

		policy_error_format(&errs.items[0], line, sizeof(line));
		fprintf(stderr, "bpf_endpoint_delta: whole read: %s\n", line);
		abort();
	}
	policy_errors_free(&errs);
	return doc;
}

/* One round of changes to t, also as policy_endpoint_changes (their messages in m). */
static size_t change_round(struct gen_rng *r, struct truth *t, struct policy_endpoint_change *c,
			   Iofence__V1__Endpoint *m, char (*names)[32], char **addrs)
{
	size_t n = 0;
	bool touched[MAX_EPS] = {false};

	for (unsigned k = 1 + gen_below(r, 4); k; k--) {
		unsigned what = gen_below(r, 10);
		size_t i = t->n ? gen_below(r, (uint32_t)t->n) : 0;

		if (t->n < 4 || (what < 4 && t->n < MAX_EPS - 1)) { /* add */
			t->v[t->n] = ep_new(r, t);
			touched[t->n] = true;
			i = t->n++;
		} else if (touched[i]) {
			continue; /* one change of an endpoint per round (a move is two) */
		} else if (what < 6) { /* remove */
			snprintf(names[n], 32, "%s", t->v[i].name);
			c[n] = (struct policy_endpoint_change){names[n], NULL};
			n++;
			t->v[i] = t->v[--t->n];
			touched[i] = touched[t->n];
			touched[t->n] = false;
			continue;
		} else if (what < 9) { /* other groups or another address */
			touched[i] = true;
			if (gen_below(r, 2)) {
				ep_random(r, t, &t->v[i]);
			} else {
				struct ep e = ep_new(r, t);

				memcpy(t->v[i].addr, e.addr, sizeof(e.addr));
			}
		} else { /* moved to another node: its old key goes */
			size_t was = 0;

			while (strcmp(nodes[was], t->v[i].node))
				was++;
			touched[i] = true;
			snprintf(names[n], 32, "%s", t->v[i].name);
			c[n] = (struct policy_endpoint_change){names[n], NULL};
			n++;
			snprintf(t->v[i].node, sizeof(t->v[i].node), "%s",
				 nodes[(was + 1 + gen_below(r, 2)) % 3]);
		}
		snprintf(names[n], 32, "%s", t->v[i].name);
		c[n] = (struct policy_endpoint_change){names[n], &m[n]};
		n++;
	}
	/* the messages point into t: made once t has stopped moving */
	for (size_t k = 0; k < n; k++) {
		size_t i = 0;

		if (!c[k].put)
			continue;
		while (strcmp(t->v[i].name, c[k].name))
			i++;
		ep_to_pb(&t->v[i], &m[k], &addrs[k]);
	}
	return n;
}

/* Changes one rule of t's group g in place (its message is the change's value). */
static void group_mutate(struct gen_rng *r, Iofence__V1__SecurityGroup *g)
{
	Iofence__V1__Rule *rule;

	if (!g->n_rules)
		return;
	rule = g->rules[gen_below(r, (uint32_t)g->n_rules)];
	switch (gen_below(r, 4)) {
	case 0:
		rule->priority = gen_below(r, 2000);
		rule->has_priority = true;
		break;
	case 1:
		rule->action = rule->action == IOFENCE__V1__ACTION__ACTION_DENY
				   ? IOFENCE__V1__ACTION__ACTION_ALLOW
				   : IOFENCE__V1__ACTION__ACTION_DENY;
		break;
	case 2:
		rule->direction = rule->direction == IOFENCE__V1__DIRECTION__DIRECTION_EGRESS
				      ? IOFENCE__V1__DIRECTION__DIRECTION_INGRESS
				      : IOFENCE__V1__DIRECTION__DIRECTION_EGRESS;
		break;
	default:
		if (rule->n_ports) {
			rule->ports[0]->lo = 1 + gen_below(r, 60000);
			rule->ports[0]->hi = rule->ports[0]->lo + gen_below(r, 3);
		}
	}
}

/* Every other round: one or two groups of t changed, as policy_group_changes in c. */
static size_t group_round(struct gen_rng *r, struct truth *t, unsigned round,
			  struct policy_group_change *c)
{
	size_t n = 0, ng = t->rest->n_security_groups;

	if (round % 2 || !ng)
		return 0;
	for (unsigned k = 1 + gen_below(r, 2); k; k--) {
		Iofence__V1__SecurityGroup *g = t->rest->security_groups[gen_below(r, (uint32_t)ng)];

		group_mutate(r, g);
		if (n == 1 && c[0].put == g)
			continue;
		c[n++] = (struct policy_group_change){g->name, g};
	}
	return n;
}

static struct policy_image *compile_or_die(const struct policy_document *doc)
{
	struct policy_image *img = NULL;
	char msg[256];

	if (policy_compile(doc, GEN_NODE, &img, msg, sizeof(msg))) {
		fprintf(stderr, "bpf_endpoint_delta: compile: %s\n", msg);
		abort();
	}
	return img;
}

int main(int argc, char **argv)
{
	unsigned rounds = argc > 1 ? (unsigned)atoi(argv[1]) : 40, deltas = 0, groups = 0;
	uint64_t seed = gen_seed_from_env();
	struct gen_rng rng = {.state = seed};
	struct gen_realistic_opts o = {
	    .rules = 1000, .endpoints = 2, .groups = 8, .group_pct = 30, .any_pct = 5};
	struct policy_document *gen, *cur;
	struct truth t = {0};
	struct slot_check chk;
	struct harness h;
	struct dp_delta d;
	int failed = 0;

	printf("bpf_endpoint_delta: seed %llu (IOFENCE_SEED=%llu reproduces), %u rounds\n",
	       (unsigned long long)seed, (unsigned long long)seed, rounds);
	harness_open(&h);
	slot_check_open(&chk);
	dp_delta_init(&d);
	gen = gen_realistic_policy(&rng, &o);
	if (!gen || policy_to_pb(gen, &t.rest))
		abort();
	while (t.n < 8)
		t.v[t.n++] = ep_new(&rng, &t);
	cur = read_whole(&t);
	{
		struct policy_image *img = compile_or_die(cur);
		size_t written;
		bool written_whole;

		if (!ASSERT_EQ(harness_write_like_apply(&h, &d, img, &written, &written_whole), 0,
			       "first write"))
			failed = 1;
		policy_image_free(img);
	}
	for (unsigned round = 0; round < rounds && !failed; round++) {
		struct policy_group_change gc[2];
		struct policy_changes ch = {.order = key_order};
		struct policy_endpoint_change c[16];
		Iofence__V1__Endpoint m[16];
		char names[16][32], *addrs[16];
		struct policy_errors errs = {0};
		struct policy_document *next = NULL, *whole;
		struct policy_image *img, *img_whole;
		size_t n = change_round(&rng, &t, c, m, names, addrs), written = 0;
		bool written_whole = true;
		char msg[256];
		int err;

		ch.endpoints = c;
		ch.n_endpoints = n;
		ch.groups = gc;
		ch.n_groups = group_round(&rng, &t, round, gc);
		groups += ch.n_groups;
		err = policy_derive(cur, &ch, "<delta>", &next, &errs);
		snprintf(msg, sizeof(msg), "derive");
		if (err && errs.n)
			policy_error_format(&errs.items[0], msg, sizeof(msg));
		policy_errors_free(&errs);
		if (!ASSERT_EQ(err, 0, msg)) {
			failed = 1;
			break;
		}
		whole = read_whole(&t);
		next->revision = whole->revision;
		next->has_revision = whole->has_revision;
		if (!ASSERT_TRUE(policy_document_equal(next, whole),
				 "round %u: the derived document differs from the whole read", round))
			failed = 1;
		img = compile_or_die(next);
		img_whole = compile_or_die(whole);
		if (!ASSERT_EQ(harness_write_like_apply(&h, &d, img, &written, &written_whole), 0,
			       "delta write"))
			failed = 1;
		deltas += !written_whole;
		if (!ASSERT_EQ(slot_check_write(&chk, img_whole, h.slot, msg, sizeof(msg)), 0, msg))
			failed = 1;
		if (!ASSERT_TRUE(slot_check_agree(&chk, &h.fds, h.slot),
				 "round %u (%zu + %zu changes): active slot holds %zu entries, the whole "
				 "document's write %zu",
				 round, n, ch.n_groups, chk.got.n, chk.want.n))
			failed = 1;
		policy_image_free(img);
		policy_image_free(img_whole);
		policy_document_free(whole);
		policy_document_free(cur); /* next keeps the shared groups alive */
		cur = next;
	}
	printf("bpf_endpoint_delta: %u of %u rounds written as deltas, %u group changes, %zu "
	       "endpoints at the end\n",
	       deltas, rounds, groups, t.n);
	/* how many rounds the datapath wrote as deltas is its own choice (a member change can
	 * touch more than a quarter of a small image); the maps must agree either way */
	policy_document_free(cur);
	policy_document_free(gen);
	policy_pb_free(t.rest);
	dp_delta_free(&d);
	slot_check_close(&chk);
	harness_close(&h);
	printf("bpf_endpoint_delta: %s\n", failed ? "FAIL" : "ok");
	return failed;
}
