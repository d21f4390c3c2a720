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

int main(void)
{
	/* under and over counter_ledger.c's BASES_READ_WHOLE_MIN (256) counted rules */
	if (!test_totals_survive_retired_slots(60) || !test_totals_survive_retired_slots(1500))
		return 1;
	return 0;
}
