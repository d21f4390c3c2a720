// SPDX-License-Identifier: Apache-2.0
/*
 * etcd Watch: one WatchCreateRequest on a stream the client then half-closes (etcd keeps a
 * half-closed watch stream open), and the responses read one by one. A stream that fails to
 * start moves on to the next endpoint.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_internal.h"

#define M_WATCH "/etcdserverpb.Watch/Watch"



struct etcd_watch {
	struct rpc_stream *st;
	char endpoint[256];
};

int etcd_watch_open(struct etcd *c, const char *key, const char *range_end, int64_t start,
		    struct etcd_watch **ret, char *err, size_t err_len)
{
	Etcdserverpb__WatchRequest req = ETCDSERVERPB__WATCH_REQUEST__INIT;
	Etcdserverpb__WatchCreateRequest cr = ETCDSERVERPB__WATCH_CREATE_REQUEST__INIT;
	struct etcd_watch *w = calloc(1, sizeof(*w));
	grpc_channel *ch;
	int r;

	if (!w)
		return -ENOMEM;
	cr.key.data = (uint8_t *)key;
	cr.key.len = strlen(key);
	cr.range_end.data = (uint8_t *)range_end;
	cr.range_end.len = strlen(range_end);
	cr.start_revision = start;
	req.request_union_case = ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST;
	req.create_request = &cr;
	ch = etcd_watch_channel(c, err, err_len);
	if (!ch) {
		free(w);
		return -EINVAL;
	}
	snprintf(w->endpoint, sizeof(w->endpoint), "%s", etcd_current(c));
	r = rpc_stream_open(ch, M_WATCH, &req.base, 0, &w->st);
	if (r) {
		free(w);
		return r;
	}
	*ret = w;
	return 0;
}

int etcd_watch_next_until(struct etcd_watch *w, int wait_ms, Etcdserverpb__WatchResponse **ret,
			  char *err, size_t err_len)
{
	int r = rpc_stream_next_until(w->st, &etcdserverpb__watch_response__descriptor, wait_ms,
				      (ProtobufCMessage **)ret);

	if (r == 0)
		snprintf(err, err_len, "etcd %s: watch stream ended", w->endpoint);
	else if (r == -EPROTO)
		snprintf(err, err_len, "etcd %s: a watch response does not parse", w->endpoint);
	return r;
}

int etcd_watch_next(struct etcd_watch *w, Etcdserverpb__WatchResponse **ret, char *err,
		    size_t err_len)
{
	return etcd_watch_next_until(w, -1, ret, err, err_len);
}

void etcd_watch_cancel(struct etcd_watch *w)
{
	rpc_stream_cancel(w->st);
}

void etcd_watch_close(struct etcd_watch *w)
{
	if (!w)
		return;
	rpc_stream_close(w->st, NULL);
	free(w);
}
