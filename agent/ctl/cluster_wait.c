// SPDX-License-Identifier: Apache-2.0
/*
 * Cluster mode's "enforced" wait (cluster_wait.h): an orchestrator writes a workload's
 * endpoint, waits here, and only then brings the workload's link up, so no packet reaches it
 * before both hooks and the policy are live on its node. The status key says which revision a
 * node enforces (or refused) and where its agent listens; the agent's GetStatus says whether
 * the endpoint is attached and verified, as the single-node `endpoint wait` checks.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster_wait.h"
#include "ctl.h"

/* Between two looks; an endpoint start waits for its agent's apply, tens of ms. */
#define POLL_NS (10 * 1000000L)
/* Deadline of one call (etcd or agent) inside the wait: at most this, and never past the
 * wait's own end (--timeout), but at least CALL_MIN_MS so that a last look can complete. */
#define CALL_MS 2000
#define CALL_MIN_MS 100

/* What the wait knows of one target between looks. */
struct target_state {
	const struct cluster_wait_target *t;
	char *status_key;
	char *agent;	 /* the address the channel below talks to */
	grpc_channel *ch;
	bool enforced;
	int call_ms;	 /* deadline of this look's calls */
	char why[512];	 /* why it is not enforced yet, for the timeout message */
};

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The node's status key now, or NULL (absent, or etcd unreachable: why says). */
static Iofence__V1__NodeStatus *node_status(struct etcd *c, struct target_state *ts,
					    const char *prefix)
{
	Etcdserverpb__RangeResponse *rr = NULL;
	Iofence__V1__NodeStatus *st = NULL;
	Mvccpb__KeyValue *kv = NULL;
	char err[256] = "";

	if (etcd_get(c, ts->status_key, 0, ts->call_ms, &rr, &kv, err, sizeof(err))) {
		snprintf(ts->why, sizeof(ts->why), "etcd: %s", err);
		return NULL;
	}
	if (kv)
		st = iofence__v1__node_status__unpack(NULL, kv->value.len, kv->value.data);
	if (!st)
		snprintf(ts->why, sizeof(ts->why),
			 "node %s is absent: no status key %s/status/%s (its agent is not "
			 "running, or its lease expired)",
			 ts->t->node, prefix, ts->t->node);
	etcdserverpb__range_response__free_unpacked(rr, NULL);
	return st;
}

/* A channel to the agent the status key names (kept while the address stays). */
static grpc_channel *agent_channel(const struct ctl_opts *o, struct target_state *ts,
				   const Iofence__V1__NodeStatus *st)
{
	char *agent = cluster_status_agent(st), err[256];

	if (!agent) {
		snprintf(ts->why, sizeof(ts->why), "node %s reports no API address", ts->t->node);
		return NULL;
	}
	if (ts->ch && !strcmp(agent, ts->agent)) {
		free(agent);
		return ts->ch;
	}
	if (ts->ch)
		grpc_channel_destroy(ts->ch);
	free(ts->agent);
	ts->agent = agent;
	ts->ch = rpc_channel_open(agent, &o->tls, err, sizeof(err));
	if (!ts->ch)
		snprintf(ts->why, sizeof(ts->why), "agent %s of node %s: %s", agent, ts->t->node,
			 err);
	return ts->ch;
}

/* Whether the agent enforces REVISION or later with the endpoint attached and verified. */
static bool agent_enforces(struct target_state *ts, int64_t revision)
{
	Iofence__V1__GetStatusRequest req = IOFENCE__V1__GET_STATUS_REQUEST__INIT;
	Iofence__V1__GetStatusResponse *s = NULL;
	struct rpc_result res = {0};
	bool ok = false;
	int r = rpc_unary(ts->ch, RPC_METHOD_GET_STATUS, &req.base,
			  &iofence__v1__get_status_response__descriptor, ts->call_ms,
			  (ProtobufCMessage **)&s, &res);

	if (r || res.status != GRPC_STATUS_OK) {
		snprintf(ts->why, sizeof(ts->why), "agent %s of node %s: %s", ts->agent,
			 ts->t->node, r ? strerror(-r) : res.details ? res.details : "call failed");
		goto out;
	}
	if ((int64_t)s->revision < revision) {
		snprintf(ts->why, sizeof(ts->why), "agent %s enforces revision %llu, not yet %lld",
			 ts->agent, (unsigned long long)s->revision, (long long)revision);
		goto out;
	}
	snprintf(ts->why, sizeof(ts->why), "%s is not in revision %llu on node %s", ts->t->name,
		 (unsigned long long)s->revision, ts->t->node);
	for (size_t i = 0; i < s->n_endpoints; i++) {
		const Iofence__V1__EndpointStatus *e = s->endpoints[i];

		if (strcmp(e->name, ts->t->name))
			continue;
		ok = e->enforced;
		snprintf(ts->why, sizeof(ts->why), "%s on node %s: %s", e->name, ts->t->node,
			 *e->reason ? e->reason : "not enforced");
	}
out:
	if (s)
		iofence__v1__get_status_response__free_unpacked(s, NULL);
	rpc_result_free(&res);
	return ok;
}

/* One look at one target: 1 enforced, 0 not yet (why says), -1 its node refused REVISION. */
static int look(const struct ctl_opts *o, struct etcd *c, struct target_state *ts,
		int64_t revision)
{
	Iofence__V1__NodeStatus *st = node_status(c, ts, o->etcd_prefix);
	int r = 0;

	if (!st)
		return 0;
	if ((int64_t)st->applied_revision < revision) {
		if ((int64_t)st->failed_revision >= revision && st->error && *st->error) {
			const char *reason = st->error;
			char own[32];

			/* the agent's reason names the revision first: said once */
			snprintf(own, sizeof(own), "revision %llu: ",
				 (unsigned long long)st->failed_revision);
			if (!strncmp(reason, own, strlen(own)))
				reason += strlen(own);
			snprintf(ts->why, sizeof(ts->why), "node %s refused revision %llu: %s",
				 ts->t->node, (unsigned long long)st->failed_revision, reason);
			r = -1;
		} else {
			snprintf(ts->why, sizeof(ts->why),
				 "node %s enforces revision %llu, not yet %lld", ts->t->node,
				 (unsigned long long)st->applied_revision, (long long)revision);
		}
	} else if (agent_channel(o, ts, st)) {
		r = agent_enforces(ts, revision);
	}
	iofence__v1__node_status__free_unpacked(st, NULL);
	return r;
}

static int call_deadline_ms(double start, double timeout_s)
{
	double left_ms = (start + timeout_s - mono_s()) * 1000;

	return left_ms > CALL_MS ? CALL_MS : left_ms < CALL_MIN_MS ? CALL_MIN_MS : (int)left_ms;
}

int cluster_wait_enforced(const struct ctl_opts *o, struct etcd *c,
			  const struct cluster_wait_target *targets, size_t n, int64_t revision,
			  double timeout_s)
{
	struct target_state *ts = calloc(n ? n : 1, sizeof(*ts));
	bool json = o->output && !strcmp(o->output, "json");
	double start = mono_s();
	size_t left = n;
	int r = CTL_SYSTEM_ERROR;

	if (!ts)
		return CTL_SYSTEM_ERROR;
	for (size_t i = 0; i < n; i++) {
		ts[i].t = &targets[i];
		if (asprintf(&ts[i].status_key, "%s/status/%s", o->etcd_prefix, targets[i].node) <
		    0) {
			ts[i].status_key = NULL;
			goto out;
		}
	}
	ctl_grpc_init();
	for (;;) {
		for (size_t i = 0; i < n; i++) {
			int e;

			if (ts[i].enforced)
				continue;
			ts[i].call_ms = call_deadline_ms(start, timeout_s);
			e = look(o, c, &ts[i], revision);
			if (e < 0) {
				fprintf(stderr, "iofencectl %s: %s\n", o->cmd, ts[i].why);
				r = CTL_USER_ERROR;
				goto out;
			}
			if (!e)
				continue;
			ts[i].enforced = true;
			left--;
			if (!json)
				printf("%s/%s enforced (revision %lld or later, waited %.0f ms)\n",
				       targets[i].node, targets[i].name, (long long)revision,
				       (mono_s() - start) * 1000);
		}
		if (!left) {
			r = CTL_OK;
			break;
		}
		if (mono_s() - start >= timeout_s)
			break;
		nanosleep(&(struct timespec){.tv_nsec = POLL_NS}, NULL);
	}
	for (size_t i = 0; i < n; i++)
		if (!ts[i].enforced)
			fprintf(stderr, "iofencectl %s: %s/%s not enforced after %g s: %s\n", o->cmd,
				targets[i].node, targets[i].name, timeout_s, ts[i].why);
out:
	for (size_t i = 0; i < n; i++) {
		if (ts[i].ch)
			grpc_channel_destroy(ts[i].ch);
		free(ts[i].agent);
		free(ts[i].status_key);
	}
	free(ts);
	fflush(stdout);
	return r;
}

/* The one endpoint of the datastore's policy that WANT (NODE/NAME or NAME) names, into RET
 * (its strings malloc'ed); an exit code, the reason printed. */
static int find_endpoint(const struct ctl_opts *o, const struct cluster_state *st,
			 const char *want, struct cluster_wait_target *ret)
{
	const char *slash = strchr(want, '/');
	size_t found = 0, nlen = 0;
	char nodes[512] = "";

	for (size_t i = 0; i < st->objs.n; i++) {
		char *node = NULL, *name = NULL;
		bool match;

		if (cluster_key_endpoint_split(st->objs.v[i].key, &node, &name))
			continue;
		match = slash ? strlen(node) == (size_t)(slash - want) &&
				    !strncmp(want, node, strlen(node)) && !strcmp(slash + 1, name)
			      : !strcmp(want, name);
		if (match && nlen < sizeof(nodes))
			nlen += (size_t)snprintf(nodes + nlen, sizeof(nodes) - nlen, "%s%s",
						 found ? ", " : "", node);
		if (match && !found++) {
			ret->node = node;
			ret->name = name;
			continue;
		}
		free(node);
		free(name);
	}
	if (found == 1)
		return CTL_OK;
	if (!found)
		fprintf(stderr,
			"iofencectl %s: no endpoint %s in the datastore's policy (revision %lld)\n",
			o->cmd, want, (long long)st->policy_revision);
	else
		fprintf(stderr,
			"iofencectl %s: endpoint name %s is on %zu nodes (%s): name one as "
			"NODE/NAME\n",
			o->cmd, want, found, nodes);
	return CTL_USER_ERROR;
}

int cluster_endpoint_wait(const struct ctl_opts *o, double timeout_s)
{
	struct cluster_wait_target t = {0};
	struct cluster_state st = {0};
	struct etcd *c = NULL;
	char err[512] = "";
	int r;

	ctl_grpc_init();
	if (etcd_open(o->etcd_endpoints, &o->etcd_tls, &c, err, sizeof(err))) {
		fprintf(stderr, "iofencectl %s: %s\n", o->cmd, err);
		return CTL_SYSTEM_ERROR;
	}
	r = cluster_read(c, o->etcd_prefix, 0, &st, err, sizeof(err));
	if (r) {
		fprintf(stderr, "iofencectl %s: %s\n", o->cmd, err);
		r = CTL_SYSTEM_ERROR;
		goto out;
	}
	r = find_endpoint(o, &st, o->positional, &t);
	if (!r)
		r = cluster_wait_enforced(o, c, &t, 1, st.policy_revision, timeout_s);
out:
	free(t.node);
	free(t.name);
	cluster_state_free(&st);
	etcd_close(c);
	return r;
}
