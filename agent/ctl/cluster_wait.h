/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cluster mode's "enforced" wait (cluster_wait.c): until each endpoint's node enforces a
 * policy revision and its agent reports the endpoint enforced, for `endpoint put --enforced`
 * and `endpoint wait --etcd-endpoints`.
 */
#ifndef IOFENCE_CTL_CLUSTER_WAIT_H
#define IOFENCE_CTL_CLUSTER_WAIT_H

#include <stddef.h>
#include <stdint.h>

#include "agent/etcd/cluster.h"
#include "client.h"

/* One endpoint to wait for: where it is enforced and its name there (the caller's strings). */
struct cluster_wait_target {
	char *node;
	char *name;
};

/*
 * cluster_wait_enforced() - polls the status keys of the targets' nodes and, once a node
 * enforces @revision or a later one, its agent's GetStatus (the API address of its status key,
 * reached with the CLI's --ca/--cert/--key), until every target is enforced there or
 * @timeout_s passed. A node without a status key (absent) is waited for: its agent may be
 * starting. Prints each target on stdout once enforced (unless -o json).
 * Return an exit code: 0 every target enforced; 1 a node refused a revision >= @revision (the
 * agent's reason from its status key on stderr); 2 timeout (each pending target's reason on
 * stderr) or etcd unreachable until the timeout.
 */
int cluster_wait_enforced(const struct ctl_opts *o, struct etcd *c,
			  const struct cluster_wait_target *targets, size_t n, int64_t revision,
			  double timeout_s);

/*
 * cluster_endpoint_wait() - `endpoint wait NODE/NAME|NAME --enforced --etcd-endpoints URL`:
 * finds the endpoint in the datastore's policy (NAME alone: unique across nodes, else exit 1
 * listing the nodes) and waits for it at the policy's current revision. Returns an exit code
 * as cluster_wait_enforced(); 1 when the endpoint is not in the datastore.
 */
int cluster_endpoint_wait(const struct ctl_opts *o, double timeout_s);

#endif /* IOFENCE_CTL_CLUSTER_WAIT_H */
