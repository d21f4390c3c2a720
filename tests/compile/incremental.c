// SPDX-License-Identifier: Apache-2.0
/*
 * Compiles given the previous image (policy_compile_update): random documents, each changed a
 * few times by random endpoint changes the way an agent in cluster mode changes them
 * (policy_derive: endpoints of another node added, removed, readdressed or regrouped, now and
 * then one of this node). After each change the image that reuses the previous image's
 * profiles must equal, byte for byte, the one compiled whole with the same profile numbers;
 * that image must agree with the reference evaluator on random packets; and a profile that was
 * in the previous image keeps its number. IOFENCE_SEED reproduces a run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "check.h"
#include "gen.h"
#include "policy/derive.h"
#include "policy/parse.h"
#include "policy/pb.h"

#define DOCUMENTS 60
#define CHANGES 6

/* Every record table, the profiles and the tables naming counters must be the same. */
static void assert_images_equal(const struct policy_image *a, const struct policy_image *b)
{
	for (int k = 0; k < LAYOUT_TABLES; k++) {
		struct layout_table x = layout_table_of(a, (enum layout_table_id)k);
		struct layout_table y = layout_table_of(b, (enum layout_table_id)k);

		assert_int_equal(x.n, y.n);
		if (x.n)
			assert_memory_equal(x.base, y.base, x.n * x.rec_size);
	}
	assert_int_equal(a->n_any_groups, b->n_any_groups);
	if (a->n_any_groups)
		assert_memory_equal(a->any_groups, b->any_groups,
				    a->n_any_groups * sizeof(*a->any_groups));
	assert_int_equal(a->n_profiles, b->n_profiles);
	if (a->n_profiles)
		assert_memory_equal(a->profiles, b->profiles, a->n_profiles * sizeof(*a->profiles));
	assert_int_equal(a->profile_bound, b->profile_bound);
	assert_int_equal(a->n_remote_classes, b->n_remote_classes);
	assert_int_equal(a->n_rules, b->n_rules);
	if (a->n_rules)
		assert_memory_equal(a->rules, b->rules, a->n_rules * sizeof(*a->rules));
	assert_int_equal(a->n_endpoints, b->n_endpoints);
	for (size_t i = 0; i < a->n_endpoints; i++) {
		assert_int_equal(a->endpoints[i].doc_index, b->endpoints[i].doc_index);
		assert_int_equal(a->endpoints[i].profile, b->endpoints[i].profile);
		assert_int_equal(a->endpoints[i].any_ports, b->endpoints[i].any_ports);
		assert_int_equal(a->endpoints[i].identity, b->endpoints[i].identity);
	}
	assert_int_equal(a->n_prefilter, b->n_prefilter);
}

/* A profile of prev that is in img too (same identity) has the same number there. */
static void assert_numbers_kept(const struct policy_image *prev, const struct policy_image *img)
{
	for (size_t i = 0; i < img->n_profiles; i++) {
		assert_true(img->profiles[i].number < img->profile_bound);
		assert_true(img->profile_bound <= IOF_MAX_PROFILES);
		for (size_t j = 0; j < prev->n_profiles; j++)
			if (prev->profiles[j].identity == img->profiles[i].identity)
				assert_int_equal(prev->profiles[j].number, img->profiles[i].number);
	}
}

static char *fmt(const char *f, unsigned a, unsigned b)
{
	char buf[64];

	snprintf(buf, sizeof(buf), f, a, b);
	return strdup(buf);
}

/*
 * A derived document checked by its changed endpoints only is valid when checked whole, with
 * the same groups resolved.
 */
static void assert_endpoints_valid(struct policy_document *doc)
{
	struct policy_errors errs = {0};
	size_t **resolved = calloc(doc->n_endpoints + 1, sizeof(*resolved));

	for (size_t e = 0; e < doc->n_endpoints; e++) {
		size_t n = doc->endpoints[e].n_groups;

		resolved[e] = malloc((n ? n : 1) * sizeof(size_t));
		memcpy(resolved[e], doc->endpoints[e].group_index, n * sizeof(size_t));
	}
	assert_int_equal(policy_validate_endpoints(doc, "<test>", &errs), 0);
	for (size_t e = 0; e < doc->n_endpoints; e++) {
		assert_memory_equal(resolved[e], doc->endpoints[e].group_index,
				    doc->endpoints[e].n_groups * sizeof(size_t));
		free(resolved[e]);
	}
	free(resolved);
	policy_errors_free(&errs);
}

/* One random endpoint change on doc's endpoints (as protobuf, the follower's form). */
static void random_change(struct gen_rng *r, const Iofence__V1__PolicyDocument *pb, unsigned serial,
			  struct policy_endpoint_change *c, Iofence__V1__Endpoint *ep, char **owned,
			  size_t *n_owned)
{
	const Iofence__V1__Endpoint *base =
	    pb->n_endpoints ? pb->endpoints[gen_below(r, (uint32_t)pb->n_endpoints)] : NULL;
	unsigned what = base ? gen_below(r, 8) : 0;

	if (what == 7) { /* removed */
		*c = (struct policy_endpoint_change){.name = base->name};
		return;
	}
	*ep = base ? *base : (Iofence__V1__Endpoint)IOFENCE__V1__ENDPOINT__INIT;
	if (what <= 3) { /* a new workload, mostly on the other node */
		ep->name = owned[(*n_owned)++] = fmt("new-%u-%u", serial, gen_below(r, 1000));
		ep->node = gen_below(r, 6) ? GEN_OTHER_NODE : GEN_NODE;
		ep->interface = owned[(*n_owned)++] = fmt("nw%u-%u", serial, gen_below(r, 1000));
		ep->cgroup = (char *)"";
	}
	if (what <= 5 || !base) { /* readdressed (a new one: an address of its own) */
		ep->n_addresses = 1;
		ep->addresses = &owned[(*n_owned)++];
		ep->addresses[0] = fmt("10.250.%u.%u", serial % 250, 1 + gen_below(r, 250));
	}
	if ((what == 6 || what <= 3) && pb->n_security_groups) { /* regrouped */
		ep->n_groups = 1 + gen_below(r, 2);
		ep->groups = &owned[*n_owned];
		for (size_t g = 0; g < ep->n_groups; g++) {
			const char *name =
			    pb->security_groups[gen_below(r, (uint32_t)pb->n_security_groups)]
				->name;

			owned[(*n_owned)++] = strdup(name);
		}
	}
	*c = (struct policy_endpoint_change){.name = ep->name, .put = ep};
}

/* doc with up to 3 random endpoint changes (NULL when the changes do not validate). */
static struct policy_document *changed(struct gen_rng *r, struct policy_document *doc,
				       unsigned serial)
{
	Iofence__V1__PolicyDocument *pb = NULL;
	struct policy_endpoint_change ch[3];
	Iofence__V1__Endpoint eps[3];
	char *owned[3 * 8] = {0};
	size_t n_owned = 0, n = 1 + gen_below(r, 3);
	struct policy_errors errs = {0};
	struct policy_document *out = NULL;

	assert_int_equal(policy_to_pb(doc, &pb), 0);
	for (size_t i = 0; i < n; i++)
		random_change(r, pb, serial * 3 + (unsigned)i, &ch[i], &eps[i], owned, &n_owned);
	struct policy_changes changes = {.endpoints = ch, .n_endpoints = n};

	if (policy_derive(doc, &changes, "<test>", &out, &errs))
		out = NULL;
	policy_errors_free(&errs);
	if (out)
		assert_endpoints_valid(out);
	for (size_t i = 0; i < n_owned; i++)
		free(owned[i]);
	policy_pb_free(pb);
	return out;
}

static void check_semantics(struct gen_rng *r, const struct policy_document *doc,
			    const struct policy_image *img, struct check_stats *st)
{
	for (uint32_t i = 0; img->n_endpoints && i < 40; i++) {
		uint32_t local = gen_below(r, (uint32_t)img->n_endpoints);
		struct policy_packet pkt;

		gen_random_packet(r, doc, img->endpoints[local].doc_index, &pkt);
		assert_int_equal(check_image_case(doc, img, local, &pkt, st, stderr), 0);
	}
}

static struct policy_document *new_document(struct gen_rng *r)
{
	if (gen_below(r, 2))
		return gen_random_policy(r);
	struct gen_realistic_opts o = {.rules = 50 + gen_below(r, 300),
				       .endpoints = 2 + gen_below(r, 8),
				       .groups = 3 + gen_below(r, 8),
				       .group_pct = 40,
				       .any_pct = 5};

	return gen_realistic_policy(r, &o);
}

static void test_incremental_image_equals_whole_compile(void **state)
{
	uint64_t seed = gen_seed_from_env();
	struct gen_rng rng = {.state = seed};
	struct check_stats st = {0};
	size_t compiles = 0, profiles = 0, reused = 0, renumbered_avoided = 0;

	(void)state;
	printf("incremental: seed %llu (IOFENCE_SEED=%llu reproduces)\n", (unsigned long long)seed,
	       (unsigned long long)seed);
	for (unsigned d = 0; d < DOCUMENTS; d++) {
		/* the documents a chain of derives leaves behind share their groups: keep them */
		struct policy_document *docs[CHANGES + 1] = {new_document(&rng)};
		struct policy_image *prev = NULL;
		size_t n_docs = 1;
		char msg[160];

		assert_non_null(docs[0]);
		assert_int_equal(policy_compile_update(docs[0], GEN_NODE, NULL, POLICY_REUSE_PARTS,
						       &prev, msg, sizeof(msg)),
				 0);
		for (unsigned c = 0; c < CHANGES; c++) {
			struct policy_document *doc =
			    changed(&rng, docs[n_docs - 1], d * CHANGES + c);
			struct policy_image *inc = NULL, *whole = NULL;
			int ri, rw;

			if (!doc)
				continue;
			docs[n_docs++] = doc;
			ri = policy_compile_update(doc, GEN_NODE, prev, POLICY_REUSE_PARTS, &inc,
						   msg, sizeof(msg));
			rw = policy_compile_update(doc, GEN_NODE, prev, POLICY_REUSE_NUMBERS,
						   &whole, msg, sizeof(msg));
			assert_int_equal(ri, rw);
			assert_int_equal(ri, 0);
			assert_images_equal(inc, whole);
			assert_numbers_kept(prev, inc);
			check_semantics(&rng, doc, inc, &st);
			compiles++;
			profiles += inc->n_profiles;
			reused += inc->n_profiles_reused;
			renumbered_avoided += inc->profile_bound > inc->n_profiles;
			policy_image_free(whole);
			policy_image_free(prev);
			prev = inc;
		}
		policy_image_free(prev);
		while (n_docs)
			policy_document_free(docs[--n_docs]);
	}
	printf("incremental: %zu compiles after a change, %zu of %zu profiles reused, %zu images "
	       "with a hole in the numbers; %llu packets agree with the evaluator\n",
	       compiles, reused, profiles, renumbered_avoided, st.cases);
	assert_true(compiles > DOCUMENTS);
	assert_true(reused > 0 && reused < profiles); /* both paths were taken */
}

/* A new profile takes a free number: the others keep theirs. */
static void test_new_profile_keeps_other_numbers(void **state)
{
	struct gen_rng rng = {.state = 7};
	struct gen_realistic_opts o = {
	    .rules = 200, .endpoints = 6, .groups = 6, .group_pct = 30, .any_pct = 5};
	struct policy_document *doc = gen_realistic_policy(&rng, &o), *next = NULL;
	struct policy_image *a = NULL, *b = NULL;

	(void)state;
	assert_int_equal(policy_compile(doc, GEN_NODE, &a, NULL, 0), 0);
	next = gen_with_new_profile(doc, "first-profile", "veth-first");
	assert_non_null(next);
	assert_int_equal(policy_compile_update(next, GEN_NODE, a, POLICY_REUSE_PARTS, &b, NULL, 0),
			 0);
	assert_int_equal(b->n_profiles, a->n_profiles + 1);
	assert_numbers_kept(a, b);
	/* the new one took the next number: nothing of the others moved */
	assert_int_equal(b->profile_bound, a->n_profiles + 1);
	policy_image_free(a);
	policy_image_free(b);
	policy_document_free(next);
	policy_document_free(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_incremental_image_equals_whole_compile),
	    cmocka_unit_test(test_new_profile_keeps_other_numbers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
