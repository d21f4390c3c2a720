// SPDX-License-Identifier: Apache-2.0
/*
 * The counter ledger (agent/datapath/counter_ledger.c) on the real maps: what a slot counted
 * is carried into its identities' bases when an apply retires the slot, so every rule's total
 * stays what it was, and grows by what the slot counts next. Counts are put into the slot's
 * per-CPU counters as traffic through every rule would leave them. Two sizes: a few rules
 * (the bases read one lookup each) and many (the base map read whole in batches).
 *   test_bpf_counter_ledger
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp_fixture.h"
#include "harness.h"

/* Adds packets (and 100 bytes each) to every rule counter of slot, on every CPU. */
static int count_in_slot(const char *pin_dir, uint32_t slot, size_t n_rules, uint64_t packets)
{
	int ncpu = libbpf_num_possible_cpus(), fd, r = 0;
	struct iof_counter *v = calloc(ncpu > 0 ? (size_t)ncpu : 1, sizeof(*v));
	char path[256];

	snprintf(path, sizeof(path), "%s/maps/iof_rule_counters", pin_dir);
	fd = bpf_obj_get(path);
	if (fd < 0 || !v) {
		free(v);
		return -errno;
	}
	for (size_t i = 0; !r && i < n_rules; i++) {
		__u32 key = slot * IOF_MAX_RULES + (__u32)i;

		r = bpf_map_lookup_elem(fd, &key, v) ? -errno : 0;
		for (int c = 0; !r && c < ncpu; c++) {
			v[c].packets += packets;
			v[c].bytes += packets * 100;
		}
		if (!r)
			r = bpf_map_update_elem(fd, &key, v, BPF_ANY) ? -errno : 0;
	}
	free(v);
	close(fd);
	return r;
}

/* Every rule's total is want packets (want * 100 bytes). */
static bool totals_are(struct datapath *dp, const struct policy_image *img, uint64_t want,
		       const char *when)
{
	for (size_t i = 0; i < img->n_rules; i++) {
		struct iof_counter c;

		if (!ASSERT_TRUE(!dp_read_rule_total(dp, img->rules[i].identity, &c),
				 "%s: rule %zu: total not read", when, i) ||
		    !ASSERT_TRUE(c.packets == want && c.bytes == want * 100,
				 "%s: rule %zu of %zu: %llu packets, %llu bytes; want %llu", when,
				 i, img->n_rules, (unsigned long long)c.packets,
				 (unsigned long long)c.bytes, (unsigned long long)want))
			return false;
	}
	return true;
}

static bool test_totals_survive_retired_slots(size_t rules)
{
	struct gen_realistic_opts o = {.rules = rules, .endpoints = 10, .groups = 5,
				       .group_pct = 30, .any_pct = 5};
	int ncpu = libbpf_num_possible_cpus();
	struct dp_fixture f;
	bool ok = false;

	/* both slots hold the image; the next apply retires the inactive one */
	if (dp_fixture_open(&f, "ledger", &o, 7 + rules) || dp_fixture_apply(&f, 1) ||
	    dp_fixture_apply(&f, 2))
		goto out;
	for (uint64_t round = 1; round <= 3; round++) {
		uint32_t retired = dp_active_slot(f.dp) ^ 1;
		uint64_t want = round * 5 * (uint64_t)ncpu;

		if (!ASSERT_TRUE(!count_in_slot(f.pin_dir, retired, f.img->n_rules, 5),
				 "counters: %s", strerror(errno)) ||
		    !totals_are(f.dp, f.img, want, "before the apply") ||
		    dp_fixture_apply(&f, 2 + round) ||
		    !totals_are(f.dp, f.img, want, "after the apply") ||
		    !ASSERT_EQ(dp_counter_errors(f.dp), 0, "applies that lost counts"))
			goto out;
	}
	printf("ok: %zu rules: totals kept through 3 retired slots\n", f.img->n_rules);
	ok = true;
out:
	dp_fixture_close(&f);
	return ok;
}

/* Names every rule (a named rule's identity follows it) and reverses each group's order. */
static int name_and_reverse(struct dp_fixture *f, bool reverse)
{
	char err[256], name[32];

	for (size_t g = 0; g < f->doc->n_groups; g++) {
		struct policy_group *grp = &f->doc->groups[g];

		for (size_t i = 0; !reverse && i < grp->n_rules; i++) {
			snprintf(name, sizeof(name), "r%zu", i);
			free(grp->rules[i].name);
			grp->rules[i].name = strdup(name);
			if (!grp->rules[i].name)
				return -ENOMEM;
		}
		for (size_t i = 0; reverse && i < grp->n_rules / 2; i++) {
			struct policy_rule t = grp->rules[i];

			grp->rules[i] = grp->rules[grp->n_rules - 1 - i];
			grp->rules[grp->n_rules - 1 - i] = t;
		}
	}
	policy_image_free(f->img);
	f->img = NULL;
	if (policy_compile(f->doc, GEN_NODE, &f->img, err, sizeof(err))) {
		fprintf(stderr, "FAIL: compile: %s\n", err);
		return -EINVAL;
	}
	return 0;
}

/*
 * Rules that move to other rule ids (a group's order reversed, named rules keeping their
 * identity): what they counted in the retired slot is carried, what identities that keep
 * their id counted stays in place; either way every total stays.
 */
/* Each rule's total is what it was in before (same image order). */
static bool totals_kept(struct datapath *dp, const struct policy_image *img,
			const struct iof_counter *before, const char *when)
{
	for (size_t i = 0; i < img->n_rules; i++) {
		struct iof_counter c;

		if (!ASSERT_TRUE(!dp_read_rule_total(dp, img->rules[i].identity, &c),
				 "%s: rule %zu: total not read", when, i) ||
		    !ASSERT_TRUE(c.packets == before[i].packets && c.bytes == before[i].bytes,
				 "%s: rule %zu: %llu packets; want %llu", when, i,
				 (unsigned long long)c.packets,
				 (unsigned long long)before[i].packets))
			return false;
	}
	return true;
}

/* The totals of img's rules, by the identity of the rule at each position of order. */
static int totals_of(struct datapath *dp, const struct policy_image *img,
		     const struct policy_image *order, struct iof_counter *ret)
{
	for (size_t i = 0; i < order->n_rules; i++) {
		ret[i] = (struct iof_counter){0};
		for (size_t j = 0; j < img->n_rules; j++)
			if (img->rules[j].identity == order->rules[i].identity &&
			    dp_read_rule_total(dp, img->rules[j].identity, &ret[i]))
				return -EIO;
	}
	return 0;
}

static bool test_totals_follow_moved_rules(void)
{
	struct gen_realistic_opts o = {.rules = 300, .endpoints = 10, .groups = 5,
				       .group_pct = 30, .any_pct = 5};
	int ncpu = libbpf_num_possible_cpus();
	uint64_t want = 5 * (uint64_t)ncpu;
	struct iof_counter *before = NULL;
	struct policy_image *first = NULL;
	struct dp_fixture f;
	bool ok = false;

	if (dp_fixture_open(&f, "ledger-move", &o, 99) || name_and_reverse(&f, false) ||
	    dp_fixture_apply(&f, 1) || dp_fixture_apply(&f, 2))
		goto out;
	/* the first half of the rules counted: a total that lands on another rule shows */
	if (!ASSERT_TRUE(!count_in_slot(f.pin_dir, dp_active_slot(f.dp) ^ 1,
					f.img->n_rules / 2, 5),
			 "counters: %s", strerror(errno)))
		goto out;
	first = f.img;
	f.img = NULL;
	before = calloc(first->n_rules + 1, sizeof(*before));
	if (!ASSERT_TRUE(before && !totals_of(f.dp, first, first, before), "totals") ||
	    !ASSERT_EQ(before[0].packets, want, "a counted rule's total") ||
	    name_and_reverse(&f, true) || !ASSERT_EQ(f.img->n_rules, first->n_rules, "rules"))
		goto out;
	/* before[] follows the new order: the rule at position i is the same named rule */
	if (!ASSERT_TRUE(!totals_of(f.dp, first, f.img, before), "totals") ||
	    dp_fixture_apply(&f, 3) ||
	    !totals_kept(f.dp, f.img, before, "after the rules moved (one slot)") ||
	    dp_fixture_apply(&f, 4) ||
	    !totals_kept(f.dp, f.img, before, "after the rules moved (both slots)") ||
	    !ASSERT_EQ(dp_counter_errors(f.dp), 0, "applies that lost counts"))
		goto out;
	printf("ok: %zu named rules reversed in their groups: totals kept\n", f.img->n_rules);
	ok = true;
out:
	free(before);
	policy_image_free(first);
	dp_fixture_close(&f);
	return ok;
}

int main(void)
{
	/* under and over counter_ledger.c's BASES_READ_WHOLE_MIN (256) counted rules */
	if (!test_totals_survive_retired_slots(60) || !test_totals_survive_retired_slots(1500) ||
	    !test_totals_follow_moved_rules())
		return 1;
	return 0;
}
