// SPDX-License-Identifier: Apache-2.0
/*
 * iofencectl rollout status [--wait] [--timeout S] [-o table|json] --etcd-endpoints URL:
 * every node seen in the datastore (the policy's endpoints and prefilters, and the status
 * keys) with its enforced revision against the policy revision: converged, pending, failed
 * (the agent's reason) or absent (no status key: its lease expired or it never started).
 * Exit: 0 every live node converged; 1 one failed; 2 pending (without --wait) or timeout.
 * --wait waits while every node is absent: agents just started may not have written their
 * status keys yet, and "converged" with none live would be a false success.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/etcd/cluster.h"
#include "client.h"
#include "ctl.h"

struct node_row {
	char *name;
	Iofence__V1__NodeStatus *st; /* NULL: absent */
	const char *state;
};

struct rollout {
	int64_t policy_rev;
	struct node_row *rows;
	size_t n;
	size_t converged, pending, failed, absent;
};

static void rollout_free(struct rollout *ro)
{
	for (size_t i = 0; i < ro->n; i++) {
		free(ro->rows[i].name);
		if (ro->rows[i].st)
			iofence__v1__node_status__free_unpacked(ro->rows[i].st, NULL);
	}
	free(ro->rows);
	memset(ro, 0, sizeof(*ro));
}

static struct node_row *row_of(struct rollout *ro, const char *name)
{
	struct node_row *n;

	for (size_t i = 0; i < ro->n; i++)
		if (!strcmp(ro->rows[i].name, name))
			return &ro->rows[i];
	n = realloc(ro->rows, (ro->n + 1) * sizeof(*n));
	if (!n)
		return NULL;
	ro->rows = n;
	n = &ro->rows[ro->n];
	memset(n, 0, sizeof(*n));
	n->name = strdup(name);
	if (!n->name)
		return NULL;
	ro->n++;
	return n;
}

/* The node of "endpoints/<node>/..." or "prefilter/<node>[#n]", unescaped, or "" */
static void node_of_key(const char *key, char *out, size_t len)
{
	const char *p = !strncmp(key, "endpoints/", 10)	  ? key + 10
			: !strncmp(key, "prefilter/", 10) ? key + 10
							  : NULL;
	size_t n = 0;

	for (; p && *p && *p != '/' && *p != '#' && n + 1 < len; p++) {
		unsigned ch;

		if (*p == '%' && sscanf(p + 1, "%2x", &ch) == 1) {
			out[n++] = (char)ch;
			p += 2;
		} else {
			out[n++] = *p;
		}
	}
	out[n] = 0;
}

static int cmp_row(const void *a, const void *b)
{
	return strcmp(((const struct node_row *)a)->name, ((const struct node_row *)b)->name);
}

/* One look at the datastore. 0 or a negative errno (err says). */
static int look(struct etcd *c, const char *prefix, struct rollout *ro, char *err, size_t len)
{
	Etcdserverpb__RangeResponse *hr = NULL, *gr = NULL, *sr = NULL;
	Iofence__V1__ClusterHead *head = NULL;
	Mvccpb__KeyValue *kv;
	char *hkey = cluster_key_head(prefix), *sdir = cluster_key_status_dir(prefix), *gdir = NULL;
	int64_t at;
	int r;

	memset(ro, 0, sizeof(*ro));
	if (!hkey || !sdir) {
		r = -ENOMEM;
		goto out;
	}
	r = etcd_get(c, hkey, 0, 5000, &hr, &kv, err, len);
	if (r)
		goto out;
	at = hr->header ? hr->header->revision : 0;
	if (kv) {
		ro->policy_rev = kv->mod_revision;
		head = iofence__v1__cluster_head__unpack(NULL, kv->value.len, kv->value.data);
	}
	if (head) {
		gdir = cluster_key_gen_dir(prefix, head->generation);
		r = gdir ? etcd_range_prefix(c, gdir, at, true, 10000, &gr, err, len) : -ENOMEM;
		if (r)
			goto out;
		for (size_t i = 0; i < gr->n_kvs; i++) {
			char key[1024], node[512];
			size_t klen = gr->kvs[i]->key.len;

			if (gr->kvs[i]->mod_revision > ro->policy_rev)
				ro->policy_rev = gr->kvs[i]->mod_revision;
			if (klen >= sizeof(key))
				continue;
			memcpy(key, gr->kvs[i]->key.data, klen);
			key[klen] = 0;
			node_of_key(key + strlen(gdir), node, sizeof(node));
			if (*node && !row_of(ro, node)) {
				r = -ENOMEM;
				goto out;
			}
		}
	}
	r = etcd_range_prefix(c, sdir, 0, false, 5000, &sr, err, len);
	if (r)
		goto out;
	for (size_t i = 0; i < sr->n_kvs; i++) {
		Iofence__V1__NodeStatus *ns = iofence__v1__node_status__unpack(
		    NULL, sr->kvs[i]->value.len, sr->kvs[i]->value.data);
		struct node_row *row;

		if (!ns)
			continue;
		row = row_of(ro, ns->node);
		if (!row) {
			iofence__v1__node_status__free_unpacked(ns, NULL);
			r = -ENOMEM;
			goto out;
		}
		if (row->st)
			iofence__v1__node_status__free_unpacked(row->st, NULL);
		row->st = ns;
	}
	for (size_t i = 0; i < ro->n; i++) {
		struct node_row *row = &ro->rows[i];

		if (!row->st) {
			row->state = "absent";
			ro->absent++;
		} else if ((int64_t)row->st->applied_revision >= ro->policy_rev) {
			row->state = "converged";
			ro->converged++;
		} else if ((int64_t)row->st->failed_revision >= ro->policy_rev &&
			   row->st->error && *row->st->error) {
			row->state = "failed";
			ro->failed++;
		} else {
			row->state = "pending";
			ro->pending++;
		}
	}
	if (ro->n)
		qsort(ro->rows, ro->n, sizeof(*ro->rows), cmp_row);
out:
	if (head)
		iofence__v1__cluster_head__free_unpacked(head, NULL);
	if (hr)
		etcdserverpb__range_response__free_unpacked(hr, NULL);
	if (gr)
		etcdserverpb__range_response__free_unpacked(gr, NULL);
	if (sr)
		etcdserverpb__range_response__free_unpacked(sr, NULL);
	free(hkey);
	free(sdir);
	free(gdir);
	return r;
}

static void print_table(const struct rollout *ro)
{
	printf("policy revision %lld: %zu converged, %zu pending, %zu failed, %zu absent\n\n",
	       (long long)ro->policy_rev, ro->converged, ro->pending, ro->failed, ro->absent);
	printf("%-20s %-10s %9s %-10s %s\n", "NODE", "STATE", "ENFORCED", "DATASTORE", "DETAIL");
	for (size_t i = 0; i < ro->n; i++) {
		const struct node_row *row = &ro->rows[i];
		const Iofence__V1__NodeStatus *st = row->st;
		char detail[600] = "";

		if (st && row->state[0] == 'f')
			snprintf(detail, sizeof(detail), "%s", st->error);
		else if (st && !st->connected && st->disconnected_since_unix)
			snprintf(detail, sizeof(detail), "disconnected since %llu",
				 (unsigned long long)st->disconnected_since_unix);
		if (st)
			printf("%-20s %-10s %9llu %-10s %s\n", row->name, row->state,
			       (unsigned long long)st->applied_revision,
			       st->connected ? "connected" : "offline", detail);
		else
			printf("%-20s %-10s %9s %-10s %s\n", row->name, row->state, "-", "-", "");
	}
}

static void print_json(const struct rollout *ro, bool done)
{
	printf("{\"revision\": %lld, \"converged\": %s, \"nodes\": [", (long long)ro->policy_rev,
	       done ? "true" : "false");
	for (size_t i = 0; i < ro->n; i++) {
		const struct node_row *row = &ro->rows[i];
		const Iofence__V1__NodeStatus *st = row->st;

		printf("%s\n  {\"node\": ", i ? "," : "");
		json_str(stdout, row->name);
		printf(", \"state\": \"%s\"", row->state);
		if (st) {
			printf(", \"applied_revision\": %llu, \"failed_revision\": %llu, "
			       "\"connected\": %s, \"delay_seconds\": %.6f, \"version\": ",
			       (unsigned long long)st->applied_revision,
			       (unsigned long long)st->failed_revision,
			       st->connected ? "true" : "false", st->last_delay_seconds);
			json_str(stdout, st->version);
			printf(", \"api\": ");
			json_str(stdout, st->api);
			printf(", \"error\": ");
			json_str(stdout, st->error);
		}
		printf("}");
	}
	printf("%s]}\n", ro->n ? "\n" : "");
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cmd_rollout(int argc, char **argv)
{
	struct rollout ro = {0};
	struct etcd *c = NULL;
	struct ctl_opts o;
	char err[512] = "";
	double deadline;
	int r;

	if (argc < 2 || strcmp(argv[1], "status")) {
		fprintf(stderr, "iofencectl rollout: status? (see iofencectl rollout --help)\n");
		return CTL_USER_ERROR;
	}
	r = ctl_parse(argc - 1, argv + 1, "rollout status", &o);
	if (r >= 0)
		return r;
	if (o.output && strcmp(o.output, "table") && strcmp(o.output, "json")) {
		fprintf(stderr, "iofencectl rollout: -o: \"%s\" is not table or json\n", o.output);
		r = CTL_USER_ERROR;
		goto out;
	}
	if (!o.etcd_endpoints) {
		fprintf(stderr, "iofencectl rollout: --etcd-endpoints (or IOFENCE_ETCD_ENDPOINTS) "
				"is required\n");
		r = CTL_USER_ERROR;
		goto out;
	}
	ctl_grpc_init();
	if (etcd_open(o.etcd_endpoints, &o.etcd_tls, &c, err, sizeof(err))) {
		fprintf(stderr, "iofencectl rollout: %s\n", err);
		r = CTL_USER_ERROR;
		goto out;
	}
	deadline = mono_s() + (o.timeout_set ? o.timeout_ms / 1000.0 : 300.0);
	for (;;) {
		bool done;

		rollout_free(&ro);
		r = look(c, o.etcd_prefix, &ro, err, sizeof(err));
		if (r && (!o.wait || mono_s() >= deadline)) {
			fprintf(stderr, "iofencectl rollout: %s\n", err);
			r = CTL_SYSTEM_ERROR;
			break;
		}
		/* with --wait, nodes the policy names that are all absent are not "every live
		 * node converged": their agents may not have written a status key yet */
		done = !r && !ro.pending && !ro.failed && (!o.wait || !ro.absent || ro.converged);
		if (!r && (!o.wait || done || ro.failed || mono_s() >= deadline)) {
			if (o.output && !strcmp(o.output, "json"))
				print_json(&ro, done);
			else
				print_table(&ro);
			r = ro.failed ? CTL_USER_ERROR : done ? CTL_OK : CTL_SYSTEM_ERROR;
			if (r == CTL_SYSTEM_ERROR && o.wait)
				fprintf(stderr,
					"iofencectl rollout: timed out: %zu node%s pending, %zu "
					"absent\n",
					ro.pending, ro.pending == 1 ? "" : "s", ro.absent);
			break;
		}
		usleep(100 * 1000);
	}
out:
	rollout_free(&ro);
	etcd_close(c);
	ctl_opts_free(&o);
	return r;
}
