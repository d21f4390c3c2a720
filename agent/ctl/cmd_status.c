// SPDX-License-Identifier: Apache-2.0
/*
 * iofencectl status [--agent ADDR]...: node, applied revision, endpoints, programs, uptime of
 * each agent, and its loadable modules with their state (table or -o json). Also the endpoint
 * listing of `get endpoints`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "ctl.h"

/* GetStatus of one agent; exit code, *ret on success. */
static int fetch(const struct ctl_opts *o, const char *agent, Iofence__V1__GetStatusResponse **ret,
		 bool quiet_json)
{
	Iofence__V1__GetStatusRequest req = IOFENCE__V1__GET_STATUS_REQUEST__INIT;
	struct rpc_result res;
	grpc_channel *ch = ctl_connect(o, agent);
	int r;

	*ret = NULL;
	if (!ch)
		return CTL_USER_ERROR;
	r = rpc_unary(ch, RPC_METHOD_GET_STATUS, &req.base,
		      &iofence__v1__get_status_response__descriptor, o->timeout_ms,
		      (ProtobufCMessage **)ret, &res);
	grpc_channel_destroy(ch);
	r = ctl_report(o, agent, &res, r);
	(void)quiet_json;
	rpc_result_free(&res);
	return r;
}

static void json_strings(char **v, size_t n)
{
	printf("[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			printf(", ");
		json_str(stdout, v[i]);
	}
	printf("]");
}

static void json_endpoints(const Iofence__V1__GetStatusResponse *s, const char *indent)
{
	printf("[");
	for (size_t i = 0; i < s->n_endpoints; i++) {
		const Iofence__V1__EndpointStatus *e = s->endpoints[i];

		printf("%s\n%s  {\"name\": ", i ? "," : "", indent);
		json_str(stdout, e->name);
		printf(", \"interface\": ");
		json_str(stdout, e->interface);
		printf(", \"cgroup\": ");
		json_str(stdout, e->cgroup);
		printf(", \"ifindex\": %u, \"addresses\": ", e->ifindex);
		json_strings(e->addresses, e->n_addresses);
		printf(", \"groups\": ");
		json_strings(e->groups, e->n_groups);
		printf(", \"enforced\": %s, \"ingress\": \"%s\", \"egress\": \"%s\", \"mode\": "
		       "\"%s\", \"reason\": ",
		       e->enforced ? "true" : "false", e->ingress, e->egress, e->mode);
		json_str(stdout, e->reason);
		printf("}");
	}
	printf("%s%s]", s->n_endpoints ? "\n" : "", s->n_endpoints ? indent : "");
}

static void join(char **v, size_t n, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = 0;
	for (size_t i = 0; i < n && used + 2 < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? "," : "", v[i]);
	if (!n)
		snprintf(buf, len, "-");
}

static void table_endpoints(const Iofence__V1__GetStatusResponse *s)
{
	printf("%-20s %-16s %-8s %-32s %-20s %-9s %-7s %-7s %s\n", "NAME", "INTERFACE", "IFINDEX",
	       "ADDRESSES", "GROUPS", "ENFORCED", "INGRESS", "EGRESS", "MODE");
	for (size_t i = 0; i < s->n_endpoints; i++) {
		const Iofence__V1__EndpointStatus *e = s->endpoints[i];
		char addrs[256], groups[256];

		join(e->addresses, e->n_addresses, addrs, sizeof(addrs));
		join(e->groups, e->n_groups, groups, sizeof(groups));
		printf("%-20s %-16s %-8u %-32s %-20s %-9s %-7s %-7s %s\n", e->name,
		       *e->interface ? e->interface : e->cgroup, e->ifindex, addrs, groups,
		       e->enforced ? "yes" : "no", e->ingress, e->egress, e->mode);
		if (*e->reason)
			printf("%-20s not enforced: %s\n", "", e->reason);
	}
}

int ctl_get_endpoints(const struct ctl_opts *o)
{
	Iofence__V1__GetStatusResponse *s;
	const char *fmt = o->output ? o->output : "table";
	int r;

	if (strcmp(fmt, "table") && strcmp(fmt, "json") && strcmp(fmt, "yaml")) {
		fprintf(stderr, "iofencectl get endpoints: -o: \"%s\" is not yaml, json or table\n",
			fmt);
		return CTL_USER_ERROR;
	}
	r = fetch(o, o->agents[0], &s, false);
	if (r)
		return r;
	if (!strcmp(fmt, "json")) {
		printf("{\"node\": ");
		json_str(stdout, s->node);
		printf(", \"revision\": %llu, \"endpoints\": ", (unsigned long long)s->revision);
		json_endpoints(s, "");
		printf("}\n");
	} else if (!strcmp(fmt, "yaml")) {
		printf("node: %s\nrevision: %llu\nendpoints:%s\n", s->node,
		       (unsigned long long)s->revision, s->n_endpoints ? "" : " []");
		for (size_t i = 0; i < s->n_endpoints; i++) {
			const Iofence__V1__EndpointStatus *e = s->endpoints[i];

			printf("  - name: %s\n", e->name);
			if (*e->interface)
				printf("    interface: %s\n    ifindex: %u\n", e->interface,
				       e->ifindex);
			if (*e->cgroup)
				printf("    cgroup: %s\n", e->cgroup);
			printf("    addresses: [");
			for (size_t j = 0; j < e->n_addresses; j++)
				printf("%s\"%s\"", j ? ", " : "", e->addresses[j]);
			printf("]\n    groups: [");
			for (size_t j = 0; j < e->n_groups; j++)
				printf("%s%s", j ? ", " : "", e->groups[j]);
			printf(
			    "]\n    enforced: %s\n    ingress: %s\n    egress: %s\n    mode: %s\n",
			    e->enforced ? "true" : "false", e->ingress, e->egress, e->mode);
		}
	} else {
		table_endpoints(s);
	}
	iofence__v1__get_status_response__free_unpacked(s, NULL);
	return CTL_OK;
}

/* The loadable modules of every agent that answered, under their own header. */
static void print_modules_table(const struct ctl_opts *o, Iofence__V1__GetStatusResponse **st)
{
	bool any = false;

	for (size_t i = 0; i < o->n_agents; i++)
		any = any || (st[i] && st[i]->n_loadable_modules);
	if (!any)
		return;
	printf("\n");
	ctl_module_table_header();
	for (size_t i = 0; i < o->n_agents; i++)
		for (size_t j = 0; st[i] && j < st[i]->n_loadable_modules; j++)
			ctl_module_table_row(o->agents[i], st[i]->loadable_modules[j]);
}

int cmd_status(int argc, char **argv)
{
	Iofence__V1__GetStatusResponse **st;
	struct ctl_opts o;
	int r, worst = CTL_OK;
	bool json;

	r = ctl_parse(argc, argv, "status", &o);
	if (r >= 0)
		return r;
	if (o.output && strcmp(o.output, "table") && strcmp(o.output, "json")) {
		fprintf(stderr, "iofencectl status: -o: \"%s\" is not table or json\n", o.output);
		ctl_opts_free(&o);
		return CTL_USER_ERROR;
	}
	json = o.output && !strcmp(o.output, "json");
	st = calloc(o.n_agents, sizeof(*st));
	if (!st) {
		ctl_opts_free(&o);
		return CTL_SYSTEM_ERROR;
	}
	for (size_t i = 0; i < o.n_agents; i++) {
		r = fetch(&o, o.agents[i], &st[i], json);
		if (r > worst)
			worst = r;
	}
	if (json) {
		printf("{\"agents\": [");
		for (size_t i = 0; i < o.n_agents; i++) {
			const Iofence__V1__GetStatusResponse *s = st[i];

			printf("%s\n  {\"agent\": ", i ? "," : "");
			json_str(stdout, o.agents[i]);
			if (!s) {
				printf(", \"ok\": false}");
				continue;
			}
			printf(", \"ok\": true, \"node\": ");
			json_str(stdout, s->node);
			printf(", \"revision\": %llu, \"uptime_seconds\": %llu, \"version\": ",
			       (unsigned long long)s->revision,
			       (unsigned long long)s->uptime_seconds);
			json_str(stdout, s->version);
			printf(", \"applied_at_unix\": %llu, \"active_slot\": %u, \"endpoints\": ",
			       (unsigned long long)s->applied_at_unix, s->active_slot);
			json_endpoints(s, "  ");
			printf(", \"warnings\": ");
			json_strings(s->warnings, s->n_warnings);
			printf(", \"modules\": [");
			for (size_t j = 0; j < s->n_modules; j++) {
				const Iofence__V1__Module *m = s->modules[j];

				printf("%s\n    {\"name\": ", j ? "," : "");
				json_str(stdout, m->name);
				printf(", \"kind\": \"%s\", \"attach\": ", m->kind);
				json_str(stdout, m->attach);
				printf(", \"prog_id\": %u, \"attached\": %s}", m->prog_id,
				       m->attached ? "true" : "false");
			}
			printf("%s], \"loadable_modules\": [", s->n_modules ? "\n  " : "");
			for (size_t j = 0; j < s->n_loadable_modules; j++) {
				printf("%s\n    ", j ? "," : "");
				ctl_module_json(NULL, s->loadable_modules[j]);
			}
			printf("%s], \"repairs\": %llu, \"conntrack\": [",
			       s->n_loadable_modules ? "\n  " : "", (unsigned long long)s->repairs);
			for (size_t j = 0; j < s->n_conntrack; j++) {
				const Iofence__V1__ConntrackStatus *c = s->conntrack[j];

				printf("%s{\"family\": \"%s\", \"entries\": %llu, \"capacity\": %llu, "
				       "\"inserts\": %llu, \"deletes\": %llu, \"insert_failures\": %llu, "
				       "\"evictions\": %llu}",
				       j ? ", " : "", c->family, (unsigned long long)c->entries,
				       (unsigned long long)c->capacity, (unsigned long long)c->inserts,
				       (unsigned long long)c->deletes,
				       (unsigned long long)c->insert_failures,
				       (unsigned long long)c->evictions);
			}
			printf("]}");
		}
		printf("\n]}\n");
	} else {
		printf("%-36s %-16s %9s %10s %8s %9s %s\n", "AGENT", "NODE", "REVISION",
		       "ENDPOINTS", "PROGRAMS", "UPTIME", "VERSION");
		for (size_t i = 0; i < o.n_agents; i++) {
			const Iofence__V1__GetStatusResponse *s = st[i];
			size_t enf = 0, att = 0;
			char up[32], eps[32], mods[32];

			if (!s) {
				printf("%-36s %s\n", o.agents[i], "unreachable or failed");
				continue;
			}
			for (size_t j = 0; j < s->n_endpoints; j++)
				enf += s->endpoints[j]->enforced;
			for (size_t j = 0; j < s->n_modules; j++)
				att += s->modules[j]->attached;
			fmt_duration(s->uptime_seconds, up, sizeof(up));
			snprintf(eps, sizeof(eps), "%zu/%zu", enf, s->n_endpoints);
			snprintf(mods, sizeof(mods), "%zu/%zu", att, s->n_modules);
			printf("%-36s %-16s %9llu %10s %8s %9s %s\n", o.agents[i], s->node,
			       (unsigned long long)s->revision, eps, mods, up, s->version);
		}
		for (size_t i = 0; i < o.n_agents; i++)
			for (size_t w = 0; st[i] && w < st[i]->n_warnings; w++)
				printf("warning: %s: %s\n", o.agents[i], st[i]->warnings[w]);
		print_modules_table(&o, st);
	}
	for (size_t i = 0; i < o.n_agents; i++)
		if (st[i])
			iofence__v1__get_status_response__free_unpacked(st[i], NULL);
	free(st);
	ctl_opts_free(&o);
	return worst;
}
