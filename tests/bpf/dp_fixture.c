// SPDX-License-Identifier: Apache-2.0
/* Datapath fixture of the bpf tests (dp_fixture.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dp_fixture.h"
#include "harness.h"

int dp_fixture_open(struct dp_fixture *f, const char *tag, const struct gen_realistic_opts *o,
		    uint64_t seed)
{
	struct gen_rng rng = {.state = seed};
	struct dp_options opts = {0};
	char err[256] = "";

	memset(f, 0, sizeof(*f));
	if (geteuid() != 0) {
		printf("SKIP: needs root (BPF)\n");
		exit(SKIP_CODE);
	}
	snprintf(f->pin_dir, sizeof(f->pin_dir), "/sys/fs/bpf/iofence-test-%s-%d", tag,
		 (int)getpid());
	f->doc = gen_realistic_policy(&rng, o);
	if (!f->doc || policy_compile(f->doc, GEN_NODE, &f->img, err, sizeof(err))) {
		fprintf(stderr, "FAIL: %s: compile: %s\n", tag, err);
		return -1;
	}
	opts.pin_dir = f->pin_dir;
	if (dp_open(&opts, &f->dp, err, sizeof(err))) {
		fprintf(stderr, "FAIL: %s: open the datapath: %s\n", tag, err);
		return -1;
	}
	return 0;
}

int dp_fixture_apply(struct dp_fixture *f, uint64_t rev)
{
	char err[256] = "";

	f->img->revision = rev;
	if (dp_apply(f->dp, f->img, err, sizeof(err))) {
		fprintf(stderr, "FAIL: apply revision %llu: %s\n", (unsigned long long)rev, err);
		return -1;
	}
	return 0;
}

void dp_fixture_close(struct dp_fixture *f)
{
	char err[256];

	if (f->dp) {
		dp_close(f->dp);
		if (dp_cleanup(f->pin_dir, err, sizeof(err)))
			fprintf(stderr, "%s: pins left behind: %s\n", f->pin_dir, err);
	}
	policy_image_free(f->img);
	policy_document_free(f->doc);
	memset(f, 0, sizeof(*f));
}
