// SPDX-License-Identifier: Apache-2.0
/*
 * iofencectl counters [--agent ADDR] [--endpoint NAME] [-o table|json]: per endpoint and
 * per rule allowed/denied packets and bytes, and drops by reason.
 */
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "ctl.h"

static void json_counter(const char *name, const Iofence__V1__Counter *c)
{
	printf("\"%s\": {\"packets\": %llu, \"bytes\": %llu}", name,
	       (unsigned long long)(c ? c->packets : 0), (unsigned long long)(c ? c->bytes : 0));
}

static void print_json(const Iofence__V1__GetCountersResponse *r)
{
	printf("{\"revision\": %llu,\n \"endpoints\": [", (unsigned long long)r->revision);
	for (size_t i = 0; i < r->n_endpoints; i++) {
		const Iofence__V1__EndpointCounters *e = r->endpoints[i];

		printf("%s\n  {\"name\": ", i ? "," : "");
		json_str(stdout, e->name);
		printf(", ");
		json_counter("ingress_allowed", e->ingress_allowed);
		printf(", ");
		json_counter("ingress_denied", e->ingress_denied);
		printf(", ");
		json_counter("egress_allowed", e->egress_allowed);
		printf(", ");
		json_counter("egress_denied", e->egress_denied);
		printf(", ");
		json_counter("audit_would_drop", e->audit_would_drop);
		printf("}");
	}
	printf("],\n \"rules\": [");
	for (size_t i = 0; i < r->n_rules; i++) {
		const Iofence__V1__RuleCounters *c = r->rules[i];

		printf("%s\n  {\"rule\": ", i ? "," : "");
		json_str(stdout, c->rule);
		printf(", \"name\": ");
		json_str(stdout, c->name);
		printf(", \"group\": ");
		json_str(stdout, c->group);
		printf(
		    ", \"index\": %u, \"action\": \"%s\", \"direction\": \"%s\", \"priority\": %u, "
		    "\"summary\": ",
		    c->index, c->action, c->direction, c->priority);
		json_str(stdout, c->summary);
		printf(", \"packets\": %llu, \"bytes\": %llu}",
		       (unsigned long long)(c->matched ? c->matched->packets : 0),
		       (unsigned long long)(c->matched ? c->matched->bytes : 0));
	}
	printf("],\n \"drops\": {");
	for (size_t i = 0; i < r->n_drops; i++)
		printf("%s\"%s\": %llu", i ? ", " : "", r->drops[i]->reason,
		       (unsigned long long)r->drops[i]->packets);
	printf("},\n \"drop_bytes\": {");
	for (size_t i = 0; i < r->n_drops; i++)
		printf("%s\"%s\": %llu", i ? ", " : "", r->drops[i]->reason,
		       (unsigned long long)r->drops[i]->bytes);
	printf("},\n \"events_dropped\": %llu}\n", (unsigned long long)r->events_dropped);
}

static unsigned long long pk(const Iofence__V1__Counter *c)
{
	return c ? (unsigned long long)c->packets : 0;
}

static unsigned long long by(const Iofence__V1__Counter *c)
{
	return c ? (unsigned long long)c->bytes : 0;
}

static void print_table(const Iofence__V1__GetCountersResponse *r)
{
	printf("revision %llu\n\n%-20s %12s %12s %12s %12s %12s %14s\n",
	       (unsigned long long)r->revision, "ENDPOINT", "IN-ALLOWED", "IN-DENIED",
	       "OUT-ALLOWED", "OUT-DENIED", "AUDIT-DROP", "BYTES(A/D)");
	for (size_t i = 0; i < r->n_endpoints; i++) {
		const Iofence__V1__EndpointCounters *e = r->endpoints[i];
		char bytes[64];

		snprintf(bytes, sizeof(bytes), "%llu/%llu",
			 by(e->ingress_allowed) + by(e->egress_allowed),
			 by(e->ingress_denied) + by(e->egress_denied));
		printf("%-20s %12llu %12llu %12llu %12llu %12llu %14s\n", e->name,
		       pk(e->ingress_allowed), pk(e->ingress_denied), pk(e->egress_allowed),
		       pk(e->egress_denied), pk(e->audit_would_drop), bytes);
	}
	printf("\n%-20s %-6s %-8s %8s %12s %12s  %s\n", "RULE", "ACTION", "DIR", "PRIORITY",
	       "PACKETS", "BYTES", "MATCH");
	for (size_t i = 0; i < r->n_rules; i++) {
		const Iofence__V1__RuleCounters *c = r->rules[i];
		printf("%-20s %-6s %-8s %8u %12llu %12llu  %s\n", c->rule, c->action, c->direction,
		       c->priority, pk(c->matched), by(c->matched), c->summary);
	}
	printf("\n%-20s %12s %14s\n", "DROP REASON", "PACKETS", "BYTES");
	for (size_t i = 0; i < r->n_drops; i++)
		printf("%-20s %12llu %14llu%s\n", r->drops[i]->reason,
		       (unsigned long long)r->drops[i]->packets,
		       (unsigned long long)r->drops[i]->bytes,
		       r->drops[i]->real_drop ? "" : "  (passed: audit mode)");
	printf("\nflow events dropped for slow watchers: %llu\n",
	       (unsigned long long)r->events_dropped);
}

int cmd_counters(int argc, char **argv)
{
	Iofence__V1__GetCountersRequest req = IOFENCE__V1__GET_COUNTERS_REQUEST__INIT;
	Iofence__V1__GetCountersResponse *resp = NULL;
	struct rpc_result res;
	struct ctl_opts o;
	grpc_channel *ch;
	int r;

	r = ctl_parse(argc, argv, "counters", &o);
	if (r >= 0)
		return r;
	if (o.output && strcmp(o.output, "table") && strcmp(o.output, "json")) {
		fprintf(stderr, "iofencectl counters: -o: \"%s\" is not table or json\n", o.output);
		ctl_opts_free(&o);
		return CTL_USER_ERROR;
	}
	ch = ctl_connect(&o, o.agents[0]);
	if (!ch) {
		ctl_opts_free(&o);
		return CTL_USER_ERROR;
	}
	req.endpoint = (char *)(o.endpoint ? o.endpoint : "");
	r = rpc_unary(ch, RPC_METHOD_GET_COUNTERS, &req.base,
		      &iofence__v1__get_counters_response__descriptor, o.timeout_ms,
		      (ProtobufCMessage **)&resp, &res);
	grpc_channel_destroy(ch);
	r = ctl_report(&o, o.agents[0], &res, r);
	rpc_result_free(&res);
	if (!r) {
		if (o.output && !strcmp(o.output, "json"))
			print_json(resp);
		else
			print_table(resp);
		iofence__v1__get_counters_response__free_unpacked(resp, NULL);
	}
	ctl_opts_free(&o);
	return r;
}
