// SPDX-License-Identifier: Apache-2.0
/*
 * iofencectl apply --dry-run -f FILE [--agent ADDR]...: for each agent, what the apply would
 * do without doing it: the agent's node (GetStatus), the objects that would change against
 * what it enforces (GetPolicy, policy/diff.h), and the image compiled here for that node
 * with the fill of each map; and the warnings (or the refusal) its Apply would give, from
 * ApplyDryRun. Nothing is sent that changes an agent.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "ctl.h"
#include "policy/diff.h"
#include "policy/image.h"
#include "policy/pb.h"

/* The node name an agent serves, or NULL (reason printed). */
static char *agent_node(const struct ctl_opts *o, const char *agent, int *ret_exit)
{
	Iofence__V1__GetStatusRequest req = IOFENCE__V1__GET_STATUS_REQUEST__INIT;
	Iofence__V1__GetStatusResponse *resp = NULL;
	struct rpc_result res = {0};
	grpc_channel *ch = ctl_connect(o, agent);
	char *node = NULL;
	int r;

	*ret_exit = CTL_USER_ERROR;
	if (!ch)
		return NULL;
	r = rpc_unary(ch, RPC_METHOD_GET_STATUS, &req.base,
		      &iofence__v1__get_status_response__descriptor, o->timeout_ms,
		      (ProtobufCMessage **)&resp, &res);
	grpc_channel_destroy(ch);
	*ret_exit = ctl_report(o, agent, &res, r);
	rpc_result_free(&res);
	if (!*ret_exit) {
		node = strdup(resp->node);
		*ret_exit = node ? CTL_OK : CTL_SYSTEM_ERROR;
	}
	if (resp)
		iofence__v1__get_status_response__free_unpacked(resp, NULL);
	return node;
}

struct dry_run {
	char *node;
	uint64_t enforced; /* revision, 0: none */
	struct policy_diff diff;
	struct policy_image *img;
	const char *result; /* would apply | unchanged | refused */
	char reason[512];
	char **warnings; /* what apply would print as warning lines */
	size_t n_warnings;
};

static void keep_warnings(struct dry_run *dr, const Iofence__V1__ApplyResponse *resp)
{
	dr->warnings = calloc(resp->n_warnings + 1, sizeof(*dr->warnings));
	for (size_t i = 0; dr->warnings && i < resp->n_warnings; i++)
		if ((dr->warnings[dr->n_warnings] = strdup(resp->warnings[i])))
			dr->n_warnings++;
}

/* What the agent's Apply would say about doc (ApplyDryRun): warnings, or a refusal. */
static int agent_verdict(const struct ctl_opts *o, const char *agent,
			 const struct policy_document *doc, struct dry_run *dr)
{
	Iofence__V1__ApplyRequest req = IOFENCE__V1__APPLY_REQUEST__INIT;
	Iofence__V1__ApplyResponse *resp = NULL;
	Iofence__V1__PolicyDocument *pb = NULL;
	struct rpc_result res = {0};
	grpc_channel *ch;
	int r;

	if (policy_to_pb(doc, &pb))
		return CTL_SYSTEM_ERROR;
	ch = ctl_connect(o, agent);
	if (!ch) {
		policy_pb_free(pb);
		return CTL_SYSTEM_ERROR;
	}
	req.document = pb;
	req.strict = o->strict;
	req.source_name = (char *)o->file;
	r = rpc_unary(ch, RPC_METHOD_APPLY_DRY_RUN, &req.base,
		      &iofence__v1__apply_response__descriptor, o->timeout_ms,
		      (ProtobufCMessage **)&resp, &res);
	grpc_channel_destroy(ch);
	policy_pb_free(pb);
	if (!r && res.status == GRPC_STATUS_FAILED_PRECONDITION) {
		dr->result = "refused";
		snprintf(dr->reason, sizeof(dr->reason), "%s", res.details ? res.details : "");
	} else if (!r && res.status == GRPC_STATUS_UNIMPLEMENTED) {
		fprintf(stderr, "iofencectl apply: %s: note: the agent predates ApplyDryRun: the "
				"warnings its apply would print are not shown\n", agent);
	} else {
		r = ctl_report(o, agent, &res, r);
		if (!r && resp)
			keep_warnings(dr, resp);
	}
	rpc_result_free(&res);
	if (resp)
		iofence__v1__apply_response__free_unpacked(resp, NULL);
	return r;
}

/* Fills dr for one agent; returns an exit code (0 also for a refusal: see dr->result). */
static int dry_run_one(const struct ctl_opts *o, const char *agent,
		       const struct policy_document *doc, struct dry_run *dr)
{
	Iofence__V1__GetPolicyResponse *resp = NULL;
	struct policy_document *enforced = NULL;
	int r;

	dr->node = agent_node(o, agent, &r);
	if (r)
		return r;
	r = ctl_fetch_policy(o, agent, 0, &enforced, &resp);
	if (r)
		return r;
	dr->enforced = resp ? resp->revision : 0;
	if (resp)
		iofence__v1__get_policy_response__free_unpacked(resp, NULL);
	r = policy_diff(enforced, doc, &dr->diff) ? CTL_SYSTEM_ERROR : CTL_OK;
	policy_document_free(enforced);
	if (!r)
		r = agent_verdict(o, agent, doc, dr);
	if (r || dr->result) /* an error, or the agent's refusal */
		return r;
	/* the agent's own decisions, in its order (engine.c) */
	if (enforced && !dr->diff.n && (!doc->has_revision || doc->revision <= dr->enforced)) {
		dr->result = "unchanged";
	} else if (doc->has_revision && doc->revision <= dr->enforced) {
		dr->result = "refused";
		snprintf(dr->reason, sizeof(dr->reason),
			 "revision %llu is not newer than the applied revision %llu",
			 (unsigned long long)doc->revision, (unsigned long long)dr->enforced);
	} else {
		int c = policy_compile(doc, dr->node, &dr->img, dr->reason, sizeof(dr->reason));

		dr->result = c ? "refused" : "would apply";
		if (c && c != -E2BIG)
			return CTL_SYSTEM_ERROR;
	}
	return CTL_OK;
}

static void print_json(const char *agent, const struct dry_run *dr, int e, bool first)
{
	struct ctl_map_fill fill[CTL_MAPS];

	printf("%s\n {\"agent\": ", first ? "" : ",");
	json_str(stdout, agent);
	printf(", \"ok\": %s", e ? "false" : "true");
	if (e) {
		printf("}");
		return;
	}
	printf(", \"node\": ");
	json_str(stdout, dr->node);
	printf(", \"enforced_revision\": %llu, \"result\": \"%s\", \"reason\": ",
	       (unsigned long long)dr->enforced, dr->result);
	json_str(stdout, dr->reason);
	printf(", \"warnings\": [");
	for (size_t i = 0; i < dr->n_warnings; i++) {
		printf("%s", i ? ", " : "");
		json_str(stdout, dr->warnings[i]);
	}
	printf("], \"diff\": ");
	policy_diff_write(&dr->diff, POLICY_FORMAT_JSON, stdout);
	printf(", \"fill\": [");
	if (dr->img) {
		ctl_map_fill(dr->img, fill);
		for (size_t i = 0; i < CTL_MAPS; i++)
			printf("%s{\"map\": \"%s\", \"entries\": %zu, \"capacity\": %u}",
			       i ? ", " : "", fill[i].map, fill[i].entries, fill[i].capacity);
	}
	printf("]}");
}

static void print_text(const char *agent, const struct dry_run *dr)
{
	printf("== %s: node %s, enforced revision %llu: %s%s%s\n", agent, dr->node,
	       (unsigned long long)dr->enforced, dr->result, *dr->reason ? ": " : "", dr->reason);
	if (!strcmp(dr->result, "unchanged"))
		return;
	policy_diff_write(&dr->diff, POLICY_FORMAT_YAML, stdout);
	if (dr->img)
		ctl_print_fill(dr->img, "  ");
}

int cmd_apply_dry_run(const struct ctl_opts *o, const struct policy_document *doc)
{
	bool json = o->output && !strcmp(o->output, "json");
	int worst = CTL_OK;

	if (json)
		printf("{\"dry_run\": true, \"agents\": [");
	for (size_t i = 0; i < o->n_agents; i++) {
		struct dry_run dr = {0};
		int e = dry_run_one(o, o->agents[i], doc, &dr);

		for (size_t w = 0; !e && w < dr.n_warnings; w++) /* as apply prints them */
			fprintf(stderr, "iofencectl apply: %s: warning: %s\n", o->agents[i],
				dr.warnings[w]);
		if (json)
			print_json(o->agents[i], &dr, e, i == 0);
		else if (!e)
			print_text(o->agents[i], &dr);
		if (!e && !strcmp(dr.result, "refused")) {
			e = CTL_USER_ERROR;
			fprintf(stderr, "iofencectl apply: %s: would be refused: %s\n", o->agents[i],
				dr.reason);
		}
		if (e > worst)
			worst = e;
		free(dr.node);
		for (size_t w = 0; w < dr.n_warnings; w++)
			free(dr.warnings[w]);
		free(dr.warnings);
		policy_diff_free(&dr.diff);
		policy_image_free(dr.img);
	}
	if (json)
		printf("\n]}\n");
	return worst;
}
