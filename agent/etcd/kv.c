// SPDX-License-Identifier: Apache-2.0
/* etcd KV: ranges over a prefix, one key, put, transactions and compaction. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "etcd.h"

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
