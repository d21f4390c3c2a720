// SPDX-License-Identifier: Apache-2.0
/*
 * The controller's side of the keyspace: read the policy at one revision, diff two object
 * sets, and write a new policy guarded by the head's mod_revision read before (cluster.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>

#include "cluster.h"

#define RW_TIMEOUT_MS 10000

void cluster_state_free(struct cluster_state *st)
{
	if (st->head)
		iofence__v1__cluster_head__free_unpacked(st->head, NULL);
	cluster_objs_free(&st->objs);
	memset(st, 0, sizeof(*st));
}

/* etcd's "compacted" and "future revision" refusals mean: no such revision (-ENOENT). */
static int map_missing(int r, const char *err)
{
	if (r == -EIO && (strstr(err, "compacted") || strstr(err, "future revision")))
		return -ENOENT;
	return r;
}

int cluster_read(struct etcd *c, const char *prefix, int64_t at, struct cluster_state *st,
		 char *err, size_t err_len)
{
	Etcdserverpb__RangeResponse *hr = NULL, *gr = NULL;
	Mvccpb__KeyValue *kv;
	char *hkey = cluster_key_head(prefix), *gdir = NULL;
	int r;

	memset(st, 0, sizeof(*st));
	if (!hkey)
		return -ENOMEM;
	r = etcd_get(c, hkey, at, RW_TIMEOUT_MS, &hr, &kv, err, err_len);
	free(hkey);
	if (r)
		return map_missing(r, err);
	st->revision = at ? at : (hr->header ? hr->header->revision : 0);
	if (!kv) {
		etcdserverpb__range_response__free_unpacked(hr, NULL);
		return 0;
	}
	st->head_mod = kv->mod_revision;
	st->policy_revision = kv->mod_revision;
	st->head = iofence__v1__cluster_head__unpack(NULL, kv->value.len, kv->value.data);
	etcdserverpb__range_response__free_unpacked(hr, NULL);
	if (!st->head) {
		snprintf(err, err_len, "%s/head does not decode as a ClusterHead", prefix);
		return -EBADMSG;
	}
	gdir = cluster_key_gen_dir(prefix, st->head->generation);
	if (!gdir)
		return -ENOMEM;
	r = etcd_range_prefix(c, gdir, st->revision, false, RW_TIMEOUT_MS, &gr, err, err_len);
	if (r) {
		free(gdir);
		return map_missing(r, err);
	}
	for (size_t i = 0; !r && i < gr->n_kvs; i++) {
		Mvccpb__KeyValue *o = gr->kvs[i];
		char *k = strndup((const char *)o->key.data, o->key.len);

		if (!k) {
			r = -ENOMEM;
			break;
		}
		if (strlen(k) > strlen(gdir))
			r = cluster_objs_add(&st->objs, k + strlen(gdir), o->value.data,
					     o->value.len, o->mod_revision);
		if (o->mod_revision > st->policy_revision)
			st->policy_revision = o->mod_revision;
		free(k);
	}
	free(gdir);
	etcdserverpb__range_response__free_unpacked(gr, NULL);
	cluster_objs_sort(&st->objs);
	return r;
}

int cluster_diff(const struct cluster_objs *a, const struct cluster_objs *b,
		 struct cluster_change **ret, size_t *n)
{
	struct cluster_change *v = calloc(a->n + b->n + 1, sizeof(*v));
	size_t i = 0, j = 0, k = 0;

	if (!v)
		return -ENOMEM;
	while (i < a->n || j < b->n) {
		int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->v[i].key, b->v[j].key);

		if (c < 0) {
			v[k++] = (struct cluster_change){'-', a->v[i].key, &a->v[i], NULL};
			i++;
		} else if (c > 0) {
			v[k++] = (struct cluster_change){'+', b->v[j].key, NULL, &b->v[j]};
			j++;
		} else {
			if (a->v[i].len != b->v[j].len ||
			    memcmp(a->v[i].val, b->v[j].val, a->v[i].len))
				v[k++] = (struct cluster_change){'~', b->v[j].key, &a->v[i],
								 &b->v[j]};
			i++;
			j++;
		}
	}
	*ret = v;
	*n = k;
	return 0;
}

/* A transaction being built: compares on the head, success ops. */
struct txn {
	Etcdserverpb__TxnRequest req;
	Etcdserverpb__Compare cmp, *cmps[1];
	Etcdserverpb__RequestOp *ops;
	Etcdserverpb__RequestOp **opp;
	Etcdserverpb__PutRequest *puts;
	Etcdserverpb__DeleteRangeRequest *dels;
	char **keys; /* owned key strings */
	size_t n, n_keys;
	size_t bytes;
};

static int txn_init(struct txn *t, const char *head_key, int64_t head_mod, size_t max_ops)
{
	memset(t, 0, sizeof(*t));
	etcdserverpb__txn_request__init(&t->req);
	etcdserverpb__compare__init(&t->cmp);
	t->cmp.result = ETCDSERVERPB__COMPARE__COMPARE_RESULT__EQUAL;
	t->cmp.target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__MOD;
	t->cmp.key.data = (uint8_t *)head_key;
	t->cmp.key.len = strlen(head_key);
	t->cmp.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_MOD_REVISION;
	t->cmp.mod_revision = head_mod;
	t->cmps[0] = &t->cmp;
	t->req.compare = t->cmps;
	t->req.n_compare = 1;
	t->ops = calloc(max_ops, sizeof(*t->ops));
	t->opp = calloc(max_ops, sizeof(*t->opp));
	t->puts = calloc(max_ops, sizeof(*t->puts));
	t->dels = calloc(max_ops, sizeof(*t->dels));
	t->keys = calloc(2 * max_ops, sizeof(*t->keys));
	if (!t->ops || !t->opp || !t->puts || !t->dels || !t->keys)
		return -ENOMEM;
	t->req.success = t->opp;
	return 0;
}

static void txn_free(struct txn *t)
{
	for (size_t i = 0; i < t->n_keys; i++)
		free(t->keys[i]);
	free(t->keys);
	free(t->ops);
	free(t->opp);
	free(t->puts);
	free(t->dels);
}

/* key is dir + rel (or a whole key when rel is NULL); the txn keeps a copy. */
static int txn_put(struct txn *t, const char *dir, const char *rel, const void *val, size_t len)
{
	Etcdserverpb__RequestOp *op = &t->ops[t->n];
	Etcdserverpb__PutRequest *p = &t->puts[t->n];
	char *key;

	if (asprintf(&key, "%s%s", dir, rel ? rel : "") < 0)
		return -ENOMEM;
	t->keys[t->n_keys++] = key;
	etcdserverpb__request_op__init(op);
	etcdserverpb__put_request__init(p);
	p->key.data = (uint8_t *)key;
	p->key.len = strlen(key);
	p->value.data = (uint8_t *)val;
	p->value.len = len;
	op->request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
	op->request_put = p;
	t->opp[t->n++] = op;
	t->req.n_success = t->n;
	t->bytes += strlen(key) + len + 16;
	return 0;
}

/* Deletes dir+rel, or every key under dir when rel is NULL. */
static int txn_del(struct txn *t, const char *dir, const char *rel)
{
	Etcdserverpb__RequestOp *op = &t->ops[t->n];
	Etcdserverpb__DeleteRangeRequest *d = &t->dels[t->n];
	char *key, *end = NULL;

	if (asprintf(&key, "%s%s", dir, rel ? rel : "") < 0)
		return -ENOMEM;
	t->keys[t->n_keys++] = key;
	etcdserverpb__request_op__init(op);
	etcdserverpb__delete_range_request__init(d);
	d->key.data = (uint8_t *)key;
	d->key.len = strlen(key);
	if (!rel) {
		end = etcd_prefix_end(dir);
		if (!end)
			return -ENOMEM;
		t->keys[t->n_keys++] = end;
		d->range_end.data = (uint8_t *)end;
		d->range_end.len = strlen(end);
	}
	op->request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE;
	op->request_delete_range = d;
	t->opp[t->n++] = op;
	t->req.n_success = t->n;
	t->bytes += strlen(key) + 16;
	return 0;
}

/* Deletes [key, end) (both copied). */
static int txn_del_between(struct txn *t, const char *key, const char *end)
{
	Etcdserverpb__RequestOp *op = &t->ops[t->n];
	Etcdserverpb__DeleteRangeRequest *d = &t->dels[t->n];
	char *k = strdup(key), *e = strdup(end);

	if (!k || !e) {
		free(k);
		free(e);
		return -ENOMEM;
	}
	t->keys[t->n_keys++] = k;
	t->keys[t->n_keys++] = e;
	etcdserverpb__request_op__init(op);
	etcdserverpb__delete_range_request__init(d);
	d->key.data = (uint8_t *)k;
	d->key.len = strlen(k);
	d->range_end.data = (uint8_t *)e;
	d->range_end.len = strlen(e);
	op->request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE;
	op->request_delete_range = d;
	t->opp[t->n++] = op;
	t->req.n_success = t->n;
	t->bytes += strlen(k) + strlen(e) + 16;
	return 0;
}

/*
 * Every generation but the current one (gdir), in the transaction that writes the head: the
 * old generation of a flip, and orphans of a controller killed while staging. A controller
 * staging right now loses nothing it could still use: this write moves the head, so its own
 * guarded flip fails anyway ("changed since read").
 */
static int txn_del_other_generations(struct txn *t, const char *prefix, const char *gdir)
{
	char *root = NULL, *root_end = NULL, *gdir_end = etcd_prefix_end(gdir);
	int r = -ENOMEM;

	if (asprintf(&root, "%s/gen/", prefix) >= 0 && (root_end = etcd_prefix_end(root)) &&
	    gdir_end) {
		r = txn_del_between(t, root, gdir);
		if (!r)
			r = txn_del_between(t, gdir_end, root_end);
	}
	free(root);
	free(root_end);
	free(gdir_end);
	return r;
}

/* Runs the txn: 0 succeeded (*rev set), -ESTALE compare failed, or an etcd error. */
static int txn_run(struct etcd *c, struct txn *t, int64_t *rev, char *err, size_t err_len)
{
	Etcdserverpb__TxnResponse *resp = NULL;
	int r = etcd_txn(c, &t->req, RW_TIMEOUT_MS, &resp, err, err_len);

	if (r)
		return r;
	r = resp->succeeded ? 0 : -ESTALE;
	if (rev && resp->header)
		*rev = resp->header->revision;
	etcdserverpb__txn_response__free_unpacked(resp, NULL);
	return r;
}

/* After a failed compare: whether the head holds our value (a retried txn that did go in). */
static bool head_is(struct etcd *c, const char *hkey, const uint8_t *val, size_t len,
		    int64_t *rev)
{
	Etcdserverpb__RangeResponse *hr = NULL;
	Mvccpb__KeyValue *kv;
	char err[256];
	bool same = false;

	if (etcd_get(c, hkey, 0, RW_TIMEOUT_MS, &hr, &kv, err, sizeof(err)))
		return false;
	if (kv && kv->value.len == len && !memcmp(kv->value.data, val, len)) {
		same = true;
		*rev = kv->mod_revision;
	}
	etcdserverpb__range_response__free_unpacked(hr, NULL);
	return same;
}

/* Removes a staged generation that never became current (best effort). */
static void drop_staged(struct etcd *c, const char *hkey, const char *gdir)
{
	struct txn t;
	char err[256];

	if (!txn_init(&t, hkey, 0, 2) && !txn_del(&t, gdir, NULL)) {
		t.req.n_compare = 0;
		txn_run(c, &t, NULL, err, sizeof(err));
	}
	txn_free(&t);
}

static uint64_t new_generation(uint64_t old)
{
	uint64_t g = 0;

	while (!g || g == old)
		if (getrandom(&g, sizeof(g), 0) != sizeof(g))
			g = (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)clock();
	return g;
}

int cluster_write(struct etcd *c, const char *prefix, const struct cluster_state *st,
		  const struct cluster_objs *want, const char *writer,
		  struct cluster_write_result *res, char *err, size_t err_len)
{
	Iofence__V1__ClusterHead head = IOFENCE__V1__CLUSTER_HEAD__INIT;
	struct cluster_change *ch = NULL;
	char *hkey = cluster_key_head(prefix), *gdir = NULL;
	uint8_t *hval = NULL;
	size_t n_ch = 0, hlen, bytes = 0;
	struct timespec now;
	struct txn t = {0};
	int r;

	memset(res, 0, sizeof(*res));
	if (!hkey || cluster_diff(&st->objs, want, &ch, &n_ch)) {
		r = -ENOMEM;
		goto out;
	}
	if (!n_ch && st->head) {
		r = 1;
		goto out;
	}
	for (size_t i = 0; i < n_ch; i++) {
		bytes += strlen(ch[i].key) + 80 + (ch[i].new_obj ? ch[i].new_obj->len : 0);
		res->puts += ch[i].kind != '-';
		res->deletes += ch[i].kind == '-';
	}
	clock_gettime(CLOCK_REALTIME, &now);
	head.written_unix_nano = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
	head.writer = (char *)(writer ? writer : "");
	head.objects = (uint32_t)want->n;
	/* + 3: the head and the two ranges of other generations */
	res->new_generation = !st->head || n_ch + 3 > ETCD_TXN_MAX_OPS || bytes > ETCD_TXN_MAX_BYTES;
	head.generation = res->new_generation ? new_generation(st->head ? st->head->generation : 0)
					      : st->head->generation;
	hlen = iofence__v1__cluster_head__get_packed_size(&head);
	hval = malloc(hlen + 1);
	gdir = cluster_key_gen_dir(prefix, head.generation);
	if (!hval || !gdir) {
		r = -ENOMEM;
		goto out;
	}
	iofence__v1__cluster_head__pack(&head, hval);

	if (!res->new_generation) {
		/* in place: the changed objects and the head in one guarded transaction */
		r = txn_init(&t, hkey, st->head_mod, n_ch + 3);
		for (size_t i = 0; !r && i < n_ch; i++)
			r = ch[i].kind == '-' ? txn_del(&t, gdir, ch[i].key)
					      : txn_put(&t, gdir, ch[i].key, ch[i].new_obj->val,
							ch[i].new_obj->len);
		if (!r)
			r = txn_put(&t, hkey, NULL, hval, hlen);
		if (!r)
			r = txn_del_other_generations(&t, prefix, gdir);
		if (!r)
			r = txn_run(c, &t, &res->revision, err, err_len);
		res->txns = 1;
		if (r == -ESTALE && head_is(c, hkey, hval, hlen, &res->revision))
			r = 0;
		goto out;
	}

	/* a new generation, staged in as many transactions as it takes, each guarded */
	for (size_t i = 0; i < want->n;) {
		txn_free(&t);
		r = txn_init(&t, hkey, st->head_mod, ETCD_TXN_MAX_OPS);
		while (!r && i < want->n && t.n < ETCD_TXN_MAX_OPS &&
		       (!t.n || t.bytes + want->v[i].len + strlen(want->v[i].key) + 80 <=
				    ETCD_TXN_MAX_BYTES)) {
			r = txn_put(&t, gdir, want->v[i].key, want->v[i].val, want->v[i].len);
			i++;
		}
		if (!r)
			r = txn_run(c, &t, NULL, err, err_len);
		res->txns++;
		if (r) {
			drop_staged(c, hkey, gdir);
			goto out;
		}
	}
	/* the flip: head to the new generation and the others deleted, in one revision */
	txn_free(&t);
	r = txn_init(&t, hkey, st->head_mod, 3);
	if (!r)
		r = txn_put(&t, hkey, NULL, hval, hlen);
	if (!r)
		r = txn_del_other_generations(&t, prefix, gdir);
	if (!r)
		r = txn_run(c, &t, &res->revision, err, err_len);
	res->txns++;
	if (r == -ESTALE && head_is(c, hkey, hval, hlen, &res->revision))
		r = 0;
	if (r)
		drop_staged(c, hkey, gdir);
out:
	if (r == -ESTALE)
		snprintf(err, err_len, "the policy changed since read, nothing written");
	txn_free(&t);
	free(ch);
	free(hval);
	free(gdir);
	free(hkey);
	return r;
}
