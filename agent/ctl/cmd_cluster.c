// SPDX-License-Identifier: Apache-2.0
/*
 * iofencectl on the datastore (cluster mode, docs/CLUSTER.md): apply, diff and get policy
 * with --etcd-endpoints, endpoint put|delete (rollout status: cmd_rollout.c); endpoint put
 * --enforced waits for the endpoints' nodes (cluster_wait.c).
 * Exit codes as everywhere: 0 ok, 1 user error (bad input, refused, concurrent writer),
 * 2 system error (etcd unreachable).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/etcd/cluster.h"
#include "client.h"
#include "cluster_wait.h"
#include "ctl.h"
#include "policy/diff.h"
#include "policy/parse.h"
#include "policy/pb.h"

static struct etcd *open_etcd(const struct ctl_opts *o)
{
	struct etcd *c = NULL;
	char err[512];

	if (!o->etcd_endpoints) {
		fprintf(stderr,
			"iofencectl %s: --etcd-endpoints (or IOFENCE_ETCD_ENDPOINTS) is required\n",
			o->cmd);
		return NULL;
	}
	ctl_grpc_init();
	if (etcd_open(o->etcd_endpoints, &o->etcd_tls, &c, err, sizeof(err))) {
		fprintf(stderr, "iofencectl %s: %s\n", o->cmd, err);
		return NULL;
	}
	return c;
}

/* Exit code and message for an etcd failure. */
static int etcd_fail(const struct ctl_opts *o, int r, const char *err)
{
	fprintf(stderr, "iofencectl %s: %s\n", o->cmd,
		r == -EAGAIN ? err : r == -ENOMEM ? "out of memory" : err);
	return r == -ENOENT || r == -ESTALE ? CTL_USER_ERROR : CTL_SYSTEM_ERROR;
}

static char *writer_name(const char *what, const char *file)
{
	char host[128] = "?", *s;

	gethostname(host, sizeof(host) - 1);
	if (asprintf(&s, "iofencectl %s %s@%s", what, file ? file : "", host) < 0)
		return NULL;
	return s;
}

/* The objects of FILE (validated first: errors printed, exit code returned). */
static int objs_of_file(const struct ctl_opts *o, struct cluster_objs *want, bool warn_rev)
{
	struct policy_document *doc = NULL;
	Iofence__V1__PolicyDocument *pb = NULL;
	int r = ctl_load_policy(o->file, &doc);

	if (r)
		return r;
	if (warn_rev && doc->has_revision)
		fprintf(stderr,
			"iofencectl %s: warning: %s: revision %llu ignored: the datastore numbers "
			"revisions in cluster mode\n",
			o->cmd, o->file, (unsigned long long)doc->revision);
	if (policy_to_pb(doc, &pb) || cluster_objs_from_pb(pb, want))
		r = CTL_SYSTEM_ERROR;
	policy_pb_free(pb);
	policy_document_free(doc);
	return r;
}

/* Validates the document OBJS make, printing the errors. */
static int validate_objs(const struct ctl_opts *o, const struct cluster_objs *objs,
			 const char *name)
{
	Iofence__V1__PolicyDocument *pb = NULL;
	struct policy_errors errs = {0};
	struct policy_document *doc = NULL;
	char err[512];
	int r = cluster_pb_from_objs(objs, &pb, err, sizeof(err));

	if (r) {
		fprintf(stderr, "iofencectl %s: the datastore's policy: %s\n", o->cmd, err);
		return CTL_SYSTEM_ERROR;
	}
	r = policy_from_pb(pb, name, &doc, &errs);
	if (r) {
		policy_errors_print(&errs, stderr);
		r = r == -EINVAL ? CTL_USER_ERROR : CTL_SYSTEM_ERROR;
	}
	policy_errors_free(&errs);
	policy_document_free(doc);
	iofence__v1__policy_document__free_unpacked(pb, NULL);
	return r;
}

/* Writes WANT over ST and reports; shared by apply and endpoint put|delete. The policy
 * revision that holds WANT (written now, or ST's when unchanged) into *ret_revision. */
static int write_and_report(const struct ctl_opts *o, struct etcd *c,
			    const struct cluster_state *st, const struct cluster_objs *want,
			    const char *what, int64_t *ret_revision)
{
	struct cluster_write_result res;
	char err[512] = "", *writer = writer_name(what, o->file);
	bool json = o->output && !strcmp(o->output, "json");
	int r = cluster_write(c, o->etcd_prefix, st, want, writer, &res, err, sizeof(err));

	free(writer);
	*ret_revision = r == 1 ? st->policy_revision : res.revision;
	if (r == 1) {
		if (json)
			printf("{\"changed\": false, \"revision\": %lld}\n",
			       (long long)st->policy_revision);
		else
			printf("unchanged\n");
		return CTL_OK;
	}
	if (r == -ESTALE) {
		fprintf(stderr, "iofencectl %s: changed since read, nothing written\n", o->cmd);
		return CTL_USER_ERROR;
	}
	if (r)
		return etcd_fail(o, r, err);
	if (json)
		printf("{\"changed\": true, \"revision\": %lld, \"puts\": %zu, \"deletes\": %zu, "
		       "\"transactions\": %zu, \"new_generation\": %s}\n",
		       (long long)res.revision, res.puts, res.deletes, res.txns,
		       res.new_generation ? "true" : "false");
	else
		printf("revision %lld written: %zu object%s put, %zu deleted (%zu transaction%s%s)\n",
		       (long long)res.revision, res.puts, res.puts == 1 ? "" : "s", res.deletes,
		       res.txns, res.txns == 1 ? "" : "s",
		       res.new_generation ? ", new generation" : "");
	return CTL_OK;
}

int cluster_apply(const struct ctl_opts *o)
{
	struct cluster_objs want = {0};
	struct cluster_state st = {0};
	struct etcd *c = NULL;
	char err[512] = "";
	int r = objs_of_file(o, &want, true);

	if (r)
		goto out;
	c = open_etcd(o);
	if (!c) {
		r = CTL_SYSTEM_ERROR;
		goto out;
	}
	r = cluster_read(c, o->etcd_prefix, 0, &st, err, sizeof(err));
	if (r) {
		r = etcd_fail(o, r, err);
		goto out;
	}
	/* test aid: widen the window between the read and the guarded write */
	if (getenv("IOFENCE_TEST_WRITE_DELAY_MS"))
		usleep((useconds_t)atoi(getenv("IOFENCE_TEST_WRITE_DELAY_MS")) * 1000);
	r = write_and_report(o, c, &st, &want, "apply", &(int64_t){0});
out:
	cluster_state_free(&st);
	cluster_objs_free(&want);
	etcd_close(c);
	return r;
}

int cluster_get_policy(const struct ctl_opts *o)
{
	const char *fmt = o->output ? o->output : "yaml";
	Iofence__V1__PolicyDocument *pb = NULL;
	struct cluster_state st = {0};
	struct etcd *c;
	char err[512] = "";
	int r;

	if (strcmp(fmt, "table") && strcmp(fmt, "json") && strcmp(fmt, "yaml") &&
	    strcmp(fmt, "normalized")) {
		fprintf(stderr,
			"iofencectl get policy: -o: \"%s\" is not yaml, normalized, json or table\n",
			fmt);
		return CTL_USER_ERROR;
	}
	c = open_etcd(o);
	if (!c)
		return CTL_SYSTEM_ERROR;
	r = cluster_read(c, o->etcd_prefix, (int64_t)o->revision, &st, err, sizeof(err));
	if (r == -ENOENT)
		fprintf(stderr, "iofencectl get: revision %llu is not in the datastore (%s)\n",
			(unsigned long long)o->revision, err);
	if (r) {
		r = r == -ENOENT ? CTL_USER_ERROR : etcd_fail(o, r, err);
		goto out;
	}
	if (!st.head) {
		fprintf(stderr, "iofencectl get: no policy in the datastore at %s (prefix %s)\n",
			o->etcd_endpoints, o->etcd_prefix);
		r = CTL_USER_ERROR;
		goto out;
	}
	r = cluster_pb_from_objs(&st.objs, &pb, err, sizeof(err));
	if (r) {
		fprintf(stderr, "iofencectl get: %s\n", err);
		r = CTL_SYSTEM_ERROR;
		goto out;
	}
	r = ctl_print_policy_pb(pb, (uint64_t)st.policy_revision, fmt);
out:
	if (pb)
		iofence__v1__policy_document__free_unpacked(pb, NULL);
	cluster_state_free(&st);
	etcd_close(c);
	return r;
}

/* An escaped key part up to '#', '/' or its end, unescaped into name. */
static void unescape(const char *p, char *name, size_t len)
{
	size_t n = 0;

	for (; *p && *p != '#' && *p != '/' && n + 1 < len; p++) {
		unsigned ch;

		if (*p == '%' && sscanf(p + 1, "%2x", &ch) == 1) {
			name[n++] = (char)ch;
			p += 2;
		} else {
			name[n++] = *p;
		}
	}
	name[n] = 0;
}

/* "groups/web#0001" -> "group" with name "web"; "endpoints/n/e" -> "endpoint", "n/e". */
static const char *describe_key(const char *key, char *name, size_t len)
{
	static const struct {
		const char *dir, *object;
	} kinds[] = {{"groups/", "group"}, {"endpoints/", "endpoint"}, {"prefilter/", "prefilter"}};

	snprintf(name, len, "%s", key);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		const char *p = key + strlen(kinds[i].dir), *slash;

		if (strncmp(key, kinds[i].dir, strlen(kinds[i].dir)))
			continue;
		unescape(p, name, len);
		slash = strchr(p, '/');
		if (slash && strlen(name) + 2 < len) {
			size_t n = strlen(name);

			name[n] = '/';
			unescape(slash + 1, name + n + 1, len - n - 1);
		}
		return kinds[i].object;
	}
	return "defaults";
}

int cluster_diff_doc(const struct ctl_opts *o, const struct policy_document *doc)
{
	Iofence__V1__PolicyDocument *pb = NULL;
	struct policy_errors errs = {0};
	struct policy_document *have = NULL;
	struct cluster_state st = {0};
	struct policy_diff d = {0};
	struct etcd *c = open_etcd(o);
	bool json = o->output && !strcmp(o->output, "json");
	char err[512] = "";
	int r;

	if (!c)
		return CTL_SYSTEM_ERROR;
	r = cluster_read(c, o->etcd_prefix, 0, &st, err, sizeof(err));
	if (r) {
		r = etcd_fail(o, r, err);
		goto out;
	}
	if (st.head) {
		r = cluster_pb_from_objs(&st.objs, &pb, err, sizeof(err));
		if (!r && policy_from_pb(pb, "<datastore>", &have, &errs))
			snprintf(err, sizeof(err), "the datastore's policy does not validate");
		if (r || !have) {
			fprintf(stderr, "iofencectl diff: %s\n", err);
			policy_errors_print(&errs, stderr);
			r = CTL_SYSTEM_ERROR;
			goto out;
		}
	}
	if (policy_diff(have, doc, &d)) {
		r = CTL_SYSTEM_ERROR;
		goto out;
	}
	if (json) {
		printf("{\"datastore\": ");
		json_str(stdout, o->etcd_endpoints);
		printf(", \"revision\": %lld, \"diff\": ", (long long)st.policy_revision);
		policy_diff_write(&d, POLICY_FORMAT_JSON, stdout);
		printf("}\n");
	} else {
		policy_diff_write(&d, POLICY_FORMAT_YAML, stdout);
	}
	r = d.n ? CTL_USER_ERROR : CTL_OK;
out:
	policy_diff_free(&d);
	policy_errors_free(&errs);
	policy_document_free(have);
	if (pb)
		iofence__v1__policy_document__free_unpacked(pb, NULL);
	cluster_state_free(&st);
	etcd_close(c);
	return r;
}

/* Whether TEXT has a line that starts with WORD (a top-level YAML key). */
static bool has_top_key(const char *text, const char *word)
{
	size_t len = strlen(word);

	for (const char *p = text; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, word, len))
			return true;
	return false;
}

/*
 * The endpoints of FILE: one endpoint as a YAML/JSON mapping, or a document with an
 * `endpoints:` list; checked against the datastore's groups. Into EPS, keyed as stored.
 */
static int endpoint_of_file(const struct ctl_opts *o, const struct cluster_state *st,
			    struct cluster_objs *eps)
{
	size_t tlen = 0, cap;
	char *text = rpc_read_file(o->file, &tlen), *doc, *line, *save = NULL;
	struct policy_document *mini = NULL;
	Iofence__V1__PolicyDocument *pb = NULL;
	struct policy_errors errs = {0};
	size_t n = 0, groups;
	bool first = true, wrapped;
	int r;

	if (!text) {
		fprintf(stderr, "iofencectl endpoint: %s: %s\n", o->file, strerror(errno));
		return CTL_USER_ERROR;
	}
	/* "endpoints:\n  - LINE1\n    LINE2..." and the datastore's group names */
	cap = tlen * 2 + 64;
	for (size_t i = 0; i < st->objs.n; i++)
		cap += strlen(st->objs.v[i].key) + 32;
	doc = malloc(cap);
	if (!doc) {
		free(text);
		return CTL_SYSTEM_ERROR;
	}
	wrapped = !has_top_key(text, "endpoints:");
	if (!wrapped) {
		memcpy(doc, text, tlen);
		n = tlen;
		if (n && doc[n - 1] != '\n')
			doc[n++] = '\n';
		doc[n] = 0;
	} else {
		n += (size_t)sprintf(doc, "endpoints:\n");
	}
	for (line = wrapped ? strtok_r(text, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (!strcmp(line, "---"))
			line = "";
		n += (size_t)sprintf(doc + n, "%s%s\n", first ? "  - " : "    ", line);
		first = false;
	}
	if (!wrapped && has_top_key(text, "securityGroups:"))
		goto parse;
	n += (size_t)sprintf(doc + n, "securityGroups:\n");
	groups = 0;
	for (size_t i = 0; i < st->objs.n; i++) {
		char gname[1024];

		if (strncmp(st->objs.v[i].key, "groups/", 7) || strchr(st->objs.v[i].key, '#'))
			continue;
		describe_key(st->objs.v[i].key, gname, sizeof(gname));
		n += (size_t)sprintf(doc + n, "  - {name: \"%s\", rules: []}\n", gname);
		groups++;
	}
	if (!groups)
		n += (size_t)sprintf(doc + n, "  []\n");
parse:
	r = policy_parse_buffer(doc, n, o->file, &mini, &errs);
	free(doc);
	free(text);
	if (r) {
		/* the file's lines are one further down in the wrapped text */
		for (size_t i = 0; wrapped && i < errs.n; i++)
			if (errs.items[i].line > 1)
				errs.items[i].line--;
		policy_errors_print(&errs, stderr);
		policy_errors_free(&errs);
		return r == -EINVAL ? CTL_USER_ERROR : CTL_SYSTEM_ERROR;
	}
	policy_errors_free(&errs);
	if (!mini->n_endpoints || policy_to_pb(mini, &pb)) {
		fprintf(stderr, "iofencectl endpoint: %s: no endpoint in it\n", o->file);
		policy_document_free(mini);
		return CTL_USER_ERROR;
	}
	r = CTL_OK;
	for (size_t i = 0; !r && i < pb->n_endpoints; i++) {
		size_t len = iofence__v1__endpoint__get_packed_size(pb->endpoints[i]);
		uint8_t *val = malloc(len + 1);
		char *key = cluster_key_endpoint(pb->endpoints[i]->node, pb->endpoints[i]->name);

		if (val && key)
			iofence__v1__endpoint__pack(pb->endpoints[i], val);
		if (!val || !key || cluster_objs_put(eps, key, val, len, 0))
			r = CTL_SYSTEM_ERROR;
		free(val);
		free(key);
	}
	policy_pb_free(pb);
	policy_document_free(mini);
	return r;
}

/* The unescaped name of "endpoints/<node>/<name>". */
static void endpoint_name(const char *key, char *name, size_t len)
{
	const char *slash = strchr(key + strlen("endpoints/"), '/');

	unescape(slash ? slash + 1 : "", name, len);
}

/* Whether key is "endpoints/<any node>/<escaped NAME>". */
static bool is_endpoint_named(const char *key, const char *name)
{
	char buf[1024];
	const char *slash;

	if (strncmp(key, "endpoints/", 10))
		return false;
	slash = strchr(key + 10, '/');
	if (!slash)
		return false;
	unescape(slash + 1, buf, sizeof(buf));
	return !strcmp(buf, name);
}

/* endpoint put --enforced: until every endpoint put (EPS) is enforced on its node at
 * REVISION or later. */
static int wait_enforced(const struct ctl_opts *o, struct etcd *c, const struct cluster_objs *eps,
			 int64_t revision)
{
	struct cluster_wait_target *t = calloc(eps->n ? eps->n : 1, sizeof(*t));
	int r = t ? CTL_OK : CTL_SYSTEM_ERROR;

	for (size_t i = 0; !r && i < eps->n; i++)
		if (cluster_key_endpoint_split(eps->v[i].key, &t[i].node, &t[i].name))
			r = CTL_SYSTEM_ERROR;
	if (!r)
		r = cluster_wait_enforced(o, c, t, eps->n, revision,
					  o->timeout_set ? o->timeout_ms / 1000.0 : 30);
	for (size_t i = 0; t && i < eps->n; i++) {
		free(t[i].node);
		free(t[i].name);
	}
	free(t);
	return r;
}

int cmd_endpoint(int argc, char **argv)
{
	struct cluster_objs want = {0}, eps = {0};
	struct cluster_state st = {0};
	struct etcd *c = NULL;
	struct ctl_opts o;
	char err[512] = "", *key = NULL, *name = NULL;
	int64_t revision = 0;
	bool put;
	int r;

	if (argc >= 2 && !strcmp(argv[1], "wait"))
		return ctl_endpoint_wait(argc - 1, argv + 1);
	if (argc < 2 || (strcmp(argv[1], "put") && strcmp(argv[1], "delete"))) {
		fprintf(stderr, "iofencectl endpoint: put, delete or wait? (see iofencectl endpoint --help)\n");
		return CTL_USER_ERROR;
	}
	put = !strcmp(argv[1], "put");
	r = ctl_parse(argc - 1, argv + 1, put ? "endpoint put" : "endpoint delete", &o);
	if (r >= 0)
		return r;
	if (put ? !o.file : !o.positional || !strchr(o.positional, '/')) {
		fprintf(stderr, "iofencectl %s: %s (see iofencectl %s --help)\n", o.cmd,
			put ? "-f FILE is required" : "NODE/NAME is required", o.cmd);
		r = CTL_USER_ERROR;
		goto out;
	}
	c = open_etcd(&o);
	if (!c) {
		r = CTL_SYSTEM_ERROR;
		goto out;
	}
	r = cluster_read(c, o.etcd_prefix, 0, &st, err, sizeof(err));
	if (r) {
		r = etcd_fail(&o, r, err);
		goto out;
	}
	if (!st.head) {
		fprintf(stderr, "%s: no policy in the datastore yet: apply one first\n", o.cmd);
		r = CTL_USER_ERROR;
		goto out;
	}
	if (put) {
		r = endpoint_of_file(&o, &st, &eps);
		if (r)
			goto out;
	} else {
		char *slash = strchr(o.positional, '/');

		name = strdup(slash + 1);
		*slash = 0;
		key = cluster_key_endpoint(o.positional, name);
		*slash = '/';
		if (!key || !name) {
			r = CTL_SYSTEM_ERROR;
			goto out;
		}
		if (cluster_objs_find(&st.objs, key) < 0) {
			fprintf(stderr, "iofencectl endpoint delete: no endpoint %s\n",
				o.positional);
			r = CTL_USER_ERROR;
			goto out;
		}
	}
	/* the datastore's objects with these endpoints put (moved, if on another node) or gone */
	for (size_t i = 0; i < st.objs.n; i++) {
		bool named = name && is_endpoint_named(st.objs.v[i].key, name);

		for (size_t j = 0; j < eps.n && !named; j++) {
			char ename[1024];

			endpoint_name(eps.v[j].key, ename, sizeof(ename));
			named = is_endpoint_named(st.objs.v[i].key, ename);
		}
		if (!named && cluster_objs_add(&want, st.objs.v[i].key, st.objs.v[i].val,
					       st.objs.v[i].len, 0)) {
			r = CTL_SYSTEM_ERROR;
			goto out;
		}
	}
	for (size_t j = 0; j < eps.n; j++)
		if (cluster_objs_put(&want, eps.v[j].key, eps.v[j].val, eps.v[j].len, 0)) {
			r = CTL_SYSTEM_ERROR;
			goto out;
		}
	r = validate_objs(&o, &want, put ? o.file : "<endpoint delete>");
	if (!r)
		r = write_and_report(&o, c, &st, &want, o.cmd + strlen("endpoint "), &revision);
	if (!r && put && o.enforced)
		r = wait_enforced(&o, c, &eps, revision);
out:
	free(key);
	free(name);
	cluster_objs_free(&eps);
	cluster_objs_free(&want);
	cluster_state_free(&st);
	etcd_close(c);
	ctl_opts_free(&o);
	return r;
}
