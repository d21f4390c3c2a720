// SPDX-License-Identifier: Apache-2.0
/*
 * iofencectl history [--agent ADDR]...: the revisions each agent keeps in its store (time,
 * size, source, which one is enforced); iofencectl rollback --to N [--agent ADDR]...:
 * enforce kept revision N again as a new revision, so the history keeps growing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "ctl.h"
#include "policy/pb.h"

static Iofence__V1__GetPolicyResponse *fetch_history(const struct ctl_opts *o, const char *agent,
						     int *ret_exit)
{
	Iofence__V1__GetPolicyRequest req = IOFENCE__V1__GET_POLICY_REQUEST__INIT;
	Iofence__V1__GetPolicyResponse *resp = NULL;
	struct rpc_result res = {0};
	grpc_channel *ch = ctl_connect(o, agent);
	int r;

	*ret_exit = CTL_USER_ERROR;
	if (!ch)
		return NULL;
	req.history = true;
	r = rpc_unary(ch, RPC_METHOD_GET_POLICY, &req.base,
		      &iofence__v1__get_policy_response__descriptor, o->timeout_ms,
		      (ProtobufCMessage **)&resp, &res);
	grpc_channel_destroy(ch);
	*ret_exit = ctl_report(o, agent, &res, r);
	rpc_result_free(&res);
	return *ret_exit ? NULL : resp;
}

static void utc(uint64_t unix_time, char *buf, size_t len)
{
	time_t t = (time_t)unix_time;
	struct tm tm;

	if (!unix_time || !gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "-");
}

static void print_history(const char *agent, const Iofence__V1__GetPolicyResponse *h, bool json,
			  bool first)
{
	char when[32];

	if (json) {
		printf("%s\n {\"agent\": ", first ? "" : ",");
		json_str(stdout, agent);
		printf(", \"revision\": %llu, \"history\": [", (unsigned long long)h->revision);
		for (size_t i = 0; i < h->n_history; i++) {
			const Iofence__V1__StoredRevision *s = h->history[i];

			utc(s->committed_at_unix, when, sizeof(when));
			printf("%s\n  {\"revision\": %llu, \"committed_at\": \"%s\", "
			       "\"committed_at_unix\": %llu, \"size\": %llu, \"source\": ",
			       i ? "," : "", (unsigned long long)s->revision, when,
			       (unsigned long long)s->committed_at_unix, (unsigned long long)s->size);
			json_str(stdout, s->source_name);
			printf(", \"enforced\": %s}", s->enforced ? "true" : "false");
		}
		printf("%s]}", h->n_history ? "\n " : "");
		return;
	}
	printf("%s== %s (enforced revision %llu)\n", first ? "" : "\n", agent,
	       (unsigned long long)h->revision);
	printf("  %9s  %-20s %10s  %s\n", "REVISION", "COMMITTED (UTC)", "SIZE", "SOURCE");
	for (size_t i = 0; i < h->n_history; i++) {
		const Iofence__V1__StoredRevision *s = h->history[i];

		utc(s->committed_at_unix, when, sizeof(when));
		printf("%c %9llu  %-20s %10llu  %s\n", s->enforced ? '*' : ' ',
		       (unsigned long long)s->revision, when, (unsigned long long)s->size,
		       *s->source_name ? s->source_name : "-");
	}
	if (!h->n_history)
		printf("  (no revision stored)\n");
}

int cmd_history(int argc, char **argv)
{
	struct ctl_opts o;
	bool json;
	int r, worst = CTL_OK;

	r = ctl_parse(argc, argv, "history", &o);
	if (r >= 0)
		return r;
	json = o.output && !strcmp(o.output, "json");
	if (o.output && !json && strcmp(o.output, "table")) {
		fprintf(stderr, "iofencectl history: -o: \"%s\" is not table or json\n", o.output);
		ctl_opts_free(&o);
		return CTL_USER_ERROR;
	}
	if (json)
		printf("{\"agents\": [");
	for (size_t i = 0, shown = 0; i < o.n_agents; i++) {
		Iofence__V1__GetPolicyResponse *h = fetch_history(&o, o.agents[i], &r);

		if (h) {
			print_history(o.agents[i], h, json, shown++ == 0);
			iofence__v1__get_policy_response__free_unpacked(h, NULL);
		}
		if (r > worst)
			worst = r;
	}
	if (json)
		printf("\n]}\n");
	ctl_opts_free(&o);
	return worst;
}

/* Whether @agent keeps revision @rev; else the kept ones ("3, 4, 5") in buf. Exit code. */
static int check_kept(const struct ctl_opts *o, const char *agent, uint64_t rev, char *buf,
		      size_t len)
{
	int e;
	Iofence__V1__GetPolicyResponse *h = fetch_history(o, agent, &e);
	bool kept = false;
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; h && i < h->n_history; i++) {
		uint64_t r = h->history[h->n_history - 1 - i]->revision;

		kept |= r == rev;
		if (n + 24 < len)
			n += (size_t)snprintf(buf + n, len - n, "%s%llu", i ? ", " : "",
					      (unsigned long long)r);
	}
	if (h)
		iofence__v1__get_policy_response__free_unpacked(h, NULL);
	if (e)
		return e;
	if (!kept)
		fprintf(stderr,
			"iofencectl rollback: %s: revision %llu is not stored (never applied, or "
			"pruned); kept: %s\n",
			agent, (unsigned long long)rev, *buf ? buf : "none");
	return kept ? CTL_OK : CTL_USER_ERROR;
}

/* Re-applies revision o->revision on one agent; prints one result line. Returns an exit code. */
static int rollback_one(const struct ctl_opts *o, const char *agent)
{
	Iofence__V1__ApplyRequest req = IOFENCE__V1__APPLY_REQUEST__INIT;
	Iofence__V1__GetPolicyResponse *old = NULL;
	Iofence__V1__ApplyResponse *resp = NULL;
	struct policy_document *doc = NULL;
	struct rpc_result res = {0};
	grpc_channel *ch;
	char kept[256], name[64];
	int r;

	r = check_kept(o, agent, o->revision, kept, sizeof(kept));
	if (!r)
		r = ctl_fetch_policy(o, agent, o->revision, &doc, &old);
	policy_document_free(doc);
	if (r)
		return r;
	ch = ctl_connect(o, agent);
	if (!ch) {
		iofence__v1__get_policy_response__free_unpacked(old, NULL);
		return CTL_USER_ERROR;
	}
	/* a new revision: the agent numbers it after its latest */
	old->document->revision = 0;
	old->document->has_revision = false;
	snprintf(name, sizeof(name), "rollback to %llu", (unsigned long long)o->revision);
	req.document = old->document;
	req.source_name = name;
	r = rpc_unary(ch, RPC_METHOD_APPLY, &req.base, &iofence__v1__apply_response__descriptor,
		      o->timeout_ms, (ProtobufCMessage **)&resp, &res);
	grpc_channel_destroy(ch);
	r = ctl_report(o, agent, &res, r);
	if (!r && resp->unchanged)
		printf("%-36s unchanged: revision %llu already enforces revision %llu's document\n",
		       agent, (unsigned long long)resp->revision, (unsigned long long)o->revision);
	else if (!r)
		printf("%-36s rolled back: revision %llu (a copy of revision %llu) enforced on "
		       "node %s\n",
		       agent, (unsigned long long)resp->revision, (unsigned long long)o->revision,
		       resp->node);
	rpc_result_free(&res);
	if (resp)
		iofence__v1__apply_response__free_unpacked(resp, NULL);
	iofence__v1__get_policy_response__free_unpacked(old, NULL);
	return r;
}

int cmd_rollback(int argc, char **argv)
{
	struct ctl_opts o;
	int r, worst = CTL_OK;

	r = ctl_parse(argc, argv, "rollback", &o);
	if (r >= 0)
		return r;
	if (!o.revision) {
		fprintf(stderr, "iofencectl rollback: --to N is required (see iofencectl rollback --help)\n");
		ctl_opts_free(&o);
		return CTL_USER_ERROR;
	}
	for (size_t i = 0; i < o.n_agents; i++) {
		r = rollback_one(&o, o.agents[i]);
		if (r > worst)
			worst = r;
	}
	ctl_opts_free(&o);
	return worst;
}
