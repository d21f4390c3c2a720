// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: the agent's watch-event decoder. The bytes are a WatchResponse as etcd
 * would send it (or garbage); what decodes goes into a mirror (agent/etcd/mirror.c) over a
 * small valid policy, and the mirror's objects are turned into a document and validated as
 * the follower does before an apply; the changes the mirror recorded are taken as the follower
 * takes them, and when only endpoints and groups changed they are applied to the policy as
 * the engine applies a delta (agent/iofenced/journal.c, policy/derive.h). Nothing may crash or leak, whatever the values.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/etcd/mirror.h"
#include "agent/iofenced/journal.h"
#include "policy/derive.h"
#include "policy/errors.h"
#include "policy/model.h"
#include "policy/pb.h"

/* A mirror holding generation 1 with defaults and one group, as after a first read. */
static void seed_mirror(struct cluster_mirror *m)
{
	Iofence__V1__ClusterHead head = IOFENCE__V1__CLUSTER_HEAD__INIT;
	Iofence__V1__Defaults d = IOFENCE__V1__DEFAULTS__INIT;
	Iofence__V1__SecurityGroup g = IOFENCE__V1__SECURITY_GROUP__INIT;
	struct cluster_state st = {0};
	uint8_t buf[256];
	size_t len;

	head.generation = 1;
	st.head = &head;
	st.revision = 5;
	st.policy_revision = 5;
	len = iofence__v1__defaults__pack(&d, buf);
	cluster_objs_add(&st.objs, "defaults", buf, len, 5);
	g.name = (char *)"web";
	len = iofence__v1__security_group__pack(&g, buf);
	cluster_objs_add(&st.objs, "groups/web", buf, len, 5);
	cluster_mirror_install(m, &st);
	st.head = NULL;
	cluster_state_free(&st);
}

/* The changes of delta applied to base, as the engine's JOB_DELTA does. */
static void derive(struct policy_document *base, const Iofence__V1__PolicyDelta *delta)
{
	struct journal_changes jc;
	struct policy_document *doc = NULL;
	struct policy_errors errs = {0};
	char err[256];

	if (journal_changes_of(delta, &jc, err, sizeof(err)))
		return;
	policy_derive(base, &jc.changes, "<fuzz>", &doc, &errs);
	policy_document_free(doc);
	policy_errors_free(&errs);
	journal_changes_free(&jc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Etcdserverpb__WatchResponse *wr = etcdserverpb__watch_response__unpack(NULL, size, data);
	Iofence__V1__PolicyDocument *pb = NULL;
	struct policy_document *doc = NULL;
	struct policy_errors errs = {0};
	struct policy_document *base = NULL;
	Iofence__V1__PolicyDelta *delta = NULL;
	struct cluster_mirror m;
	char err[256];
	bool changed, derivable;

	if (!wr)
		return 0;
	if (cluster_mirror_init(&m, "/iofence"))
		abort();
	seed_mirror(&m);
	if (!cluster_pb_from_objs(&m.objs, &pb, err, sizeof(err))) {
		policy_from_pb(pb, "<seed>", &base, &errs);
		iofence__v1__policy_document__free_unpacked(pb, NULL);
		pb = NULL;
	}
	cluster_mirror_take(&m, wr, &changed);
	if (!cluster_mirror_changes(&m, 5, &delta, &derivable) && delta) {
		if (derivable && base)
			derive(base, delta);
		iofence__v1__policy_delta__free_unpacked(delta, NULL);
	}
	policy_document_free(base);
	if (!cluster_pb_from_objs(&m.objs, &pb, err, sizeof(err))) {
		policy_from_pb(pb, "<fuzz>", &doc, &errs);
		iofence__v1__policy_document__free_unpacked(pb, NULL);
	}
	policy_document_free(doc);
	policy_errors_free(&errs);
	cluster_mirror_free(&m);
	etcdserverpb__watch_response__free_unpacked(wr, NULL);
	return 0;
}
