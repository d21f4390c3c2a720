// SPDX-License-Identifier: Apache-2.0
/*
 * iofencectl apply -f FILE [--agent ADDR]...: validate locally, then push the document (as a
 * PolicyDocument message, the file's text attached for `get policy -o yaml`) to every agent
 * concurrently (one thread each), print a per-agent result table (or -o json) and exit
 * non-zero if any agent did not acknowledge.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "ctl.h"
#include "policy/pb.h"

struct apply_target {
	const struct ctl_opts *o;
	const char *agent;
	Iofence__V1__PolicyDocument *document;
	const char *source;
	pthread_t thread;
	struct rpc_result res;
	int local_err;
	bool connected;
	Iofence__V1__ApplyResponse *resp;
};

static void *apply_one(void *arg)
{
	struct apply_target *t = arg;
	Iofence__V1__ApplyRequest req = IOFENCE__V1__APPLY_REQUEST__INIT;
	char err[512];
	grpc_channel *ch = rpc_channel_open(t->agent, &t->o->tls, err, sizeof(err));

	if (!ch) {
		t->res.status = GRPC_STATUS_INVALID_ARGUMENT;
		t->res.details = strdup(err);
		return NULL;
	}
	t->connected = true;
	req.document = t->document;
	req.document_source = (char *)t->source;
	req.source_name = (char *)t->o->file;
	req.strict = t->o->strict;
	t->local_err =
	    rpc_unary(ch, RPC_METHOD_APPLY, &req.base, &iofence__v1__apply_response__descriptor,
		      t->o->timeout_ms, (ProtobufCMessage **)&t->resp, &t->res);
	grpc_channel_destroy(ch);
	return NULL;
}

static void print_errors(const struct apply_target *t)
{
	Iofence__V1__ValidationErrors *ve;

	if (!t->res.errors)
		return;
	ve = iofence__v1__validation_errors__unpack(NULL, t->res.errors_len, t->res.errors);
	if (!ve)
		return;
	for (size_t i = 0; i < ve->n_errors; i++)
		fprintf(stderr, "%s: %s:%u: %s: %s\n", t->agent, ve->errors[i]->file,
			ve->errors[i]->line, ve->errors[i]->field, ve->errors[i]->message);
	if (ve->more)
		fprintf(stderr, "%s: ... and %u more error%s\n", t->agent, ve->more,
			ve->more == 1 ? "" : "s");
	iofence__v1__validation_errors__free_unpacked(ve, NULL);
}

static const char *result_text(const struct apply_target *t)
{
	if (t->local_err)
		return t->local_err == -EPROTO ? "bad answer" : strerror(-t->local_err);
	if (t->res.status == GRPC_STATUS_OK)
		return t->resp->unchanged ? "unchanged" : "applied";
	return rpc_status_name(t->res.status);
}

static void print_json(const struct apply_target *ts, size_t n)
{
	printf("{\"results\": [");
	for (size_t i = 0; i < n; i++) {
		const struct apply_target *t = &ts[i];
		bool ok = !t->local_err && t->res.status == GRPC_STATUS_OK;

		printf("%s\n  {\"agent\": ", i ? "," : "");
		json_str(stdout, t->agent);
		printf(", \"ok\": %s, \"code\": \"%s\", \"result\": \"%s\"", ok ? "true" : "false",
		       t->local_err ? "INTERNAL" : rpc_status_name(t->res.status), result_text(t));
		if (ok) {
			printf(", \"node\": ");
			json_str(stdout, t->resp->node);
			printf(", \"revision\": %llu, \"endpoints\": %u, \"entries\": %llu, "
			       "\"compile_usec\": %llu, \"apply_usec\": %llu",
			       (unsigned long long)t->resp->revision, t->resp->endpoints,
			       (unsigned long long)t->resp->entries,
			       (unsigned long long)t->resp->compile_usec,
			       (unsigned long long)t->resp->apply_usec);
		} else {
			printf(", \"error\": ");
			json_str(stdout, t->local_err ? result_text(t) : t->res.details);
		}
		printf("}");
	}
	printf("\n]}\n");
}

static void print_table(const struct apply_target *ts, size_t n)
{
	printf("%-36s %-20s %-16s %9s %9s %9s %10s\n", "AGENT", "RESULT", "NODE", "REVISION",
	       "ENDPOINTS", "ENTRIES", "TIME");
	for (size_t i = 0; i < n; i++) {
		const struct apply_target *t = &ts[i];

		if (!t->local_err && t->res.status == GRPC_STATUS_OK && t->resp->unchanged)
			printf("%-36s %-20s %-16s %9llu %9u %9llu %10s\n", t->agent, "unchanged",
			       t->resp->node, (unsigned long long)t->resp->revision,
			       t->resp->endpoints, (unsigned long long)t->resp->entries, "-");
		else if (!t->local_err && t->res.status == GRPC_STATUS_OK)
			printf("%-36s %-20s %-16s %9llu %9u %9llu %8.1fms\n", t->agent, result_text(t),
			       t->resp->node, (unsigned long long)t->resp->revision,
			       t->resp->endpoints, (unsigned long long)t->resp->entries,
			       t->resp->apply_usec / 1e3);
		else
			printf("%-36s %-20s %s\n", t->agent, result_text(t),
			       t->local_err	? ""
			       : t->res.details ? t->res.details
						: "");
	}
}

int cmd_apply(int argc, char **argv)
{
	struct ctl_opts o;
	struct policy_document *doc = NULL;
	struct apply_target *ts = NULL;
	Iofence__V1__PolicyDocument *pb = NULL;
	char *source = NULL;
	int r, worst = CTL_OK;

	r = ctl_parse(argc, argv, "apply", &o);
	if (r >= 0)
		return r;
	if (!o.file) {
		fprintf(stderr, "iofencectl apply: -f FILE is required (see iofencectl apply --help)\n");
		r = CTL_USER_ERROR;
		goto out;
	}
	if (o.output && strcmp(o.output, "table") && strcmp(o.output, "json")) {
		fprintf(stderr, "iofencectl apply: -o: \"%s\" is not table or json\n", o.output);
		r = CTL_USER_ERROR;
		goto out;
	}
	if (o.etcd_endpoints && !o.dry_run) {
		r = cluster_apply(&o);
		goto out;
	}
	r = ctl_load_policy(o.file, &doc);
	if (r)
		goto out;
	if (o.dry_run && o.etcd_endpoints) {
		/* what the write would change, object by object; nothing written */
		r = cluster_diff_doc(&o, doc);
		r = r == CTL_USER_ERROR ? CTL_OK : r;
		goto out;
	}
	if (o.dry_run) {
		r = cmd_apply_dry_run(&o, doc);
		goto out;
	}
	source = ctl_read_input(o.file);
	if (!source) {
		fprintf(stderr, "iofencectl apply: %s: %s\n", o.file, strerror(errno));
		r = CTL_USER_ERROR;
		goto out;
	}
	ts = calloc(o.n_agents, sizeof(*ts));
	if (!ts || policy_to_pb(doc, &pb)) {
		r = CTL_SYSTEM_ERROR;
		goto out;
	}
	ctl_grpc_init();
	for (size_t i = 0; i < o.n_agents; i++) {
		ts[i].o = &o;
		ts[i].agent = o.agents[i];
		ts[i].document = pb;
		ts[i].source = source;
		if (pthread_create(&ts[i].thread, NULL, apply_one, &ts[i])) {
			ts[i].local_err = -EAGAIN;
			ts[i].thread = 0;
		}
	}
	for (size_t i = 0; i < o.n_agents; i++)
		if (ts[i].thread)
			pthread_join(ts[i].thread, NULL);
	if (o.output && !strcmp(o.output, "json"))
		print_json(ts, o.n_agents);
	else
		print_table(ts, o.n_agents);
	for (size_t i = 0; i < o.n_agents; i++) {
		int e = ts[i].local_err	   ? CTL_SYSTEM_ERROR
			: !ts[i].connected ? CTL_USER_ERROR
					   : ctl_exit_for(ts[i].res.status);

		if (e)
			fprintf(stderr, "iofencectl apply: %s: %s%s%s\n", ts[i].agent,
				result_text(&ts[i]), ts[i].res.details ? ": " : "",
				ts[i].res.details ? ts[i].res.details : "");
		print_errors(&ts[i]);
		for (size_t w = 0; ts[i].resp && w < ts[i].resp->n_warnings; w++)
			fprintf(stderr, "iofencectl apply: %s: warning: %s\n", ts[i].agent,
				ts[i].resp->warnings[w]);
		if (e > worst)
			worst = e;
		if (ts[i].resp)
			iofence__v1__apply_response__free_unpacked(ts[i].resp, NULL);
		rpc_result_free(&ts[i].res);
	}
	r = worst;
out:
	free(ts);
	policy_pb_free(pb);
	free(source);
	policy_document_free(doc);
	ctl_opts_free(&o);
	return r;
}
