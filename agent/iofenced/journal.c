// SPDX-License-Identifier: Apache-2.0
/*
 * The journal (journal.h). A read replays the deltas on the cluster objects of the whole
 * document below them: the same objects the follower had, so the result is the document it
 * applied (up to the rules' source lines, which the datastore does not keep).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/etcd/cluster.h"
#include "journal.h"

/* A delta's changes onto objs. */
static int replay(struct cluster_objs *objs, const Iofence__V1__PolicyDelta *d)
{
	for (size_t i = 0; i < d->n_changes; i++) {
		const Iofence__V1__ClusterObjectChange *c = d->changes[i];

		if (!c->key || !*c->key)
			return -EBADMSG;
		if (c->removed)
			cluster_objs_del(objs, c->key);
		else if (cluster_objs_put(objs, c->key, c->value.data, c->value.len, 0))
			return -ENOMEM;
	}
	return 0;
}

/* The whole document of objs, packed into ret->doc. */
static int pack_objs(const struct cluster_objs *objs, struct store_revision *ret)
{
	Iofence__V1__PolicyDocument *doc = NULL;
	char err[256];
	int r = cluster_pb_from_objs(objs, &doc, err, sizeof(err));

	if (r)
		return r == -ENOMEM ? r : -EBADMSG;
	free(ret->doc);
	ret->doc_len = iofence__v1__policy_document__get_packed_size(doc);
	ret->doc = malloc(ret->doc_len ? ret->doc_len : 1);
	if (ret->doc)
		iofence__v1__policy_document__pack(doc, ret->doc);
	iofence__v1__policy_document__free_unpacked(doc, NULL);
	return ret->doc ? 0 : -ENOMEM;
}

int journal_read(struct store *store, uint64_t revision, struct store_revision *ret,
		 size_t *ret_depth)
{
	struct store_revision rows[JOURNAL_WHOLE_EVERY * 2 + 2] = {{0}};
	Iofence__V1__PolicyDocument *whole = NULL;
	struct cluster_objs objs = {0};
	size_t n = 0, cap = sizeof(rows) / sizeof(rows[0]);
	int r;

	r = revision ? store_get(store, revision, &rows[0]) : store_latest(store, &rows[0]);
	for (n = 1; !r && rows[n - 1].base; n++) {
		if (n == cap) {
			r = -EBADMSG; /* a chain longer than any this agent writes */
			break;
		}
		r = store_get(store, rows[n - 1].base, &rows[n]);
		if (r == -ENOENT)
			r = -EBADMSG; /* a delta without its base */
	}
	if (r)
		goto out;
	if (ret_depth)
		*ret_depth = n - 1;
	if (n > 1) {
		whole = iofence__v1__policy_document__unpack(NULL, rows[n - 1].doc_len,
							     rows[n - 1].doc);
		r = !whole ? -EBADMSG : cluster_objs_from_pb(whole, &objs);
		for (size_t i = n - 1; !r && i-- > 0;) {
			Iofence__V1__PolicyDelta *d =
			    iofence__v1__policy_delta__unpack(NULL, rows[i].doc_len, rows[i].doc);

			r = d ? replay(&objs, d) : -EBADMSG;
			iofence__v1__policy_delta__free_unpacked(d, NULL);
		}
		if (!r)
			r = pack_objs(&objs, &rows[0]);
		if (r)
			goto out;
	}
	*ret = rows[0];
	ret->base = 0;
	memset(&rows[0], 0, sizeof(rows[0]));
out:
	for (size_t i = 0; i < n && i < cap; i++)
		store_revision_free(&rows[i]);
	if (whole)
		iofence__v1__policy_document__free_unpacked(whole, NULL);
	cluster_objs_free(&objs);
	return r;
}

void journal_endpoints_free(struct journal_endpoints *je)
{
	for (size_t i = 0; i < je->n; i++) {
		if (je->msgs[i])
			iofence__v1__endpoint__free_unpacked(je->msgs[i], NULL);
		free(je->names[i]);
	}
	free(je->changes);
	free(je->msgs);
	free(je->names);
	memset(je, 0, sizeof(*je));
}

int journal_endpoints_of(const Iofence__V1__PolicyDelta *delta, struct journal_endpoints *ret,
			 char *err, size_t err_len)
{
	size_t n = delta->n_changes;
	int r = 0;

	memset(ret, 0, sizeof(*ret));
	ret->changes = calloc(n ? n : 1, sizeof(*ret->changes));
	ret->msgs = calloc(n ? n : 1, sizeof(*ret->msgs));
	ret->names = calloc(n ? n : 1, sizeof(*ret->names));
	if (!ret->changes || !ret->msgs || !ret->names)
		r = -ENOMEM;
	for (size_t i = 0; !r && i < n; i++) {
		const Iofence__V1__ClusterObjectChange *c = delta->changes[i];
		char *node = NULL;

		r = cluster_key_endpoint_split(c->key ? c->key : "", &node, &ret->names[i]);
		free(node);
		ret->n = i + 1;
		if (r) {
			snprintf(err, err_len, "%s: not an endpoint key", c->key ? c->key : "");
			break;
		}
		if (!c->removed) {
			ret->msgs[i] =
			    iofence__v1__endpoint__unpack(NULL, c->value.len, c->value.data);
			if (!ret->msgs[i]) {
				snprintf(err, err_len, "%s does not decode as an Endpoint", c->key);
				r = -EINVAL;
				break;
			}
		}
		ret->changes[i].name = ret->names[i];
		ret->changes[i].put = ret->msgs[i];
	}
	if (r)
		journal_endpoints_free(ret);
	return r;
}

int journal_endpoint_order(const struct policy_endpoint *a, const struct policy_endpoint *b)
{
	return cluster_endpoint_key_cmp(a->node, a->name, b->node, b->name);
}
