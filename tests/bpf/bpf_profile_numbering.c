// SPDX-License-Identifier: Apache-2.0
/*
 * A new profile against the real maps: a workload whose groups and defaults no local endpoint
 * had starts on this node. With the profile numbers of the enforced image kept
 * (policy_compile_update), the datapath's delta writer (image_delta.h) brings the inactive
 * slot to the new image by writing the new profile's entries only; numbered afresh, the same
 * document moves the profiles after the new one and the slot is written whole. Both slots are
 * compared, map by map, with a whole write of the same image into a second set of the maps.
 *   test_bpf_profile_numbering      (IOFENCE_SEED reproduces a run)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/datapath/image_delta.h"
#include "gen.h"
#include "harness.h"
#include "slot_dump.h"

/* Writes base then next (from base's slot contents); whether next went as a delta. */
static bool new_profile_write(struct harness *h, struct slot_check *chk,
			      const struct policy_image *base, const struct policy_image *next,
			      const char *how, size_t *ret_written, bool *ret_whole)
{
	struct dp_delta d;
	size_t written;
	bool whole, ok;
	char msg[256];

	dp_delta_init(&d);
	ok = ASSERT_EQ(harness_write_like_apply(h, &d, base, &written, &whole), 0,
		       "write the base") &&
	     ASSERT_EQ(harness_write_like_apply(h, &d, base, &written, &whole), 0,
		       "both slots hold it") &&
	     ASSERT_EQ(harness_write_like_apply(h, &d, next, ret_written, ret_whole), 0, how) &&
	     ASSERT_EQ(slot_check_write(chk, next, h->slot, msg, sizeof(msg)), 0, msg) &&
	     ASSERT_TRUE(slot_check_agree(chk, &h->fds, h->slot),
			 "%s: the slot holds %zu entries, a whole write %zu", how, chk->got.n,
			 chk->want.n);
	dp_delta_free(&d);
	return ok;
}

int main(void)
{
	uint64_t seed = gen_seed_from_env();
	struct gen_rng rng = {.state = seed};
	struct gen_realistic_opts o = {
	    .rules = 2000, .endpoints = 12, .groups = 12, .group_pct = 30, .any_pct = 5};
	struct policy_document *doc = NULL, *next = NULL;
	struct policy_image *base = NULL, *stable = NULL, *fresh = NULL;
	size_t stable_written = 0, fresh_written = 0, new_entries = 0;
	bool stable_whole = true, fresh_whole = false;
	struct slot_check chk;
	struct harness h;
	int failed = 1;

	printf("bpf_profile_numbering: seed %llu (IOFENCE_SEED=%llu reproduces)\n",
	       (unsigned long long)seed, (unsigned long long)seed);
	harness_open(&h);
	slot_check_open(&chk);
	doc = gen_realistic_policy(&rng, &o);
	next = doc ? gen_with_new_profile(doc, "new-profile", "veth-new") : NULL;
	if (!ASSERT_TRUE(next != NULL, "a document with a new profile"))
		goto out;
	if (!ASSERT_EQ(policy_compile(doc, GEN_NODE, &base, NULL, 0), 0, "compile") ||
	    !ASSERT_EQ(
		policy_compile_update(next, GEN_NODE, base, POLICY_REUSE_PARTS, &stable, NULL, 0),
		0, "compile with the enforced numbers") ||
	    !ASSERT_EQ(policy_compile(next, GEN_NODE, &fresh, NULL, 0), 0, "compile afresh"))
		goto out;
	if (!ASSERT_EQ(stable->n_profiles, base->n_profiles + 1, "one profile more"))
		goto out;
	for (size_t i = 0; i < stable->n_profiles; i++)
		if (stable->profiles[i].number == base->n_profiles)
			for (int k = 0; k < LAYOUT_TABLES; k++)
				new_entries += stable->profiles[i].count[k];
	if (!new_profile_write(&h, &chk, base, stable, "stable numbers", &stable_written,
			       &stable_whole) ||
	    !new_profile_write(&h, &chk, base, fresh, "numbered afresh", &fresh_written,
			       &fresh_whole))
		goto out;
	printf("bpf_profile_numbering: a new profile (%zu of %zu entries): with the enforced "
	       "numbers %s, %zu map operations; numbered afresh %s (%zu entries)\n",
	       new_entries, policy_image_entries(stable) - stable->n_any_groups,
	       stable_whole ? "written whole" : "a delta", stable_written,
	       fresh_whole ? "written whole" : "a delta",
	       fresh_whole ? policy_image_entries(fresh) - fresh->n_any_groups : fresh_written);
	failed = !ASSERT_TRUE(!stable_whole, "a new profile was written whole") ||
		 /* the new profile, and its address in the profiles whose rules name its group */
		 !ASSERT_TRUE(stable_written >= new_entries &&
				  stable_written * 4 < policy_image_entries(stable),
			      "%zu map operations for a new profile of %zu entries", stable_written,
			      new_entries) ||
		 !ASSERT_TRUE(fresh_whole || fresh_written > stable_written,
			      "numbering afresh did not move the other profiles");
out:
	policy_image_free(base);
	policy_image_free(stable);
	policy_image_free(fresh);
	policy_document_free(next);
	policy_document_free(doc);
	slot_check_close(&chk);
	harness_close(&h);
	printf("bpf_profile_numbering: %s\n", failed ? "FAIL" : "ok");
	return failed;
}
