// SPDX-License-Identifier: Apache-2.0
/*
 * iofencectl endpoint wait NAME --enforced [--timeout SEC] [--agent ADDR]: returns once the
 * agent reports the endpoint enforced (both hooks attached and alive, its entry in the active
 * slot, the slot's policy verified), so that an orchestrator brings a workload's link up only
 * then. Polls GetStatus every 10 ms. Exit 0 enforced, 1 refused by the agent (an input it
 * rejects), 2 not enforced when the timeout (default 30 s) passed (the reason on stderr) or
 * agent unreachable: the exit codes of every wait (rollout status --wait, cluster mode).
 * With --etcd-endpoints: the endpoint's node and agent from the datastore (cluster_wait.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "cluster_wait.h"
#include "ctl.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 1 enforced, 0 not (reason in why), or -exit code. */
static int poll_once(const struct ctl_opts *o, grpc_channel *ch, const char *name, char *why,
		     size_t len)
{
	Iofence__V1__GetStatusRequest req = IOFENCE__V1__GET_STATUS_REQUEST__INIT;
	Iofence__V1__GetStatusResponse *s = NULL;
	struct rpc_result res;
	int r = rpc_unary(ch, RPC_METHOD_GET_STATUS, &req.base,
			  &iofence__v1__get_status_response__descriptor, o->timeout_ms,
			  (ProtobufCMessage **)&s, &res);

	r = ctl_report(o, o->agents[0], &res, r);
	rpc_result_free(&res);
	if (r)
		return -r;
	snprintf(why, len, "not in the enforced revision (%llu)", (unsigned long long)s->revision);
	r = 0;
	for (size_t i = 0; i < s->n_endpoints; i++) {
		const Iofence__V1__EndpointStatus *e = s->endpoints[i];

		if (strcmp(e->name, name))
			continue;
		r = e->enforced;
		snprintf(why, len, "%s", *e->reason ? e->reason : "not enforced");
	}
	iofence__v1__get_status_response__free_unpacked(s, NULL);
	return r;
}

int ctl_endpoint_wait(int argc, char **argv)
{
	const char *name;
	double timeout, start;
	char why[160] = "";
	struct ctl_opts o;
	grpc_channel *ch;
	int r;

	r = ctl_parse(argc, argv, "endpoint wait", &o);
	if (r >= 0)
		return r;
	name = o.positional;
	if (!name || !o.enforced) {
		fprintf(stderr, "iofencectl endpoint wait: %s and --enforced are required (see "
				"iofencectl endpoint wait --help)\n",
			o.etcd_endpoints ? "NODE/NAME (or a NAME unique across nodes)" : "NAME");
		ctl_opts_free(&o);
		return CTL_USER_ERROR;
	}
	timeout = o.timeout_set ? o.timeout_ms / 1000.0 : 30;
	if (o.etcd_endpoints) {
		r = cluster_endpoint_wait(&o, timeout);
		ctl_opts_free(&o);
		return r;
	}
	if (o.timeout_ms > 2000)
		o.timeout_ms = 2000; /* one poll; the wait is bounded by --timeout */
	ch = ctl_connect(&o, o.agents[0]);
	if (!ch) {
		ctl_opts_free(&o);
		return CTL_SYSTEM_ERROR;
	}
	start = now_s();
	for (;;) {
		r = poll_once(&o, ch, name, why, sizeof(why));
		if (r < 0 || r == 1 || now_s() - start >= timeout)
			break;
		nanosleep(&(struct timespec){.tv_nsec = 10 * 1000000L}, NULL);
	}
	grpc_channel_destroy(ch);
	ctl_opts_free(&o);
	if (r < 0)
		return -r;
	if (r == 1)
		return CTL_OK;
	fprintf(stderr, "iofencectl endpoint wait: %s not enforced after %g s: %s\n", name,
		timeout, why);
	return CTL_SYSTEM_ERROR;
}
