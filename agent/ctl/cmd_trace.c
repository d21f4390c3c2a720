// SPDX-License-Identifier: Apache-2.0
/*
 * iofencectl trace --from ADDR|ENDPOINT --to ADDR|ENDPOINT --proto P [--port N] [--agent ...]:
 * why a new flow gets its verdict under each agent's enforced revision: per endpoint check,
 * the verdict, the deciding rule or default, every matching rule and why it lost, the
 * datapath's own answer and the live conntrack entries (Trace RPC). A datapath answer that
 * differs from the reference evaluator's is printed loudly and exits 2: it is a bug.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "ctl.h"

static void print_side(const Iofence__V1__TraceSide *s)
{
	printf("  %s of %s (node %s, remote %s): %s%s by %s\n", s->direction, s->endpoint, s->node,
	       s->remote, s->verdict, s->audit && !strcmp(s->verdict, "deny")
					  ? " (audit mode: passes, counted as would-drop)"
					  : "",
	       s->decided_by);
	for (size_t i = 0; i < s->n_matches; i++) {
		const Iofence__V1__TraceMatch *m = s->matches[i];

		printf("    %-8s %-24s %-5s priority %-5u %s\n", m->decides ? "decides" : "lost",
		       m->rule, m->action, m->priority, m->decides ? "" : m->lost_because);
	}
	if (!s->n_matches)
		printf("    no rule matches: the endpoint's %s default decides\n", s->direction);
	if (!s->local) {
		printf("    datapath: not this agent's node (ask node %s's agent)\n", s->node);
		return;
	}
	printf("    datapath: %s by %s%s%s\n", s->datapath_verdict, s->datapath_decided_by,
	       *s->datapath_note ? "; " : "", s->datapath_note);
	if (s->disagree)
		printf("    !!! DISAGREEMENT: the reference evaluator says %s by %s, the datapath "
		       "says %s by %s.\n    !!! This is a bug in iofence: please report this trace.\n",
		       s->verdict, s->decided_by, s->datapath_verdict, s->datapath_decided_by);
	if (s->conntrack_entries)
		printf("    conntrack: %u live connection%s of this flow; the latest: %s\n",
		       s->conntrack_entries, s->conntrack_entries == 1 ? "" : "s", s->conntrack);
	else if (s->attached)
		printf("    conntrack: no live connection of this flow: a new one is judged by the "
		       "rules\n");
}

static void print_json(const char *agent, const Iofence__V1__TraceResponse *r, bool first)
{
	printf("%s\n {\"agent\": ", first ? "" : ",");
	json_str(stdout, agent);
	printf(", \"node\": ");
	json_str(stdout, r->node);
	printf(", \"revision\": %llu, \"from\": \"%s\", \"to\": \"%s\", \"verdict\": \"%s\", "
	       "\"sides\": [",
	       (unsigned long long)r->revision, r->from, r->to, r->verdict);
	for (size_t i = 0; i < r->n_sides; i++) {
		const Iofence__V1__TraceSide *s = r->sides[i];

		printf("%s\n  {\"endpoint\": ", i ? "," : "");
		json_str(stdout, s->endpoint);
		printf(", \"node\": ");
		json_str(stdout, s->node);
		printf(", \"direction\": \"%s\", \"remote\": \"%s\", \"verdict\": \"%s\", "
		       "\"audit\": %s, \"decided_by\": ",
		       s->direction, s->remote, s->verdict, s->audit ? "true" : "false");
		json_str(stdout, s->decided_by);
		printf(", \"matches\": [");
		for (size_t m = 0; m < s->n_matches; m++) {
			const Iofence__V1__TraceMatch *x = s->matches[m];

			printf("%s{\"rule\": ", m ? ", " : "");
			json_str(stdout, x->rule);
			printf(", \"group\": ");
			json_str(stdout, x->group);
			printf(", \"index\": %u, \"action\": \"%s\", \"priority\": %u, \"summary\": ",
			       x->index, x->action, x->priority);
			json_str(stdout, x->summary);
			printf(", \"decides\": %s, \"lost_because\": ", x->decides ? "true" : "false");
			json_str(stdout, x->lost_because);
			printf("}");
		}
		printf("], \"local\": %s", s->local ? "true" : "false");
		if (s->local) {
			printf(", \"datapath\": {\"verdict\": \"%s\", \"decided_by\": ",
			       s->datapath_verdict);
			json_str(stdout, s->datapath_decided_by);
			printf(", \"disagree\": %s, \"attached\": %s, \"note\": ",
			       s->disagree ? "true" : "false", s->attached ? "true" : "false");
			json_str(stdout, s->datapath_note);
			printf(", \"conntrack_entries\": %u, \"conntrack_decides\": %s, "
			       "\"conntrack\": ",
			       s->conntrack_entries, s->conntrack_decides ? "true" : "false");
			json_str(stdout, s->conntrack);
			printf("}");
		}
		printf("}");
	}
	printf("\n ]}");
}

int cmd_trace(int argc, char **argv)
{
	Iofence__V1__TraceRequest req = IOFENCE__V1__TRACE_REQUEST__INIT;
	struct ctl_opts o;
	bool json;
	int r, worst = CTL_OK;

	r = ctl_parse(argc, argv, "trace", &o);
	if (r >= 0)
		return r;
	json = o.output && !strcmp(o.output, "json");
	if (!o.from || !o.to || (o.output && !json && strcmp(o.output, "table"))) {
		fprintf(stderr, "iofencectl trace: %s (see iofencectl trace --help)\n",
			!o.from || !o.to ? "--from and --to are required" : "-o is table or json");
		ctl_opts_free(&o);
		return CTL_USER_ERROR;
	}
	req.from = (char *)o.from;
	req.to = (char *)o.to;
	req.protocol = (char *)(o.proto ? o.proto : "tcp");
	req.port = o.port;
	if (json)
		printf("{\"traces\": [");
	for (size_t i = 0, shown = 0; i < o.n_agents; i++) {
		Iofence__V1__TraceResponse *resp = NULL;
		struct rpc_result res = {0};
		grpc_channel *ch = ctl_connect(&o, o.agents[i]);

		r = CTL_USER_ERROR;
		if (ch) {
			r = rpc_unary(ch, RPC_METHOD_TRACE, &req.base,
				      &iofence__v1__trace_response__descriptor, o.timeout_ms,
				      (ProtobufCMessage **)&resp, &res);
			grpc_channel_destroy(ch);
			r = ctl_report(&o, o.agents[i], &res, r);
			rpc_result_free(&res);
		}
		if (!r && json) {
			print_json(o.agents[i], resp, shown++ == 0);
		} else if (!r) {
			char port[16] = "";

			if (o.port)
				snprintf(port, sizeof(port), " port %u", o.port);
			printf("%s%s %s -> %s%s under revision %llu (agent %s, node %s): %s\n",
			       shown++ ? "\n" : "", req.protocol, resp->from, resp->to, port,
			       (unsigned long long)resp->revision, o.agents[i], resp->node,
			       resp->verdict);
			for (size_t s = 0; s < resp->n_sides; s++)
				print_side(resp->sides[s]);
		}
		for (size_t s = 0; !r && s < resp->n_sides; s++)
			if (resp->sides[s]->disagree) {
				fprintf(stderr,
					"iofencectl trace: %s: the datapath disagrees with the "
					"reference evaluator at %s of %s: a bug, please report it\n",
					o.agents[i], resp->sides[s]->direction,
					resp->sides[s]->endpoint);
				r = CTL_SYSTEM_ERROR;
			}
		if (resp)
			iofence__v1__trace_response__free_unpacked(resp, NULL);
		if (r > worst)
			worst = r;
	}
	if (json)
		printf("\n]}\n");
	ctl_opts_free(&o);
	return worst;
}
