// SPDX-License-Identifier: Apache-2.0
/* iofencectl: options shared by the commands that talk to agents, and exit code mapping. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/support/log.h>

#include "agent/etcd/cluster.h"
#include "agent/rpc/tls_check.h"
#include "client.h"
#include "ctl.h"

bool ctl_grpc_used;

/* gRPC core's own log lines ("E1206 ... Handshake failed") are not for an operator: the
 * failure is reported once, with its cause, by ctl_report(). */
static void quiet(gpr_log_func_args *args)
{
	(void)args;
}

void ctl_grpc_init(void)
{
	if (ctl_grpc_used)
		return;
	ctl_grpc_used = true;
	gpr_set_log_function(quiet);
	gpr_set_log_verbosity(GPR_LOG_SEVERITY_ERROR);
	grpc_init();
}

int ctl_find_agents(struct ctl_opts *o)
{
	char err[512] = "", **found;
	size_t n;
	int r;

	if (!o->etcd_endpoints || o->agents_given)
		return CTL_OK;
	ctl_grpc_init();
	r = cluster_discover_agents(o->etcd_endpoints, &o->etcd_tls, o->etcd_prefix, o->timeout_ms,
				    &found, &n, err, sizeof(err));
	if (r) {
		fprintf(stderr, "iofencectl %s: datastore %s: %s\n", o->cmd, o->etcd_endpoints,
			err);
		return r == -ENOENT ? CTL_USER_ERROR : CTL_SYSTEM_ERROR;
	}
	free(o->agents);
	o->agents = calloc(n, sizeof(*o->agents));
	if (!o->agents) {
		cluster_agents_free(found, n);
		o->n_agents = 0;
		return CTL_SYSTEM_ERROR;
	}
	for (size_t i = 0; i < n; i++)
		o->agents[i] = found[i];
	o->n_agents = n;
	o->found_agents = found;
	o->n_found_agents = n;
	return CTL_OK;
}

grpc_channel *ctl_connect(const struct ctl_opts *o, const char *agent)
{
	char err[512];
	grpc_channel *ch;

	ctl_grpc_init();
	ch = rpc_channel_open(agent, &o->tls, err, sizeof(err));
	if (!ch)
		fprintf(stderr, "iofencectl %s: %s\n", o->cmd, err);
	return ch;
}

int ctl_exit_for(grpc_status_code code)
{
	switch (code) {
	case GRPC_STATUS_OK:
		return CTL_OK;
	case GRPC_STATUS_INVALID_ARGUMENT:
	case GRPC_STATUS_FAILED_PRECONDITION:
	case GRPC_STATUS_RESOURCE_EXHAUSTED:
	case GRPC_STATUS_NOT_FOUND:
	case GRPC_STATUS_OUT_OF_RANGE:
		return CTL_USER_ERROR;
	default:
		return CTL_SYSTEM_ERROR;
	}
}

/* A failed call to a TCP agent whose cause is TLS: said, and true. */
static bool tls_failure(const struct ctl_opts *o, const char *agent, grpc_status_code code)
{
	char why[512];

	if (!strncmp(agent, "unix:", 5) ||
	    (code != GRPC_STATUS_UNAVAILABLE && code != GRPC_STATUS_UNKNOWN &&
	     code != GRPC_STATUS_INTERNAL && code != GRPC_STATUS_DEADLINE_EXCEEDED))
		return false;
	if (!rpc_tls_diagnose(agent, &o->tls, o->timeout_ms < 3000 ? o->timeout_ms : 3000, why,
			      sizeof(why)))
		return false;
	fprintf(stderr, "iofencectl %s: %s: TLS: %s\n", o->cmd, agent, why);
	return true;
}

int ctl_report(const struct ctl_opts *o, const char *agent, const struct rpc_result *res,
	       int local_err)
{
	if (local_err) {
		fprintf(stderr, "iofencectl %s: %s: %s\n", o->cmd, agent,
			local_err == -EPROTO ? "the agent's answer does not parse"
					     : strerror(-local_err));
		return CTL_SYSTEM_ERROR;
	}
	if (res->status == GRPC_STATUS_OK)
		return CTL_OK;
	if (tls_failure(o, agent, res->status))
		return CTL_SYSTEM_ERROR;
	fprintf(stderr, "iofencectl %s: %s: %s: %s\n", o->cmd, agent, rpc_status_name(res->status),
		res->status == GRPC_STATUS_UNAVAILABLE && (!res->details || !*res->details)
		    ? "agent unreachable"
		: res->details ? res->details
			       : "");
	return ctl_exit_for(res->status);
}

void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", f);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

void fmt_duration(uint64_t sec, char *buf, size_t len)
{
	if (sec >= 86400)
		snprintf(buf, len, "%llud%lluh", (unsigned long long)(sec / 86400),
			 (unsigned long long)(sec % 86400 / 3600));
	else if (sec >= 3600)
		snprintf(buf, len, "%lluh%llum", (unsigned long long)(sec / 3600),
			 (unsigned long long)(sec % 3600 / 60));
	else if (sec >= 60)
		snprintf(buf, len, "%llum%llus", (unsigned long long)(sec / 60),
			 (unsigned long long)(sec % 60));
	else
		snprintf(buf, len, "%llus", (unsigned long long)sec);
}
