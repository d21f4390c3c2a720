// SPDX-License-Identifier: Apache-2.0
/*
 * The guard's verification of the slots (dp_verify_slots) reads the maps while applies go on
 * (agent/datapath/verify.c): it must never take a slot an apply is writing or flipping for a
 * damaged one, must still find a tampered entry of the active slot, and the repair
 * (dp_apply_again) must never write a revision that is no longer the active one.
 *   test_bpf_verify_beside_applies
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "agent/datapath/image_write.h"
#include "dp_fixture.h"
#include "harness.h"
#include "policy/layout.h"

#define APPLIES 120

struct applier {
	struct datapath *dp;
	struct policy_image *img[2]; /* two images a rule apart, applied in turn */
	atomic_bool done;
	int error;
	char err[256];
};

static void *apply_in_turn(void *arg)
{
	struct applier *a = arg;

	for (uint64_t i = 0; i < APPLIES && !a->error; i++) {
		struct policy_image *img = a->img[i & 1];

		img->revision = 10 + i;
		a->error = dp_apply(a->dp, img, a->err, sizeof(a->err));
	}
	atomic_store(&a->done, true);
	return NULL;
}

struct found {
	unsigned reports;
	char last[320];
};

static void count_report(void *ctx, const char *what, const char *detail)
{
	struct found *f = ctx;

	f->reports++;
	snprintf(f->last, sizeof(f->last), "%s: %s", what, detail);
}

/* Deletes one entry of the active slot's first policy trie, as an attacker with bpftool would. */
static int tamper_active_policy(const char *pin_dir, uint8_t slot)
{
	struct layout_table t = layout_table_of(NULL, LAYOUT_POLICY);
	char path[256], key[64], next[64];
	__u32 idx = dp_trie_index(&t, slot, 0), id;
	int outer, inner, r = -ENOENT;

	snprintf(path, sizeof(path), "%s/maps/%s", pin_dir, t.map);
	outer = bpf_obj_get(path);
	if (outer < 0)
		return -errno;
	if (!bpf_map_lookup_elem(outer, &idx, &id) && (inner = bpf_map_get_fd_by_id(id)) >= 0) {
		if (!bpf_map_get_next_key(inner, NULL, next)) {
			memcpy(key, next, sizeof(key));
			r = bpf_map_delete_elem(inner, key) ? -errno : 0;
		}
		close(inner);
	}
	close(outer);
	return r;
}

static bool test_verify_beside_applies(void)
{
	struct gen_realistic_opts o = {.rules = 400, .endpoints = 8, .groups = 6, .group_pct = 40};
	struct dp_fixture fx;
	struct policy_document *doc;
	struct applier a = {0};
	struct found f = {0};
	unsigned concluded = 0, overtaken = 0, rounds = 0;
	char err[256] = "";
	pthread_t th;
	bool ok = false, started = false;
	int r;

	if (dp_fixture_open(&fx, "verify", &o, 7))
		goto out;
	doc = fx.doc;
	a.dp = fx.dp;
	a.img[0] = fx.img; /* the fixture's: freed with it */
	/* the second image: the first group's first rule with the other action */
	for (size_t g = 0; g < doc->n_groups; g++) {
		if (!doc->groups[g].n_rules)
			continue;
		doc->groups[g].rules[0].action = doc->groups[g].rules[0].action == POLICY_ALLOW
						     ? POLICY_DENY
						     : POLICY_ALLOW;
		break;
	}
	if (!ASSERT_TRUE(!policy_compile(doc, GEN_NODE, &a.img[1], err, sizeof(err)), "%s", err))
		goto out;
	a.img[1]->revision = 1;
	a.img[0]->revision = 2;
	if (!ASSERT_TRUE(!dp_apply(a.dp, a.img[1], err, sizeof(err)), "apply: %s", err) ||
	    !ASSERT_TRUE(!dp_apply(a.dp, a.img[0], err, sizeof(err)), "apply: %s", err))
		goto out;
	if (!ASSERT_TRUE(!pthread_create(&th, NULL, apply_in_turn, &a), "pthread_create"))
		goto out;
	started = true;
	while (!atomic_load(&a.done)) {
		r = dp_verify_slots(a.dp, false, count_report, &f);
		rounds++;
		concluded += r == 0;
		overtaken += r == -EAGAIN;
		if (!ASSERT_TRUE(r == 0 || r == -EAGAIN, "verification beside applies: %d (%s)", r,
				 f.last))
			goto out;
	}
	pthread_join(th, NULL);
	started = false;
	if (!ASSERT_TRUE(!a.error, "apply: %s", a.err) ||
	    !ASSERT_EQ(f.reports, 0, "damage reported beside applies"))
		goto out;
	printf("ok: %u verifications beside %d applies: %u concluded, %u overtaken, nothing "
	       "reported\n",
	       rounds, APPLIES, concluded, overtaken);

	/* no apply now: one verification concludes, and finds a deleted entry */
	uint8_t active = (uint8_t)dp_active_slot(a.dp);
	struct policy_image *live = a.img[(APPLIES - 1) & 1];

	if (!ASSERT_EQ(dp_verify_slots(a.dp, false, count_report, &f), 0, "verify untouched") ||
	    !ASSERT_EQ(tamper_active_policy(fx.pin_dir, active), 0, "tamper") ||
	    !ASSERT_EQ(dp_verify_slots(a.dp, false, count_report, &f), 1, "verify tampered") ||
	    !ASSERT_TRUE(strstr(f.last, "policy_entry") != NULL, "reported: %s", f.last))
		goto out;
	printf("ok: a deleted entry of the active slot found (%s)\n", f.last);

	/* a repair with an image of another revision writes nothing */
	struct policy_image *stale = a.img[APPLIES & 1];

	stale->revision = live->revision - 1;
	if (!ASSERT_EQ(dp_apply_again(a.dp, stale, err, sizeof(err)), -ESTALE, "stale repair") ||
	    !ASSERT_EQ(dp_active_revision(a.dp), live->revision, "active revision"))
		goto out;
	if (!ASSERT_TRUE(!dp_apply_again(a.dp, live, err, sizeof(err)), "repair: %s", err) ||
	    !ASSERT_EQ(dp_verify_slots(a.dp, false, count_report, &f), 0, "verify repaired"))
		goto out;
	printf("ok: a stale repair refused, the active revision written again whole and verified\n");
	ok = true;
out:
	if (started) {
		pthread_join(th, NULL);
	}
	policy_image_free(a.img[1]);
	dp_fixture_close(&fx);
	return ok;
}

int main(void)
{
	return test_verify_beside_applies() ? 0 : 1;
}
