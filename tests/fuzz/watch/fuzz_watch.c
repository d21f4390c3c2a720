// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: the agent's watch-event decoder. The bytes are a WatchResponse as etcd
 * would send it (or garbage); what decodes goes into a mirror (agent/etcd/mirror.c) over a
 * small valid policy, and the mirror's objects are turned into a document and validated as
 * the follower does before an apply; the changes the mirror recorded are taken as the follower
 * takes them, and when only endpoints changed they are applied to the policy as endpoint
 * deltas (policy/derive.h). Nothing may crash or leak, whatever the values.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/etcd/mirror.h"
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

/* The endpoint changes of delta applied to base, as the engine's JOB_DELTA does. */
static void derive_endpoints(struct policy_document *base, const Iofence__V1__PolicyDelta *delta)
{
	struct policy_endpoint_change c[16];
	Iofence__V1__Endpoint *msgs[16] = {0};
	char *names[16] = {0};
	struct policy_document *doc = NULL;
	struct policy_errors errs = {0};
	size_t n = 0;

	for (size_t i = 0; i < delta->n_changes && n < 16; i++) {
		const Iofence__V1__ClusterObjectChange *ch = delta->changes[i];
		char *node = NULL;

		if (cluster_key_endpoint_split(ch->key, &node, &names[n]))
			continue;
		free(node);
		if (!ch->removed &&
		    !(msgs[n] = iofence__v1__endpoint__unpack(NULL, ch->value.len, ch->value.data))) {
			free(names[n]);
			continue;
		}
		c[n] = (struct policy_endpoint_change){names[n], msgs[n]};
		n++;
	}
	policy_derive_endpoints(base, c, n, NULL, "<fuzz>", &doc, &errs);
	policy_document_free(doc);
	policy_errors_free(&errs);
	for (size_t i = 0; i < n; i++) {
		free(names[i]);
		if (msgs[i])
			iofence__v1__endpoint__free_unpacked(msgs[i], NULL);
	}
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
	bool changed, endpoints_only;

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
	if (!cluster_mirror_changes(&m, 5, &delta, &endpoints_only) && delta) {
		if (endpoints_only && base)
			derive_endpoints(base, delta);
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
