// SPDX-License-Identifier: Apache-2.0
/*
 * iofencectl dashboard [--listen HOST:PORT] [--agent ADDR]...: serves a web page of the
 * cluster's health (agent/dashboard/) until interrupted.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "agent/dashboard/dashboard.h"
#include "client.h"
#include "ctl.h"

int cmd_dashboard(int argc, char **argv)
{
	struct dashboard_config cfg = {.listen = "127.0.0.1:8080", .poll_ms = 1000};
	struct ctl_opts o;
	sigset_t sigs;
	int r;

	r = ctl_parse(argc, argv, "dashboard", &o);
	if (r >= 0)
		return r;
	if (o.listen)
		cfg.listen = o.listen;
	cfg.agents = o.agents;
	/* Cluster mode without --agent: the agents come from the status keys. */
	cfg.n_agents = o.etcd_endpoints && !o.agents_given ? 0 : o.n_agents;
	cfg.etcd_endpoints = o.etcd_endpoints;
	cfg.etcd_prefix = o.etcd_prefix;
	cfg.etcd_tls = o.etcd_tls;
	cfg.tls = o.tls;
	/* A node that does not answer within the poll period shows as unreachable; --timeout
	 * (default 10 s for other commands) only shortens it. */
	cfg.deadline_ms = o.timeout_ms < 800 ? o.timeout_ms : 800;
	/* gRPC's threads must not take the signals that stop the server. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	ctl_grpc_init();
	r = dashboard_run(&cfg);
	ctl_opts_free(&o);
	return r ? (r == -EINVAL ? CTL_USER_ERROR : CTL_SYSTEM_ERROR) : CTL_OK;
}
