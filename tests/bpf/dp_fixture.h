/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The datapath library (agent/datapath/datapath.h) opened as the agent opens it, on pins of
 * the test's own, with a realistic policy compiled for it: the set-up and clean-up shared by
 * the bpf tests that drive dp_apply() rather than the harness's raw slot writes.
 */
#ifndef IOFENCE_TESTS_BPF_DP_FIXTURE_H
#define IOFENCE_TESTS_BPF_DP_FIXTURE_H

#include <stdint.h>

#include "agent/datapath/datapath.h"
#include "gen.h"
#include "policy/image.h"

struct dp_fixture {
	struct policy_document *doc;
	struct policy_image *img; /* doc compiled for GEN_NODE */
	struct datapath *dp;
	char pin_dir[128]; /* /sys/fs/bpf/iofence-test-TAG-PID */
};

/*
 * dp_fixture_open() - generate a policy (o, seed), compile it and open the datapath pinned
 * under a directory named after tag and the process. Exits with SKIP_CODE when not root.
 * Returns 0, or -1 with the reason on stderr (the fixture is then safe to close).
 */
int dp_fixture_open(struct dp_fixture *f, const char *tag, const struct gen_realistic_opts *o,
		    uint64_t seed);

/* Applies the fixture's image as revision rev: 0, or -1 with dp_apply's error on stderr. */
int dp_fixture_apply(struct dp_fixture *f, uint64_t rev);

/* Closes the datapath, removes its pins and frees the policy; accepts a zeroed fixture. */
void dp_fixture_close(struct dp_fixture *f);

#endif /* IOFENCE_TESTS_BPF_DP_FIXTURE_H */
