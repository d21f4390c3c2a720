// SPDX-License-Identifier: Apache-2.0
/* etcd KV: ranges over a prefix, one key, put, transactions and compaction. */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "etcd_internal.h"

#define M_RANGE "/etcdserverpb.KV/Range"
#define M_PUT "/etcdserverpb.KV/Put"
#define M_TXN "/etcdserverpb.KV/Txn"
#define M_COMPACT "/etcdserverpb.KV/Compact"

char *etcd_prefix_end(const char *prefix)
{
	size_t len = strlen(prefix);
	char *end = strdup(prefix);

	/* the prefix with its last byte incremented (prefixes here never end in 0xff) */
	if (end && len)
		end[len - 1]++;
	return end;
}

int etcd_range_prefix(struct etcd *c, const char *prefix, int64_t revision, bool keys_only,
		      int timeout_ms, Etcdserverpb__RangeResponse **ret, char *err,
		      size_t err_len)
{
	Etcdserverpb__RangeRequest req = ETCDSERVERPB__RANGE_REQUEST__INIT;
	char *end = etcd_prefix_end(prefix);
	int r;

	if (!end)
		return -ENOMEM;
	req.key.data = (uint8_t *)prefix;
	req.key.len = strlen(prefix);
	req.range_end.data = (uint8_t *)end;
	req.range_end.len = strlen(end);
	req.revision = revision;
	req.keys_only = keys_only;
	r = etcd_call(c, M_RANGE, &req.base, &etcdserverpb__range_response__descriptor, timeout_ms,
		      (ProtobufCMessage **)ret, err, err_len);
	free(end);
	return r;
}

int etcd_get(struct etcd *c, const char *key, int64_t revision, int timeout_ms,
	     Etcdserverpb__RangeResponse **ret, Mvccpb__KeyValue **ret_kv, char *err,
	     size_t err_len)
{
	Etcdserverpb__RangeRequest req = ETCDSERVERPB__RANGE_REQUEST__INIT;
	int r;

	req.key.data = (uint8_t *)key;
	req.key.len = strlen(key);
	req.revision = revision;
	r = etcd_call(c, M_RANGE, &req.base, &etcdserverpb__range_response__descriptor, timeout_ms,
		      (ProtobufCMessage **)ret, err, err_len);
	*ret_kv = !r && (*ret)->n_kvs ? (*ret)->kvs[0] : NULL;
	return r;
}

int etcd_put(struct etcd *c, const char *key, const void *val, size_t len, int64_t lease,
	     int timeout_ms, char *err, size_t err_len)
{
	Etcdserverpb__PutRequest req = ETCDSERVERPB__PUT_REQUEST__INIT;
	Etcdserverpb__PutResponse *resp = NULL;
	int r;

	req.key.data = (uint8_t *)key;
	req.key.len = strlen(key);
	req.value.data = (uint8_t *)val;
	req.value.len = len;
	req.lease = lease;
	r = etcd_call(c, M_PUT, &req.base, &etcdserverpb__put_response__descriptor, timeout_ms,
		      (ProtobufCMessage **)&resp, err, err_len);
	if (resp)
		etcdserverpb__put_response__free_unpacked(resp, NULL);
	return r;
}

int etcd_txn(struct etcd *c, const Etcdserverpb__TxnRequest *req, int timeout_ms,
	     Etcdserverpb__TxnResponse **ret, char *err, size_t err_len)
{
	return etcd_call(c, M_TXN, &req->base, &etcdserverpb__txn_response__descriptor, timeout_ms,
			 (ProtobufCMessage **)ret, err, err_len);
}

int etcd_compact(struct etcd *c, int64_t revision, int timeout_ms, char *err, size_t err_len)
{
	Etcdserverpb__CompactionRequest req = ETCDSERVERPB__COMPACTION_REQUEST__INIT;
	Etcdserverpb__CompactionResponse *resp = NULL;
	int r;

	req.revision = revision;
	req.physical = true;
	r = etcd_call(c, M_COMPACT, &req.base, &etcdserverpb__compaction_response__descriptor,
		      timeout_ms, (ProtobufCMessage **)&resp, err, err_len);
	if (resp)
		etcdserverpb__compaction_response__free_unpacked(resp, NULL);
	return r;
}

struct etcd_pending_put {
	struct etcd *c;
	grpc_completion_queue *cq;
	struct rpc_call *call;
	char *key;
	void *val;
	size_t len;
	int64_t lease;
};

void etcd_put_cancel(struct etcd_pending_put *p)
{
	if (!p)
		return;
	rpc_call_free(p->call);
	if (p->cq)
		etcd_give_queue(p->c, p->cq);
	free(p->key);
	free(p->val);
	free(p);
}

int etcd_put_start(struct etcd *c, const char *key, const void *val, size_t len, int64_t lease,
		   struct etcd_pending_put **ret, char *err, size_t err_len)
{
	Etcdserverpb__PutRequest req = ETCDSERVERPB__PUT_REQUEST__INIT;
	struct etcd_pending_put *p = calloc(1, sizeof(*p));
	grpc_channel *ch;
	int r;

	*ret = NULL;
	if (!p)
		return -ENOMEM;
	p->c = c;
	p->key = strdup(key);
	p->val = malloc(len ? len : 1);
	p->len = len;
	p->lease = lease;
	if (!p->key || !p->val) {
		etcd_put_cancel(p);
		return -ENOMEM;
	}
	memcpy(p->val, val, len);
	ch = etcd_channel(c, 0, err, err_len);
	if (!ch) {
		etcd_put_cancel(p);
		return -EINVAL;
	}
	p->cq = etcd_take_queue(c);
	req.key.data = (uint8_t *)p->key;
	req.key.len = strlen(p->key);
	req.value.data = p->val;
	req.value.len = len;
	req.lease = lease;
	r = rpc_unary_start(ch, p->cq, M_PUT, &req.base, &p->call);
	if (r) {
		etcd_put_cancel(p);
		return r;
	}
	*ret = p;
	return 0;
}

int etcd_put_finish(struct etcd_pending_put *p, int wait_ms, char *err, size_t err_len)
{
	ProtobufCMessage *resp = NULL;
	struct rpc_result res;
	int r = rpc_unary_finish(p->call, &etcdserverpb__put_response__descriptor, wait_ms, &resp,
				 &res);

	if (r == -EINPROGRESS)
		return r;
	p->call = NULL; /* freed by finish */
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	if (!r && res.status != GRPC_STATUS_OK) {
		snprintf(err, err_len, "etcd %s: %s%s%s", etcd_current(p->c),
			 rpc_status_name(res.status), res.details && *res.details ? ": " : "",
			 res.details ? res.details : "");
		r = etcd_retryable(res.status) ? -EAGAIN : -EIO;
	} else if (r == -EPROTO) {
		snprintf(err, err_len, "%s: the answer does not parse", etcd_current(p->c));
	}
	rpc_result_free(&res);
	if (r == -EAGAIN) /* another member may take it */
		r = etcd_put(p->c, p->key, p->val, p->len, p->lease, 3000, err, err_len);
	etcd_put_cancel(p);
	return r;
}
