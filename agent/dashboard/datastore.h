/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The dashboard in cluster mode: the nodes' status keys in etcd (PREFIX/status/<node>, one
 * NodeStatus each, under the agent's lease) give the agents to poll and each node's rollout
 * state (converged, pending, failed, absent) and datastore connection.
 */
#ifndef IOFENCE_DASHBOARD_DATASTORE_H
#define IOFENCE_DASHBOARD_DATASTORE_H

#include <stddef.h>

#include <iofence/v1/agent.pb-c.h>

#include "agent/rpc/rpc.h"

struct etcd;

/* The status keys now: NodeStatus messages (free with datastore_statuses_free). */
int datastore_read_statuses(struct etcd *e, const char *prefix, int timeout_ms,
			    Iofence__V1__NodeStatus ***ret, size_t *ret_n, char *err,
			    size_t err_len);
void datastore_statuses_free(Iofence__V1__NodeStatus **v, size_t n);

#endif /* IOFENCE_DASHBOARD_DATASTORE_H */
