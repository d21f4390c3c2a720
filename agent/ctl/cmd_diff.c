// SPDX-License-Identifier: Apache-2.0
/*
 * iofencectl diff -f FILE [--agent ADDR]...: the object-level difference (policy/diff.h)
 * between a file and what each agent enforces; exit 0 when every agent enforces the same
 * objects, 1 when one differs. Also the fetch of an agent's document the other revision
 * commands share.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "ctl.h"
#include "policy/diff.h"
#include "policy/pb.h"

int ctl_fetch_policy(const struct ctl_opts *o, const char *agent, uint64_t revision,
		     struct policy_document **ret_doc, Iofence__V1__GetPolicyResponse **ret_resp)
{
	Iofence__V1__GetPolicyRequest req = IOFENCE__V1__GET_POLICY_REQUEST__INIT;
	Iofence__V1__GetPolicyResponse *resp = NULL;
	struct policy_errors errs = {0};
	struct rpc_result res = {0};
	grpc_channel *ch = ctl_connect(o, agent);
	int r;

	*ret_doc = NULL;
	if (ret_resp)
		*ret_resp = NULL;
	if (!ch)
		return CTL_USER_ERROR;
	req.revision = revision;
	r = rpc_unary(ch, RPC_METHOD_GET_POLICY, &req.base,
		      &iofence__v1__get_policy_response__descriptor, o->timeout_ms,
		      (ProtobufCMessage **)&resp, &res);
	grpc_channel_destroy(ch);
	if (!r && !revision && res.status == GRPC_STATUS_NOT_FOUND) {
		rpc_result_free(&res); /* nothing applied yet: everything is new */
		return CTL_OK;
	}
	r = ctl_report(o, agent, &res, r);
	rpc_result_free(&res);
	if (r)
		return r;
	if (!resp->document || policy_from_pb(resp->document, "<agent>", ret_doc, &errs)) {
		fprintf(stderr, "iofencectl %s: %s: the agent's document does not validate\n",
			o->cmd, agent);
		policy_errors_print(&errs, stderr);
		r = CTL_SYSTEM_ERROR;
	}
	policy_errors_free(&errs);
	if (ret_resp && !r)
		*ret_resp = resp;
	else
		iofence__v1__get_policy_response__free_unpacked(resp, NULL);
	return r;
}

int cmd_diff(int argc, char **argv)
{
	struct policy_document *doc = NULL;
	struct ctl_opts o;
	bool json;
	int r, worst = CTL_OK;

	r = ctl_parse(argc, argv, "diff", &o);
	if (r >= 0)
		return r;
	json = o.output && !strcmp(o.output, "json");
	if (!o.file || (o.output && !json && strcmp(o.output, "table"))) {
		fprintf(stderr, "iofencectl diff: %s (see iofencectl diff --help)\n",
			o.file ? "-o is table or json" : "-f FILE is required");
		ctl_opts_free(&o);
		return CTL_USER_ERROR;
	}
	r = ctl_load_policy(o.file, &doc);
	if (!r && o.etcd_endpoints) {
		r = cluster_diff_doc(&o, doc);
		policy_document_free(doc);
		ctl_opts_free(&o);
		return r;
	}
	if (json && !r)
		printf("{\"agents\": [");
	for (size_t i = 0; !r && i < o.n_agents; i++) {
		Iofence__V1__GetPolicyResponse *resp = NULL;
		struct policy_document *enforced = NULL;
		struct policy_diff d = {0};
		int e = ctl_fetch_policy(&o, o.agents[i], 0, &enforced, &resp);

		if (!e && policy_diff(enforced, doc, &d))
			e = CTL_SYSTEM_ERROR;
		if (json) {
			printf("%s\n {\"agent\": ", i ? "," : "");
			json_str(stdout, o.agents[i]);
			printf(", \"ok\": %s, \"revision\": %llu", e ? "false" : "true",
			       resp ? (unsigned long long)resp->revision : 0ULL);
			if (!e) {
				printf(", \"diff\": ");
				policy_diff_write(&d, POLICY_FORMAT_JSON, stdout);
			}
			printf("}");
		} else if (!e) {
			if (o.n_agents > 1)
				printf("%s== %s (revision %llu)\n", i ? "\n" : "", o.agents[i],
				       resp ? (unsigned long long)resp->revision : 0ULL);
			policy_diff_write(&d, POLICY_FORMAT_YAML, stdout);
		}
		if (!e && d.n)
			e = CTL_USER_ERROR;
		if (e > worst)
			worst = e;
		policy_diff_free(&d);
		policy_document_free(enforced);
		if (resp)
			iofence__v1__get_policy_response__free_unpacked(resp, NULL);
	}
	if (json && !r)
		printf("\n]}\n");
	policy_document_free(doc);
	ctl_opts_free(&o);
	return r ? r : worst;
}
