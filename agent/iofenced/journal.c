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
#include <sys/random.h>
#include <unistd.h>

#include "agent/etcd/cluster.h"
#include "journal.h"
#include "policy/pb.h"

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
	struct store_revision rows[JOURNAL_CHAIN_MAX + 2] = {{0}};
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

void journal_chain_restart(struct journal_chain *c, size_t whole_bytes)
{
	unsigned v = 0;

	/* not random(): agents started together must not draw alike */
	if (getrandom(&v, sizeof(v), 0) != sizeof(v))
		v = (unsigned)getpid() * 2654435761u;
	c->depth = 0;
	c->delta_bytes = 0;
	c->whole_bytes = whole_bytes;
	c->factor = 1.0 + (double)(v % 1024) / 1024.0;
}

void journal_chain_add(struct journal_chain *c, size_t delta_bytes)
{
	c->depth++;
	c->delta_bytes += delta_bytes;
}

bool journal_chain_due(const struct journal_chain *c)
{
	/* the depth bound is drawn too: agents that follow one datastore reach a fixed depth
	 * at the same revision, and all rewriting a large document at once stalled them */
	return c->depth && ((double)c->delta_bytes >= (double)c->whole_bytes * c->factor ||
			    (double)c->depth >= JOURNAL_REBASE_DEPTH * c->factor);
}

bool journal_chain_fits(const struct journal_chain *c)
{
	return c->depth + 1 < JOURNAL_CHAIN_MAX;
}

int journal_rebase(struct store *store, uint64_t revision, const struct policy_document *doc,
		   size_t *ret_bytes)
{
	Iofence__V1__PolicyDocument *pb = NULL;
	uint8_t *packed = NULL;
	size_t len = 0;
	int r = policy_to_pb(doc, &pb);

	if (!r) {
		pb->revision = revision;
		pb->has_revision = true;
		len = iofence__v1__policy_document__get_packed_size(pb);
		packed = malloc(len ? len : 1);
		r = packed ? 0 : -ENOMEM;
	}
	if (!r) {
		iofence__v1__policy_document__pack(pb, packed);
		r = store_rebase(store, revision, packed, len);
		*ret_bytes = len;
	}
	free(packed);
	policy_pb_free(pb);
	return r;
}

void journal_changes_free(struct journal_changes *jc)
{
	for (size_t i = 0; i < jc->changes.n_endpoints; i++)
		if (jc->endpoint_msgs[i])
			iofence__v1__endpoint__free_unpacked(jc->endpoint_msgs[i], NULL);
	for (size_t i = 0; i < jc->changes.n_groups; i++)
		if (jc->group_msgs[i])
			iofence__v1__security_group__free_unpacked(jc->group_msgs[i], NULL);
	for (size_t i = 0; i < jc->n_names; i++)
		free(jc->names[i]);
	free(jc->endpoints);
	free(jc->groups);
	free(jc->endpoint_msgs);
	free(jc->group_msgs);
	free(jc->names);
	memset(jc, 0, sizeof(*jc));
}

/* One endpoint change into jc's next slot. */
static int endpoint_change(const Iofence__V1__ClusterObjectChange *c, struct journal_changes *jc,
			   char *err, size_t err_len)
{
	size_t i = jc->changes.n_endpoints;
	char *node = NULL, *name = NULL;
	int r = cluster_key_endpoint_split(c->key, &node, &name);

	free(node);
	if (r) {
		snprintf(err, err_len, "%s: %s", c->key,
			 r == -ENOMEM ? "out of memory" : "not an endpoint key");
		return r;
	}
	jc->names[jc->n_names++] = name;
	jc->changes.n_endpoints++;
	jc->endpoints[i].name = name;
	if (c->removed)
		return 0;
	jc->endpoint_msgs[i] = iofence__v1__endpoint__unpack(NULL, c->value.len, c->value.data);
	if (!jc->endpoint_msgs[i]) {
		snprintf(err, err_len, "%s does not decode as an Endpoint", c->key);
		return -EINVAL;
	}
	jc->endpoints[i].put = jc->endpoint_msgs[i];
	return 0;
}

/* One group change into jc's next slot (a removal is not one: the group indexes move). */
static int group_change(const Iofence__V1__ClusterObjectChange *c, struct journal_changes *jc,
			char *err, size_t err_len)
{
	size_t i = jc->changes.n_groups;
	char *name = NULL;
	int r = cluster_key_group_name(c->key, &name);

	if (r) {
		snprintf(err, err_len, "%s: %s", c->key,
			 r == -ENOMEM ? "out of memory" : "not a group key");
		return r;
	}
	jc->names[jc->n_names++] = name;
	jc->changes.n_groups++;
	jc->groups[i].name = name;
	if (c->removed) {
		snprintf(err, err_len, "%s: a group removed needs the document read whole", c->key);
		return -EINVAL;
	}
	jc->group_msgs[i] =
	    iofence__v1__security_group__unpack(NULL, c->value.len, c->value.data);
	if (!jc->group_msgs[i]) {
		snprintf(err, err_len, "%s does not decode as a SecurityGroup", c->key);
		return -EINVAL;
	}
	jc->groups[i].put = jc->group_msgs[i];
	return 0;
}

int journal_changes_of(const Iofence__V1__PolicyDelta *delta, struct journal_changes *ret,
		       char *err, size_t err_len)
{
	size_t n = delta->n_changes ? delta->n_changes : 1;
	int r = 0;

	memset(ret, 0, sizeof(*ret));
	ret->endpoints = calloc(n, sizeof(*ret->endpoints));
	ret->groups = calloc(n, sizeof(*ret->groups));
	ret->endpoint_msgs = calloc(n, sizeof(*ret->endpoint_msgs));
	ret->group_msgs = calloc(n, sizeof(*ret->group_msgs));
	ret->names = calloc(n, sizeof(*ret->names));
	if (!ret->endpoints || !ret->groups || !ret->endpoint_msgs || !ret->group_msgs ||
	    !ret->names) {
		snprintf(err, err_len, "out of memory");
		r = -ENOMEM;
	}
	for (size_t i = 0; !r && i < delta->n_changes; i++) {
		const Iofence__V1__ClusterObjectChange *c = delta->changes[i];
		const char *key = c->key ? c->key : "";

		if (!*key) {
			snprintf(err, err_len, "a change without a key");
			r = -EINVAL;
		} else if (!strncmp(key, "groups/", 7))
			r = group_change(c, ret, err, err_len);
		else
			r = endpoint_change(c, ret, err, err_len);
	}
	ret->changes.endpoints = ret->endpoints;
	ret->changes.groups = ret->groups;
	ret->changes.order = journal_endpoint_order;
	if (r)
		journal_changes_free(ret);
	return r;
}

int journal_endpoint_order(const struct policy_endpoint *a, const struct policy_endpoint *b)
{
	return cluster_endpoint_key_cmp(a->node, a->name, b->node, b->name);
}
