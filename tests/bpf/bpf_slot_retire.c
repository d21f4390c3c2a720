// SPDX-License-Identifier: Apache-2.0
/*
 * A slot flipped away from is not written again while a program run that read it may still
 * be going on (agent/datapath/slot_retire.h), though dp_apply no longer waits for a grace
 * period itself. A slow reader (slow_reader.bpf.c, a real BPF program on the datapath's own
 * iof_state) picks the active slot and keeps running; meanwhile two applies flip away from
 * that slot and write it again. The reader must find its slot unchanged at its end, and the
 * second apply must have waited for it. Attempts in which the reader ended before the first
 * flip prove nothing and are repeated.
 *   test_bpf_slot_retire
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp_fixture.h"
#include "harness.h"
#include "slow_reader.h"
#include "slow_reader.skel.h"

#define ATTEMPTS 8
#define POLLS 100000 /* of 100 us: a bound against hanging, not a time asserted */

/* Every flip so far retired (the thread waits for a grace period after each). */
static bool all_retired(struct datapath *dp)
{
	struct dp_retire_figures fig;

	for (int i = 0; i < POLLS; i++) {
		dp_read_slot_retire(dp, &fig);
		if (fig.retired == fig.flips)
			return true;
		usleep(100);
	}
	return false;
}

static void *run_reader(void *arg)
{
	struct slow_reader *skel = arg;
	unsigned char pkt[64] = {0};
	LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = pkt, .data_size_in = sizeof(pkt),
		    .repeat = 1);

	bpf_prog_test_run_opts(bpf_program__fd(skel->progs.slow_reader), &run);
	return NULL;
}

static int read_result(struct slow_reader *skel, struct slow_read *ret)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(bpf_map__fd(skel->maps.slow_result), &zero, ret) ? -errno : 0;
}

/*
 * One attempt: the reader starts on the active slot, then revisions rev + 1 (flip away) and
 * rev + 2 (the reader's slot written again) are applied. 1 if the reader saw the flip, 0 if
 * it ended first (nothing shown), -1 on a failure.
 */
static int attempt(struct datapath *dp, struct slow_reader *skel, struct policy_image *img,
		   uint64_t rev)
{
	struct slow_read res = {0};
	struct dp_retire_figures before, after;
	__u32 zero = 0;
	pthread_t t;
	char err[256];

	/* else the first apply would wait for the reader before it could flip */
	if (!ASSERT_TRUE(all_retired(dp), "flips not retired") ||
	    bpf_map_update_elem(bpf_map__fd(skel->maps.slow_result), &zero, &res, BPF_ANY) ||
	    pthread_create(&t, NULL, run_reader, skel))
		return -1;
	for (int i = 0; i < POLLS && !read_result(skel, &res) && !res.started; i++)
		usleep(100);
	if (!ASSERT_TRUE(res.started, "the reader did not start")) {
		pthread_join(t, NULL);
		return -1;
	}
	dp_read_slot_retire(dp, &before);
	img->revision = rev + 1;
	bool ok = ASSERT_TRUE(!dp_apply(dp, img, err, sizeof(err)), "apply: %s", err);
	img->revision = rev + 2;
	ok = ok && ASSERT_TRUE(!dp_apply(dp, img, err, sizeof(err)), "apply: %s", err);
	dp_read_slot_retire(dp, &after);
	pthread_join(t, NULL);
	if (!ok || !ASSERT_TRUE(!read_result(skel, &res), "result: %s", strerror(errno)))
		return -1;
	if (!res.flipped) {
		printf("attempt: the reader ended before the flip; again\n");
		return 0;
	}
	printf("reader on slot %u: revision %llu at its start, %llu at its end (%llu iterations "
	       "after the flip); the second apply waited for it: %s\n",
	       res.slot, (unsigned long long)res.rev_start, (unsigned long long)res.rev_end,
	       (unsigned long long)res.after,
	       after.writes_waited > before.writes_waited ? "yes" : "no");
	if (!ASSERT_EQ(res.rev_end, res.rev_start, "the reader's slot was rewritten under it") ||
	    !ASSERT_TRUE(after.writes_waited > before.writes_waited,
			 "the write into the reader's slot did not wait for it"))
		return -1;
	return 1;
}

static bool test_retired_slot_not_written_under_a_reader(void)
{
	struct gen_realistic_opts o = {.rules = 20, .endpoints = 4, .groups = 3, .group_pct = 30};
	struct slow_reader *skel = NULL;
	struct dp_fixture f;
	char path[192];
	int state_fd = -1, shown = 0, r = 0;
	bool ok = false, skip = false;

	if (dp_fixture_open(&f, "retire", &o, 11))
		goto out;
	snprintf(path, sizeof(path), "%s/maps/iof_state", f.pin_dir);
	state_fd = bpf_obj_get(path);
	skel = slow_reader__open();
	if (!ASSERT_TRUE(state_fd >= 0 && skel, "open the reader: %s", strerror(errno)) ||
	    !ASSERT_TRUE(!bpf_map__reuse_fd(skel->maps.iof_state, state_fd) &&
			     !slow_reader__load(skel),
			 "load the reader: %s", strerror(errno)))
		goto out;
	/* two applies first: from the third on, writes are deltas, which wait for no reader of
	 * the other slot (a whole write updates arrays of maps, which waits for every reader) */
	if (dp_fixture_apply(&f, 1) || dp_fixture_apply(&f, 2))
		goto out;
	for (int i = 0; i < ATTEMPTS && shown < 2 && r >= 0; i++) {
		r = attempt(f.dp, skel, f.img, 2 + 2 * (uint64_t)i);
		shown += r > 0;
	}
	if (r < 0)
		goto out;
	if (!shown) {
		printf("SKIP: in %d attempts the reader never ran across a flip (one CPU?)\n",
		       ATTEMPTS);
		skip = true; /* after the clean-up: the pins go either way */
		goto out;
	}
	printf("ok: a slot flipped away from was written only after its reader ended (%d "
	       "times)\n", shown);
	ok = true;
out:
	slow_reader__destroy(skel);
	if (state_fd >= 0)
		close(state_fd);
	dp_fixture_close(&f);
	if (skip)
		exit(SKIP_CODE);
	return ok;
}

/* Applies a grace period apart never wait for readers: the retiring is off their path. */
static bool test_spaced_applies_do_not_wait(void)
{
	struct gen_realistic_opts o = {.rules = 20, .endpoints = 4, .groups = 3, .group_pct = 30};
	struct dp_retire_figures fig = {0};
	struct dp_fixture f;
	bool ok = false;

	if (dp_fixture_open(&f, "retire2", &o, 12))
		goto out;
	for (uint64_t rev = 1; rev <= 6; rev++)
		if (!ASSERT_TRUE(all_retired(f.dp), "flips not retired") ||
		    dp_fixture_apply(&f, rev))
			goto out;
	dp_read_slot_retire(f.dp, &fig);
	if (!ASSERT_EQ(fig.writes_waited, 0, "applies that waited for a grace period"))
		goto out;
	printf("ok: 6 applies, each after the last flip was retired, none waited\n");
	ok = true;
out:
	dp_fixture_close(&f);
	return ok;
}

int main(void)
{
	if (!test_spaced_applies_do_not_wait() || !test_retired_slot_not_written_under_a_reader())
		return 1;
	return 0;
}
