// SPDX-License-Identifier: Apache-2.0
/*
 * The nodes' status keys (PREFIX/status/<node>, one NodeStatus each under its agent's lease),
 * read by the commands that find agents through the datastore: the dashboard on every
 * refresh and `iofencectl tunnels --etcd-endpoints`.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"

int cluster_read_statuses(struct etcd *e, const char *prefix, int timeout_ms,
			  Iofence__V1__NodeStatus ***ret, size_t *ret_n, char *err, size_t err_len)
{
	char *dir = cluster_key_status_dir(prefix);
	Etcdserverpb__RangeResponse *rr = NULL;
	Iofence__V1__NodeStatus **v;
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
	/* A key that does not decode is not a node: skipped, as rollout status does. */
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

void cluster_statuses_free(Iofence__V1__NodeStatus **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		iofence__v1__node_status__free_unpacked(v[i], NULL);
	free(v);
}

char *cluster_status_agent(const Iofence__V1__NodeStatus *st)
{
	const char *api = st->api ? st->api : "";

	api += strspn(api, ", ");
	if (!*api) {
		errno = ENOENT;
		return NULL;
	}
	return strndup(api, strcspn(api, ","));
}

int cluster_discover_agents(const char *endpoints, const struct rpc_tls *tls, const char *prefix,
			    int timeout_ms, char ***ret, size_t *ret_n, char *err, size_t err_len)
{
	Iofence__V1__NodeStatus **st = NULL;
	struct etcd *e = NULL;
	char **agents = NULL;
	size_t n = 0, found = 0;
	int r;

	*ret = NULL;
	*ret_n = 0;
	r = etcd_open(endpoints, tls, &e, err, err_len);
	if (!r)
		r = cluster_read_statuses(e, prefix, timeout_ms, &st, &n, err, err_len);
	etcd_close(e);
	if (r)
		return r;
	agents = calloc(n ? n : 1, sizeof(*agents));
	if (!agents) {
		cluster_statuses_free(st, n);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		char *a = cluster_status_agent(st[i]);

		if (!a && errno == ENOMEM) {
			r = -ENOMEM;
			break;
		}
		if (a)
			agents[found++] = a;
	}
	cluster_statuses_free(st, n);
	if (r) {
		cluster_agents_free(agents, found);
		return r;
	}
	if (!found) {
		cluster_agents_free(agents, found);
		snprintf(err, err_len, "no agent has a status key under %s/status/", prefix);
		return -ENOENT;
	}
	*ret = agents;
	*ret_n = found;
	return 0;
}

void cluster_agents_free(char **agents, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(agents[i]);
	free(agents);
}
