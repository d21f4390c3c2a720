// SPDX-License-Identifier: Apache-2.0
/*
 * iofencectl module enable NAME --interface IF [--port N]... [--tunnel-capacity N]
 *                   [--inner-capacity N] [--agent ADDR]...
 * iofencectl module disable NAME [--agent ADDR]...
 * iofencectl module list [--agent ADDR]... [-o table|json]
 * Loadable modules at run time (today: vxlan-trace), on one or many agents.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "ctl.h"

void ctl_module_table_header(void)
{
	printf("%-36s %-12s %-9s %-28s %-10s %-14s %-16s %s\n", "AGENT", "MODULE", "STATE",
	       "INTERFACES", "PORTS", "TUNNELS", "INNER PAIRS", "EVICTIONS");
}

void ctl_module_table_row(const char *agent, const Iofence__V1__ModuleState *m)
{
	const Iofence__V1__ModuleConfig *c = m->config;
	char ifs[256] = "-", ports[64] = "-", tun[32] = "-", inner[32] = "-", ev[24] = "-";
	size_t used = 0;

	for (size_t i = 0; i < m->n_attachments && used + 2 < sizeof(ifs); i++)
		used += (size_t)snprintf(ifs + used, sizeof(ifs) - used, "%s%s:%s", i ? "," : "",
					 m->attachments[i]->interface, m->attachments[i]->state);
	used = 0;
	for (size_t i = 0; c && i < c->n_ports && used + 2 < sizeof(ports); i++)
		used += (size_t)snprintf(ports + used, sizeof(ports) - used, "%s%u", i ? "," : "",
					 c->ports[i]);
	if (c) {
		snprintf(tun, sizeof(tun), "%llu/%u", (unsigned long long)m->tunnel_entries,
			 c->tunnel_capacity);
		snprintf(inner, sizeof(inner), "%llu/%u", (unsigned long long)m->inner_entries,
			 c->inner_capacity);
		snprintf(ev, sizeof(ev), "%llu",
			 (unsigned long long)(m->tunnel_evictions + m->inner_evictions));
	}
	printf("%-36s %-12s %-9s %-28s %-10s %-14s %-16s %s\n", agent, m->name, m->state, ifs,
	       ports, tun, inner, ev);
	if (m->error && *m->error)
		printf("%-36s %s: %s\n", "", m->name, m->error);
	for (size_t i = 0; i < m->n_attachments; i++)
		if (*m->attachments[i]->reason)
			printf("%-36s %s: %s: %s\n", "", m->name, m->attachments[i]->state,
			       m->attachments[i]->reason);
}

void ctl_module_json(const char *agent, const Iofence__V1__ModuleState *m)
{
	const Iofence__V1__ModuleConfig *c = m->config;

	printf("{");
	if (agent) {
		printf("\"agent\": ");
		json_str(stdout, agent);
		printf(", ");
	}
	printf("\"name\": ");
	json_str(stdout, m->name);
	printf(", \"state\": \"%s\", \"error\": ", m->state);
	json_str(stdout, m->error);
	printf(", \"enabled_at_unix\": %llu, \"interfaces\": [",
	       (unsigned long long)m->enabled_at_unix);
	for (size_t i = 0; c && i < c->n_interfaces; i++) {
		printf("%s", i ? ", " : "");
		json_str(stdout, c->interfaces[i]);
	}
	printf("], \"attachments\": [");
	for (size_t i = 0; i < m->n_attachments; i++) {
		const Iofence__V1__ModuleAttachment *a = m->attachments[i];

		printf("%s{\"interface\": ", i ? ", " : "");
		json_str(stdout, a->interface);
		printf(", \"state\": \"%s\", \"ifindex\": %u, \"reason\": ", a->state, a->ifindex);
		json_str(stdout, a->reason);
		printf("}");
	}
	printf("], \"ports\": [");
	for (size_t i = 0; c && i < c->n_ports; i++)
		printf("%s%u", i ? ", " : "", c->ports[i]);
	printf("], \"tunnel_capacity\": %u, \"inner_capacity\": %u, \"tunnel_entries\": %llu, "
	       "\"inner_entries\": %llu, \"tunnel_evictions\": %llu, \"inner_evictions\": %llu, "
	       "\"programs\": [",
	       c ? c->tunnel_capacity : 0, c ? c->inner_capacity : 0,
	       (unsigned long long)m->tunnel_entries, (unsigned long long)m->inner_entries,
	       (unsigned long long)m->tunnel_evictions, (unsigned long long)m->inner_evictions);
	for (size_t i = 0; i < m->n_programs; i++) {
		printf("%s{\"name\": ", i ? ", " : "");
		json_str(stdout, m->programs[i]->name);
		printf(", \"prog_id\": %u, \"attached\": %s}", m->programs[i]->prog_id,
		       m->programs[i]->attached ? "true" : "false");
	}
	printf("]}");
}

int cmd_module(int argc, char **argv)
{
	struct ctl_opts o;
	const char *verb, *name = NULL;
	char entry[32];
	int r, worst = CTL_OK;
	bool json;

	verb = argc >= 2 ? argv[1] : "";
	if (strcmp(verb, "enable") && strcmp(verb, "disable") && strcmp(verb, "list")) {
		fprintf(stderr, "iofencectl module: \"%s\" is not enable, disable or list (see "
				"iofencectl module --help)\n", verb);
		return CTL_USER_ERROR;
	}
	snprintf(entry, sizeof(entry), "module %s", verb);
	r = ctl_parse(argc - 1, argv + 1, entry, &o);
	if (r >= 0)
		return r;
	name = o.positional;
	if (strcmp(verb, "list") && !name) {
		fprintf(stderr, "iofencectl %s: which module? (vxlan-trace)\n", entry);
		ctl_opts_free(&o);
		return CTL_USER_ERROR;
	}
	if (o.output && strcmp(o.output, "table") && strcmp(o.output, "json")) {
		fprintf(stderr, "iofencectl module: -o: \"%s\" is not table or json\n", o.output);
		ctl_opts_free(&o);
		return CTL_USER_ERROR;
	}
	json = o.output && !strcmp(o.output, "json");
	if (!strcmp(verb, "enable") && !o.n_ifaces) {
		fprintf(stderr, "iofencectl module enable: --interface is required\n");
		ctl_opts_free(&o);
		return CTL_USER_ERROR;
	}
	if (json)
		printf("{\"modules\": [");
	else
		ctl_module_table_header();
	size_t printed = 0;

	for (size_t i = 0; i < o.n_agents; i++) {
		Iofence__V1__ModuleRequest req = IOFENCE__V1__MODULE_REQUEST__INIT;
		Iofence__V1__ModuleConfig cfg = IOFENCE__V1__MODULE_CONFIG__INIT;
		Iofence__V1__ListModulesRequest lreq = IOFENCE__V1__LIST_MODULES_REQUEST__INIT;
		ProtobufCMessage *resp = NULL;
		struct rpc_result res;
		grpc_channel *ch = ctl_connect(&o, o.agents[i]);

		if (!ch) {
			worst = CTL_SYSTEM_ERROR;
			continue;
		}
		req.name = (char *)name;
		if (!strcmp(verb, "enable")) {
			cfg.interfaces = (char **)o.ifaces;
			cfg.n_interfaces = o.n_ifaces;
			cfg.ports = o.ports;
			cfg.n_ports = o.n_ports;
			cfg.tunnel_capacity = o.tunnel_capacity;
			cfg.inner_capacity = o.inner_capacity;
			req.config = &cfg;
			r = rpc_unary(ch, RPC_METHOD_ENABLE_MODULE, &req.base,
				      &iofence__v1__module_state__descriptor, o.timeout_ms, &resp, &res);
		} else if (!strcmp(verb, "disable")) {
			r = rpc_unary(ch, RPC_METHOD_DISABLE_MODULE, &req.base,
				      &iofence__v1__module_state__descriptor, o.timeout_ms, &resp, &res);
		} else {
			r = rpc_unary(ch, RPC_METHOD_LIST_MODULES, &lreq.base,
				      &iofence__v1__list_modules_response__descriptor, o.timeout_ms,
				      &resp, &res);
		}
		grpc_channel_destroy(ch);
		r = ctl_report(&o, o.agents[i], &res, r);
		rpc_result_free(&res);
		if (r > worst)
			worst = r;
		if (r || !resp)
			continue;
		if (!strcmp(verb, "list")) {
			const Iofence__V1__ListModulesResponse *l = (void *)resp;

			for (size_t j = 0; j < l->n_modules; j++) {
				if (json) {
					printf("%s\n  ", printed++ ? "," : "");
					ctl_module_json(o.agents[i], l->modules[j]);
				} else {
					ctl_module_table_row(o.agents[i], l->modules[j]);
				}
			}
		} else if (json) {
			printf("%s\n  ", printed++ ? "," : "");
			ctl_module_json(o.agents[i], (void *)resp);
		} else {
			ctl_module_table_row(o.agents[i], (void *)resp);
		}
		protobuf_c_message_free_unpacked(resp, NULL);
	}
	if (json)
		printf("%s]}\n", printed ? "\n" : "");
	ctl_opts_free(&o);
	return worst;
}
