// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of the cluster keyspace (agent/etcd/keys.c, cluster_diff) and the follower's
 * mirror (mirror.c), without etcd: a document to objects and back, escaped names, a large
 * group in parts, the object diff, and watch responses into the mirror.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/etcd/mirror.h"
#include "policy/diff.h"
#include "policy/parse.h"
#include "policy/pb.h"
#include "policy/write.h"

static const char doc_yaml[] =
    "defaults: {ingress: deny, egress: allow}\n"
    "securityGroups:\n"
    "  - name: web/front\n"
    "    rules:\n"
    "      - {direction: ingress, protocol: tcp, ports: [80], cidr: 10.0.0.0/8}\n"
    "  - {name: db, rules: []}\n"
    "endpoints:\n"
    "  - {name: w 1, node: node-a, interface: v1, addresses: [10.1.0.1], groups: [web/front]}\n"
    "  - {name: d1, node: node-b, interface: v2, addresses: [10.2.0.1], groups: [db]}\n"
    "prefilter:\n"
    "  - {node: node-a, interfaces: [eth0], deny: [192.0.2.0/24]}\n"
    "  - {node: node-a, interfaces: [eth1], deny: [198.51.100.0/24]}\n";

static Iofence__V1__PolicyDocument *pb_of(const char *yaml)
{
	struct policy_document *doc = NULL;
	struct policy_errors errs = {0};
	Iofence__V1__PolicyDocument *pb = NULL;

	assert_int_equal(policy_parse_buffer(yaml, strlen(yaml), "t.yaml", &doc, &errs), 0);
	assert_int_equal(policy_to_pb(doc, &pb), 0);
	policy_document_free(doc);
	policy_errors_free(&errs);
	return pb;
}

static void test_objects_round_trip(void **state)
{
	Iofence__V1__PolicyDocument *pb = pb_of(doc_yaml), *back = NULL;
	struct policy_document *a = NULL, *b = NULL;
	struct policy_errors errs = {0};
	struct policy_diff d = {0};
	struct cluster_objs objs;
	char err[256];

	(void)state;
	assert_int_equal(cluster_objs_from_pb(pb, &objs), 0);
	assert_int_equal(objs.n, 7);
	assert_true(cluster_objs_find(&objs, "defaults") >= 0);
	assert_true(cluster_objs_find(&objs, "groups/web%2Ffront") >= 0);
	assert_true(cluster_objs_find(&objs, "endpoints/node-a/w%201") >= 0);
	assert_true(cluster_objs_find(&objs, "prefilter/node-a") >= 0);
	assert_true(cluster_objs_find(&objs, "prefilter/node-a#0001") >= 0);
	assert_int_equal(cluster_pb_from_objs(&objs, &back, err, sizeof(err)), 0);
	assert_int_equal(policy_from_pb(pb, "a", &a, &errs), 0);
	assert_int_equal(policy_from_pb(back, "b", &b, &errs), 0);
	/* the same objects; the document comes back in key order */
	assert_int_equal(policy_diff(a, b, &d), 0);
	assert_int_equal(d.n, 0);
	policy_diff_free(&d);
	policy_document_free(a);
	policy_document_free(b);
	policy_errors_free(&errs);
	iofence__v1__policy_document__free_unpacked(back, NULL);
	cluster_objs_free(&objs);
	policy_pb_free(pb);
}

static void test_large_group_in_parts(void **state)
{
	size_t cap = 128 * 20000, n = 0;
	char *yaml = malloc(cap);
	Iofence__V1__PolicyDocument *pb, *back = NULL;
	struct cluster_objs objs;
	size_t parts = 0;
	char err[256];

	(void)state;
	n += (size_t)sprintf(yaml, "securityGroups:\n  - name: big\n    rules:\n");
	for (int i = 0; i < 20000; i++)
		n += (size_t)sprintf(yaml + n,
				     "      - {direction: ingress, protocol: tcp, ports: [%d], cidr: 10.%d.%d.0/24}\n",
				     1 + i % 60000, i / 256 % 256, i % 256);
	pb = pb_of(yaml);
	assert_int_equal(cluster_objs_from_pb(pb, &objs), 0);
	for (size_t i = 0; i < objs.n; i++) {
		assert_true(objs.v[i].len <= CLUSTER_PART_BYTES + 4096);
		parts += !strncmp(objs.v[i].key, "groups/big", 10);
	}
	assert_true(parts >= 2);
	assert_int_equal(cluster_pb_from_objs(&objs, &back, err, sizeof(err)), 0);
	assert_int_equal(back->n_security_groups, 1);
	assert_int_equal(back->security_groups[0]->n_rules, 20000);
	assert_int_equal(back->security_groups[0]->rules[19999]->ports[0]->lo, 20000);
	iofence__v1__policy_document__free_unpacked(back, NULL);
	cluster_objs_free(&objs);
	policy_pb_free(pb);
	free(yaml);
}

static void test_garbage_names_its_key(void **state)
{
	struct cluster_objs objs = {0};
	Iofence__V1__PolicyDocument *back = NULL;
	char err[256];

	(void)state;
	cluster_objs_add(&objs, "groups/web", "\xff\xff\xff", 3, 1);
	assert_int_equal(cluster_pb_from_objs(&objs, &back, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "groups/web"));
	cluster_objs_free(&objs);
}

static void test_diff_is_object_level(void **state)
{
	Iofence__V1__PolicyDocument *a = pb_of(doc_yaml), *b;
	struct cluster_objs oa, ob;
	struct cluster_change *ch = NULL;
	char *yaml = strdup(doc_yaml), *p = strstr(yaml, "ports: [80]");
	size_t n;

	(void)state;
	p[8] = '1'; /* port 10 instead of 80, and the db group gone from d1's groups: no */
	b = pb_of(yaml);
	assert_int_equal(cluster_objs_from_pb(a, &oa), 0);
	assert_int_equal(cluster_objs_from_pb(b, &ob), 0);
	assert_int_equal(cluster_diff(&oa, &ob, &ch, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ch[0].kind, '~');
	assert_string_equal(ch[0].key, "groups/web%2Ffront");
	free(ch);
	assert_int_equal(cluster_diff(&oa, &oa, &ch, &n), 0);
	assert_int_equal(n, 0);
	free(ch);
	cluster_objs_free(&oa);
	cluster_objs_free(&ob);
	policy_pb_free(a);
	policy_pb_free(b);
	free(yaml);
}

/* One event of a watch response. */
static Mvccpb__Event *event(int type, const char *key, const void *val, size_t len, int64_t rev)
{
	Mvccpb__Event *ev = calloc(1, sizeof(*ev));
	Mvccpb__KeyValue *kv = calloc(1, sizeof(*kv));

	mvccpb__event__init(ev);
	mvccpb__key_value__init(kv);
	ev->type = type;
	kv->key.data = (uint8_t *)strdup(key);
	kv->key.len = strlen(key);
	kv->value.data = malloc(len + 1);
	memcpy(kv->value.data, val, len);
	kv->value.len = len;
	kv->mod_revision = rev;
	ev->kv = kv;
	return ev;
}

static void test_mirror_takes_whole_responses(void **state)
{
	Iofence__V1__ClusterHead head = IOFENCE__V1__CLUSTER_HEAD__INIT;
	Etcdserverpb__WatchResponse wr = ETCDSERVERPB__WATCH_RESPONSE__INIT;
	Mvccpb__Event *evs[3];
	struct cluster_state st = {0};
	struct cluster_mirror m;
	uint8_t hb[64];
	size_t hlen;
	bool changed;

	(void)state;
	assert_int_equal(cluster_mirror_init(&m, "/p"), 0);
	head.generation = 7;
	st.head = &head;
	st.revision = 10;
	st.policy_revision = 9;
	cluster_objs_add(&st.objs, "defaults", "", 0, 9);
	assert_int_equal(cluster_mirror_install(&m, &st), 0);
	st.head = NULL;
	cluster_state_free(&st);
	assert_int_equal(m.policy_rev, 9);
	/* in place: an object of generation 7 and the head, one revision */
	head.written_unix_nano = 123;
	hlen = iofence__v1__cluster_head__pack(&head, hb);
	evs[0] = event(MVCCPB__EVENT__EVENT_TYPE__PUT, "/p/gen/0000000000000007/groups/g",
		       "\n\001g", 3, 11);
	evs[1] = event(MVCCPB__EVENT__EVENT_TYPE__PUT, "/p/head", hb, hlen, 11);
	/* another generation being staged: ignored */
	evs[2] = event(MVCCPB__EVENT__EVENT_TYPE__PUT, "/p/gen/0000000000000008/groups/x",
		       "\n\001x", 3, 11);
	wr.events = evs;
	wr.n_events = 3;
	assert_int_equal(cluster_mirror_take(&m, &wr, &changed), 0);
	assert_true(changed);
	assert_int_equal(m.policy_rev, 11);
	assert_int_equal(m.written_ns, 123);
	assert_int_equal(m.objs.n, 2);
	for (int i = 0; i < 3; i++)
		mvccpb__event__free_unpacked(evs[i], NULL);
	/* the head moves to generation 8: read it whole at the response's revision */
	head.generation = 8;
	hlen = iofence__v1__cluster_head__pack(&head, hb);
	evs[0] = event(MVCCPB__EVENT__EVENT_TYPE__PUT, "/p/head", hb, hlen, 12);
	wr.n_events = 1;
	assert_int_equal(cluster_mirror_take(&m, &wr, &changed), 12);
	assert_false(changed);
	mvccpb__event__free_unpacked(evs[0], NULL);
	/* a head that does not decode: reported, nothing changes */
	evs[0] = event(MVCCPB__EVENT__EVENT_TYPE__PUT, "/p/head", "\xff\xff", 2, 13);
	assert_int_equal(cluster_mirror_take(&m, &wr, &changed), 0);
	assert_false(changed);
	assert_int_equal(m.bad_rev, 13);
	mvccpb__event__free_unpacked(evs[0], NULL);
	cluster_mirror_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_objects_round_trip),
	    cmocka_unit_test(test_large_group_in_parts),
	    cmocka_unit_test(test_garbage_names_its_key),
	    cmocka_unit_test(test_diff_is_object_level),
	    cmocka_unit_test(test_mirror_takes_whole_responses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
