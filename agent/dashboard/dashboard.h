/* SPDX-License-Identifier: Apache-2.0 */
/*
 * iofencectl dashboard: a web page that shows the cluster as a graph (nodes, the VXLAN tunnels
 * between them by traffic, coloured by health), served by libmicrohttpd with the layout drawn
 * server-side by Graphviz. This is the entry point; cluster.h holds the model it draws.
 */
#ifndef IOFENCE_DASHBOARD_H
#define IOFENCE_DASHBOARD_H

#include <stddef.h>

#include "agent/rpc/rpc.h"

struct dashboard_config {
	const char *listen;	   /* HOST:PORT of the web server */
	const char *const *agents; /* agent ADDRs to poll */
	size_t n_agents;
	struct rpc_tls tls;
	const char *etcd_endpoints; /* cluster mode: rollout state from the status keys, and the
				       agents too when n_agents is 0 (found as nodes join) */
	const char *etcd_prefix;
	struct rpc_tls etcd_tls;
	int poll_ms;	 /* period of the agent polls */
	int deadline_ms; /* deadline of each poll call: a slower agent counts as unreachable */
};

/*
 * dashboard_run() - poll the agents and serve the page until SIGINT or SIGTERM (the caller has
 * blocked both in every thread and initialised gRPC). Return: 0, or a negative errno when
 * the server could not start (with the reason on stderr).
 */
int dashboard_run(const struct dashboard_config *cfg);

#endif /* IOFENCE_DASHBOARD_H */
