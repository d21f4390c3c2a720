// SPDX-License-Identifier: Apache-2.0
/*
 * A long random sequence of small changes, each enforced by dp_apply (delta writes whenever
 * the datapath can: agent/datapath/image_delta.c), must leave the maps exactly as whole writes
 * would: at the end the active slot is compared with the last image written whole into a
 * reference set of the maps, the inactive slot with the image before it, map by map and entry
 * by entry, and the guard's verification must find both slots as written. Cheap enough for CI:
 * one comparison at the end (bpf_delta compares after every flip).
 *   test_bpf_delta_sequence [changes]    (IOFENCE_SEED reproduces a run)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/datapath/dp_internal.h"
#include "dp_fixture.h"
#include "harness.h"
#include "slot_dump.h"

/* One small change: a rule's action, priority or first port, or a group's last rule hidden
 * or shown again (n_rules[g]: the group's rules when generated). */
static void change_one(struct gen_rng *r, struct policy_document *doc, const size_t *n_rules)
{
	size_t g = gen_below(r, (uint32_t)doc->n_groups);
	struct policy_group *grp = &doc->groups[g];
	struct policy_rule *rule = grp->n_rules ? &grp->rules[gen_below(r, (uint32_t)grp->n_rules)]
						: NULL;

	switch (gen_below(r, 5)) {
	case 0:
		if (rule)
			rule->action = rule->action == POLICY_ALLOW ? POLICY_DENY : POLICY_ALLOW;
		break;
	case 1:
		if (rule)
			rule->priority = (uint16_t)gen_below(r, 3000);
		break;
	case 2:
		if (rule && rule->n_ports) {
			rule->ports[0].lo = (uint16_t)(1 + gen_below(r, 2000));
			rule->ports[0].hi = (uint16_t)(rule->ports[0].lo + gen_below(r, 3));
		}
		break;
	case 3:
		if (grp->n_rules > 1)
			grp->n_rules--;
		break;
	default:
		if (grp->n_rules < n_rules[g])
			grp->n_rules++;
		break;
	}
}

static void no_report(void *ctx, const char *what, const char *detail)
{
	fprintf(stderr, "verification found: %s: %s\n", what, detail);
	(*(unsigned *)ctx)++;
}

int main(int argc, char **argv)
{
	unsigned changes = argc > 1 ? (unsigned)atoi(argv[1]) : 200, found = 0;
	uint64_t seed = gen_seed_from_env();
	struct gen_rng rng = {.state = seed};
	struct gen_realistic_opts o = {
	    .rules = 1000, .endpoints = 8, .groups = 8, .group_pct = 40, .any_pct = 5};
	struct policy_document *doc;
	struct policy_image *img = NULL, *prev = NULL;
	struct slot_dump got = {0}, want = {0};
	struct dp_fixture fx;
	struct datapath *dp;
	struct dp_map_fds ref_fds;
	struct iofence *ref = NULL;
	size_t *n_rules = NULL;
	char err[256] = "";
	bool ok = false;

	printf("bpf_delta_sequence: seed %llu (IOFENCE_SEED=%llu reproduces), %u changes\n",
	       (unsigned long long)seed, (unsigned long long)seed, changes);
	if (dp_fixture_open(&fx, "deltaseq", &o, seed))
		goto out;
	doc = fx.doc;
	dp = fx.dp;
	if (!ASSERT_TRUE(doc->n_groups, "no policy") ||
	    !ASSERT_TRUE((ref = slot_reference_open(&ref_fds)) != NULL, "reference maps"))
		goto out;
	n_rules = calloc(doc->n_groups, sizeof(*n_rules));
	for (size_t g = 0; n_rules && g < doc->n_groups; g++)
		n_rules[g] = doc->groups[g].n_rules;
	for (unsigned i = 0; n_rules && i <= changes; i++) {
		if (i)
			change_one(&rng, doc, n_rules);
		if (!ASSERT_TRUE(!policy_compile(doc, GEN_NODE, &img, err, sizeof(err)), "%s", err))
			goto out;
		img->revision = i + 1;
		if (!ASSERT_TRUE(!dp_apply(dp, img, err, sizeof(err)), "change %u: %s", i, err))
			goto out;
		policy_image_free(prev);
		prev = img;
		img = NULL;
		if (i + 1 == changes) { /* the image before the last: the inactive slot's */
			uint8_t slot = (uint8_t)dp_active_slot(dp);

			if (!ASSERT_EQ(slot_reference_write(&ref_fds, prev, slot, err, sizeof(err)),
				       0, err))
				goto out;
		}
	}
	uint8_t active = (uint8_t)dp_active_slot(dp);

	if (!ASSERT_EQ(slot_reference_write(&ref_fds, prev, active, err, sizeof(err)), 0, err) ||
	    !ASSERT_TRUE(slots_agree(&dp->fds, &ref_fds, active, &got, &want),
			 "active slot: %zu entries after %u changes, %zu in a whole write", got.n,
			 changes, want.n) ||
	    !ASSERT_TRUE(slots_agree(&dp->fds, &ref_fds, active ^ 1, &got, &want),
			 "inactive slot: %zu entries, %zu in a whole write of the image before",
			 got.n, want.n) ||
	    !ASSERT_EQ(dp_verify_slots(dp, true, no_report, &found), 0, "verification") ||
	    !ASSERT_EQ(found, 0, "differences the verification found"))
		goto out;
	printf("bpf_delta_sequence: ok: both slots equal to whole writes after %u changes (%zu "
	       "entries in the active slot)\n",
	       changes, want.n);
	ok = true;
out:
	if (ref)
		iofence__destroy(ref);
	slot_dump_free(&got);
	slot_dump_free(&want);
	policy_image_free(img);
	policy_image_free(prev);
	if (n_rules)
		for (size_t g = 0; g < fx.doc->n_groups; g++)
			fx.doc->groups[g].n_rules = n_rules[g]; /* the hidden rules are freed too */
	free(n_rules);
	dp_fixture_close(&fx);
	return ok ? 0 : 1;
}
