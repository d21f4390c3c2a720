// SPDX-License-Identifier: Apache-2.0
/* Reads the nodes' status keys (cluster mode) for the dashboard. */
#include <errno.h>
#include <stdlib.h>

#include "agent/etcd/cluster.h"
#include "agent/etcd/etcd.h"
#include "datastore.h"

int datastore_read_statuses(struct etcd *e, const char *prefix, int timeout_ms,
			    Iofence__V1__NodeStatus ***ret, size_t *ret_n, char *err,
			    size_t err_len)
{
	char *dir = cluster_key_status_dir(prefix);
	Etcdserverpb__RangeResponse *rr = NULL;
	Iofence__V1__NodeStatus **v = NULL;
	size_t n = 0;
	int r;

	*ret = NULL;
	*ret_n = 0;
	if (!dir)
		return -ENOMEM;
	r = etcd_range_prefix(e, dir, 0, false, timeout_ms, &rr, err, err_len);
	free(dir);
	if (r)
		return r;
	v = calloc(rr->n_kvs ? rr->n_kvs : 1, sizeof(*v));
	if (!v) {
		etcdserverpb__range_response__free_unpacked(rr, NULL);
		return -ENOMEM;
	}
	for (size_t i = 0; i < rr->n_kvs; i++) {
		Iofence__V1__NodeStatus *st = iofence__v1__node_status__unpack(
		    NULL, rr->kvs[i]->value.len, rr->kvs[i]->value.data);

		if (st)
			v[n++] = st;
	}
	etcdserverpb__range_response__free_unpacked(rr, NULL);
	*ret = v;
	*ret_n = n;
	return 0;
}

void datastore_statuses_free(Iofence__V1__NodeStatus **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		iofence__v1__node_status__free_unpacked(v[i], NULL);
	free(v);
}
