// SPDX-License-Identifier: Apache-2.0
/*
 * Delta writes of the layout's tables (agent/datapath/image_delta.c) against the real maps: a
 * policy is changed a little at a time (an action, a port, a CIDR, a priority, an endpoint's
 * default, a rule or an endpoint hidden and restored, now and then a new document) and each
 * revision is written into the inactive slot the way dp_apply() does it, delta when it can.
 * The expectation is built apart from the delta code: a second set of the maps (the same object
 * loaded again, its programs not) gets each revision by a whole-image write into the same slot.
 * After every flip both slots of both sets are dumped straight from the kernel (outer maps,
 * every inner trie, the host tables and listed ports; keys with their slot byte cleared) and
 * must be equal map by map: the active slot holds the new image, the inactive slot the
 * previous one, which the next delta write starts from.
 *   test_bpf_delta [rounds]    (IOFENCE_SEED reproduces a run)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "agent/datapath/image_delta.h"
#include "gen.h"
#include "harness.h"
#include "slot_dump.h"

/* Hidden tails: rules and endpoints cut off by a mutation, restored later (and before free). */
struct hidden {
	size_t *n_rules; /* the group's original n_rules */
	size_t n_endpoints;
};

static void mutate(struct gen_rng *r, struct policy_document *doc, struct hidden *hid)
{
	struct policy_group *g =
	    doc->n_groups ? &doc->groups[gen_below(r, (uint32_t)doc->n_groups)] : NULL;
	struct policy_rule *rule =
	    g && g->n_rules ? &g->rules[gen_below(r, (uint32_t)g->n_rules)] : NULL;
	struct policy_endpoint *ep =
	    doc->n_endpoints ? &doc->endpoints[gen_below(r, (uint32_t)doc->n_endpoints)] : NULL;

	switch (gen_below(r, 9)) {
	case 0:
		if (rule)
			rule->action = rule->action == POLICY_ALLOW ? POLICY_DENY : POLICY_ALLOW;
		break;
	case 1:
		if (rule && rule->n_ports) {
			rule->ports[0].lo = (uint16_t)(1 + gen_below(r, 2000));
			rule->ports[0].hi = (uint16_t)(rule->ports[0].lo + gen_below(r, 3));
		}
		break;
	case 2:
		if (rule && rule->remote_kind == POLICY_REMOTE_CIDR)
			rule->cidr.addr[rule->cidr.family == 4 ? 2 : 5] ^= 1; /* inside the mask? */
		break;
	case 3:
		if (rule)
			rule->priority = (uint16_t)gen_below(r, 3000);
		break;
	case 4:
		if (ep)
			ep->ingress = ep->ingress == POLICY_ALLOW ? POLICY_DENY : POLICY_ALLOW;
		break;
	case 5: /* hide the group's last rule */
		if (g && g->n_rules)
			g->n_rules--;
		break;
	case 6: /* restore hidden rules */
		for (size_t i = 0; i < doc->n_groups; i++)
			doc->groups[i].n_rules = hid->n_rules[i];
		break;
	case 7:
		if (doc->n_endpoints > 1)
			doc->n_endpoints--;
		break;
	default:
		doc->n_endpoints = hid->n_endpoints;
		break;
	}
}

static void restore(struct policy_document *doc, const struct hidden *hid)
{
	for (size_t i = 0; i < doc->n_groups; i++)
		doc->groups[i].n_rules = hid->n_rules[i];
	doc->n_endpoints = hid->n_endpoints;
}

/* A prefix whose host bits were set by a mutation would be refused; keep CIDRs masked. */
static void mask_cidrs(struct policy_document *doc)
{
	for (size_t g = 0; g < doc->n_groups; g++)
		for (size_t i = 0; i < doc->groups[g].n_rules; i++) {
			struct policy_prefix *p = &doc->groups[g].rules[i].cidr;

			for (unsigned b = p->len; b < (p->family == 4 ? 32u : 128u); b++)
				p->addr[b / 8] &= (uint8_t) ~(0x80 >> (b % 8));
		}
}

static struct policy_document *new_doc(struct gen_rng *r, struct hidden *hid)
{
	struct policy_document *doc;

	if (gen_below(r, 2)) {
		doc = gen_random_policy(r);
	} else {
		struct gen_realistic_opts o = {.rules = 200 + gen_below(r, 800),
					       .endpoints = 4 + gen_below(r, 12),
					       .groups = 3 + gen_below(r, 10),
					       .group_pct = 50,
					       .any_pct = 5};

		doc = gen_realistic_policy(r, &o);
	}
	if (!doc)
		abort();
	free(hid->n_rules);
	hid->n_rules = calloc(doc->n_groups + 1, sizeof(size_t));
	for (size_t i = 0; i < doc->n_groups; i++)
		hid->n_rules[i] = doc->groups[i].n_rules;
	hid->n_endpoints = doc->n_endpoints;
	return doc;
}

int main(int argc, char **argv)
{
	unsigned rounds = argc > 1 ? (unsigned)atoi(argv[1]) : 300, delta_rounds = 0;
	uint64_t seed = gen_seed_from_env();
	struct gen_rng rng = {.state = seed};
	struct harness h;
	struct hidden hid = {0};
	struct policy_document *doc;
	struct policy_image *prev = NULL;
	struct dp_delta d;
	struct slot_check chk;
	size_t written_total = 0, entries_total = 0;
	int failed = 0;

	printf("bpf_delta: seed %llu (IOFENCE_SEED=%llu reproduces), %u rounds\n",
	       (unsigned long long)seed, (unsigned long long)seed, rounds);
	harness_open(&h);
	slot_check_open(&chk);
	dp_delta_init(&d);
	doc = new_doc(&rng, &hid);
	for (unsigned round = 0; round < rounds && !failed; round++) {
		struct policy_image *img = NULL;
		uint8_t slot = h.slot ^ 1;
		size_t written = 0;
		bool whole = true;
		char msg[256];
		int err;

		if (round && gen_below(&rng, 40) == 0) {
			restore(doc, &hid);
			policy_document_free(doc);
			doc = new_doc(&rng, &hid);
		} else if (round) {
			for (unsigned m = 1 + gen_below(&rng, 3); m; m--)
				mutate(&rng, doc, &hid);
			mask_cidrs(doc);
		}
		err = policy_compile(doc, GEN_NODE, &img, msg, sizeof(msg));
		if (!ASSERT_EQ(err, 0, msg)) {
			failed = 1;
			break;
		}
		err = harness_write_like_apply(&h, &d, img, &written, &whole);
		if (!ASSERT_EQ(err, 0, "write")) {
			failed = 1;
			policy_image_free(img);
			break;
		}
		delta_rounds += !whole;
		written_total += written;
		entries_total += policy_image_entries(img) - img->n_any_groups;
		if (!ASSERT_EQ(slot_check_write(&chk, img, slot, msg, sizeof(msg)), 0, msg))
			failed = 1;
		if (!ASSERT_TRUE(slot_check_agree(&chk, &h.fds, slot),
				 "round %u: active slot %u holds %zu entries, a whole write %zu",
				 round, slot, chk.got.n, chk.want.n))
			failed = 1;
		if (!ASSERT_EQ(chk.want.n, policy_image_entries(img) - img->n_any_groups,
			       "entries of a whole write"))
			failed = 1;
		if (prev && !ASSERT_TRUE(slot_check_agree(&chk, &h.fds, slot ^ 1),
					 "round %u: inactive slot holds %zu entries, the previous "
					 "image's whole write %zu",
					 round, chk.got.n, chk.want.n))
			failed = 1;
		policy_image_free(prev);
		prev = img;
	}
	printf("bpf_delta: %u of %u revisions written as deltas (%zu map operations for %zu "
	       "entries)\n",
	       delta_rounds, rounds, written_total, entries_total);
	if (!failed && !ASSERT_TRUE(delta_rounds * 10 > rounds, "too few delta writes"))
		failed = 1;
	policy_image_free(prev);
	restore(doc, &hid);
	policy_document_free(doc);
	free(hid.n_rules);
	dp_delta_free(&d);
	slot_check_close(&chk);
	harness_close(&h);
	printf("bpf_delta: %s\n", failed ? "FAIL" : "ok");
	return failed;
}
