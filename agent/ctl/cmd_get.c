// SPDX-License-Identifier: Apache-2.0
/*
 * iofencectl get policy|endpoints [--agent ADDR] [-o yaml|json|table] [--revision N]:
 * the document an agent enforces (or a kept earlier revision), written back in the
 * CONTRACT.md format, or its local endpoints.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "ctl.h"
#include "policy/parse.h"
#include "policy/pb.h"
#include "policy/prefix.h"
#include "policy/write.h"

int ctl_get_endpoints(const struct ctl_opts *o);

static void print_table(const struct policy_document *doc, uint64_t rev)
{
	printf("revision %llu\n\n%-16s %5s %-8s %-6s %8s %-8s %-24s %s\n", (unsigned long long)rev,
	       "GROUP", "INDEX", "DIR", "ACTION", "PRIORITY", "PROTO", "PORTS", "REMOTE");
	for (size_t g = 0; g < doc->n_groups; g++)
		for (size_t i = 0; i < doc->groups[g].n_rules; i++) {
			const struct policy_rule *r = &doc->groups[g].rules[i];
			const char *proto = policy_protocol_name(r->protocol);
			char ports[256] = "*", remote[PREFIX_STR_MAX + 16] = "any", pnum[8];
			size_t n = 0;

			for (size_t p = 0; p < r->n_ports && n < sizeof(ports) - 16; p++)
				n += (size_t)(r->ports[p].lo == r->ports[p].hi
						  ? snprintf(ports + n, sizeof(ports) - n, "%s%u",
							     p ? "," : "", r->ports[p].lo)
						  : snprintf(ports + n, sizeof(ports) - n,
							     "%s%u-%u", p ? "," : "",
							     r->ports[p].lo, r->ports[p].hi));
			if (r->remote_kind == POLICY_REMOTE_CIDR)
				prefix_format(&r->cidr, false, remote);
			else if (r->remote_kind == POLICY_REMOTE_GROUP)
				snprintf(remote, sizeof(remote), "group:%s", r->group);
			if (!proto) {
				snprintf(pnum, sizeof(pnum), "%d", r->protocol);
				proto = pnum;
			}
			printf("%-16s %5zu %-8s %-6s %8u %-8s %-24s %s\n", doc->groups[g].name, i,
			       r->direction == POLICY_INGRESS ? "ingress" : "egress",
			       r->action == POLICY_DENY ? "deny" : "allow", r->priority, proto,
			       ports, remote);
		}
	printf("\n%-20s %-16s %-16s %s\n", "ENDPOINT", "NODE", "INTERFACE", "GROUPS");
	for (size_t e = 0; e < doc->n_endpoints; e++) {
		const struct policy_endpoint *ep = &doc->endpoints[e];
		char groups[256] = "";
		size_t n = 0;

		for (size_t g = 0; g < ep->n_groups && n < sizeof(groups) - 2; g++)
			n += (size_t)snprintf(groups + n, sizeof(groups) - n, "%s%s", g ? "," : "",
					      ep->groups[g]);
		printf("%-20s %-16s %-16s %s\n", ep->name, ep->node,
		       ep->interface ? ep->interface : ep->cgroup ? ep->cgroup : "-", groups);
	}
}

int ctl_print_policy_pb(const Iofence__V1__PolicyDocument *pb, uint64_t revision,
			const char *fmt)
{
	struct policy_errors errs = {0};
	struct policy_document *doc = NULL;
	int r = CTL_OK;

	if (!pb || policy_from_pb(pb, "<agent>", &doc, &errs)) {
		fprintf(stderr, "iofencectl get policy: the document does not validate\n");
		policy_errors_print(&errs, stderr);
		r = CTL_SYSTEM_ERROR;
		goto out;
	}
	doc->revision = revision;
	doc->has_revision = true;
	if (!strcmp(fmt, "table"))
		print_table(doc, revision);
	else if (policy_write(doc, !strcmp(fmt, "json") ? POLICY_FORMAT_JSON : POLICY_FORMAT_YAML,
			      stdout))
		r = CTL_SYSTEM_ERROR;
out:
	policy_errors_free(&errs);
	policy_document_free(doc);
	return r;
}

static int get_policy(const struct ctl_opts *o)
{
	Iofence__V1__GetPolicyRequest req = IOFENCE__V1__GET_POLICY_REQUEST__INIT;
	Iofence__V1__GetPolicyResponse *resp = NULL;
	const char *fmt = o->output ? o->output : "yaml";
	struct policy_errors errs = {0};
	struct policy_document *doc = NULL;
	struct rpc_result res;
	grpc_channel *ch;
	int r;

	if (strcmp(fmt, "table") && strcmp(fmt, "json") && strcmp(fmt, "yaml") &&
	    strcmp(fmt, "normalized")) {
		fprintf(stderr,
			"iofencectl get policy: -o: \"%s\" is not yaml, normalized, json or "
			"table\n",
			fmt);
		return CTL_USER_ERROR;
	}
	ch = ctl_connect(o, o->agents[0]);
	if (!ch)
		return CTL_USER_ERROR;
	req.revision = o->revision;
	r = rpc_unary(ch, RPC_METHOD_GET_POLICY, &req.base,
		      &iofence__v1__get_policy_response__descriptor, o->timeout_ms,
		      (ProtobufCMessage **)&resp, &res);
	grpc_channel_destroy(ch);
	r = ctl_report(o, o->agents[0], &res, r);
	rpc_result_free(&res);
	if (r)
		return r;
	if (!strcmp(fmt, "yaml") && resp->source && *resp->source) {
		/* the text the revision was applied from, as the user wrote it */
		fputs(resp->source, stdout);
		if (resp->source[strlen(resp->source) - 1] != '\n')
			putchar('\n');
		goto out;
	}
	if (!resp->document || policy_from_pb(resp->document, "<agent>", &doc, &errs)) {
		fprintf(stderr, "iofencectl get policy: the agent's document does not validate\n");
		policy_errors_print(&errs, stderr);
		r = CTL_SYSTEM_ERROR;
		goto out;
	}
	doc->revision = resp->revision;
	doc->has_revision = true;
	if (!strcmp(fmt, "yaml") && resp->source && *resp->source) {
		/* what the user wrote, comments and order kept */
		fputs(resp->source, stdout);
		if (resp->source[strlen(resp->source) - 1] != '\n')
			putchar('\n');
	} else if (!strcmp(fmt, "table"))
		print_table(doc, resp->revision);
	else if (policy_write(doc, !strcmp(fmt, "json") ? POLICY_FORMAT_JSON : POLICY_FORMAT_YAML,
			      stdout))
		r = CTL_SYSTEM_ERROR;
out:
	policy_errors_free(&errs);
	policy_document_free(doc);
	iofence__v1__get_policy_response__free_unpacked(resp, NULL);
	return r;
}

int cmd_get(int argc, char **argv)
{
	struct ctl_opts o;
	int r;

	r = ctl_parse(argc, argv, "get", &o);
	if (r >= 0)
		return r;
	if (o.positional && !strcmp(o.positional, "policy")) {
		r = o.etcd_endpoints ? cluster_get_policy(&o) : get_policy(&o);
	} else if (o.positional && !strcmp(o.positional, "endpoints")) {
		r = ctl_get_endpoints(&o);
	} else {
		fprintf(stderr, "iofencectl get: what? policy or endpoints (see iofencectl get --help)\n");
		r = CTL_USER_ERROR;
	}
	ctl_opts_free(&o);
	return r;
}
