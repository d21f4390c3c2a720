// SPDX-License-Identifier: Apache-2.0
/*
 * etcd leases: grant, and keep-alive as a one-message LeaseKeepAlive stream (etcd answers the
 * request, then ends the stream when the client half-closes), so no stream stays open.
 */
#include <errno.h>
#include <stdio.h>

#include "etcd_internal.h"

#define M_GRANT "/etcdserverpb.Lease/LeaseGrant"
#define M_KEEPALIVE "/etcdserverpb.Lease/LeaseKeepAlive"




int etcd_lease_grant(struct etcd *c, int64_t ttl, int64_t *id, char *err, size_t err_len)
{
	Etcdserverpb__LeaseGrantRequest req = ETCDSERVERPB__LEASE_GRANT_REQUEST__INIT;
	Etcdserverpb__LeaseGrantResponse *resp = NULL;
	int r;

	req.ttl = ttl;
	r = etcd_call(c, M_GRANT, &req.base, &etcdserverpb__lease_grant_response__descriptor, 5000,
		      (ProtobufCMessage **)&resp, err, err_len);
	if (r)
		return r;
	if (resp->error && *resp->error) {
		snprintf(err, err_len, "lease grant: %s", resp->error);
		r = -EIO;
	}
	*id = resp->id;
	etcdserverpb__lease_grant_response__free_unpacked(resp, NULL);
	return r;
}

int etcd_lease_keepalive(struct etcd *c, int64_t id, int64_t *ttl_left, char *err,
			 size_t err_len)
{
	Etcdserverpb__LeaseKeepAliveRequest req = ETCDSERVERPB__LEASE_KEEP_ALIVE_REQUEST__INIT;
	int r = -EAGAIN;

	req.id = id;
	for (size_t attempt = 0; attempt < etcd_count(c); attempt++) {
		grpc_channel *ch = etcd_channel(c, attempt ? 1 : 0, err, err_len);
		Etcdserverpb__LeaseKeepAliveResponse *resp = NULL;
		struct rpc_stream *st;
		struct rpc_result res;
		int n;

		if (!ch)
			return -EINVAL;
		r = rpc_stream_open(ch, M_KEEPALIVE, &req.base, 5000, &st);
		if (r)
			return r;
		n = rpc_stream_next(st, &etcdserverpb__lease_keep_alive_response__descriptor,
				    (ProtobufCMessage **)&resp);
		rpc_stream_close(st, &res);
		if (n == 1) {
			*ttl_left = resp->ttl;
			etcdserverpb__lease_keep_alive_response__free_unpacked(resp, NULL);
			rpc_result_free(&res);
			return 0;
		}
		snprintf(err, err_len, "etcd %s: lease keep-alive: %s%s%s", etcd_current(c),
			 rpc_status_name(res.status), res.details && *res.details ? ": " : "",
			 res.details ? res.details : "");
		rpc_result_free(&res);
		r = -EAGAIN;
	}
	return r;
}
