// SPDX-License-Identifier: Apache-2.0
/*
 * The read RPCs (GetStatus, GetPolicy, GetCounters): answered from the published snapshot
 * and the datapath's counters on the server threads, never behind an apply in progress.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <limits.h>
#include <unistd.h>
#include <net/if.h>

#include <grpc/status.h>

#include "agent.h"
#include "agent/datapath/datapath.h"
#include "engine.h"
#include "flows.h"
#include "guard.h"
#include "modules.h"
#include "reads.h"
#include "policy/parse.h"
#include "policy/prefix.h"
#include "store/store.h"
#include "warnings.h"

static const char *action_name(int action)
{
	return action == POLICY_DENY ? "deny" : "allow";
}

static char **fmt_addresses(struct arena *ar, const struct policy_endpoint *ep)
{
	char **v = arena_alloc(ar, (ep->n_addresses + 1) * sizeof(*v));

	for (size_t i = 0; v && i < ep->n_addresses; i++) {
		char buf[PREFIX_STR_MAX];

		prefix_format(&ep->addresses[i], true, buf);
		v[i] = arena_strdup(ar, buf);
	}
	return v;
}

static bool cgroup_exists(const char *path)
{
	struct stat st;

	return path && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static Iofence__V1__Module *module(struct arena *ar, const char *name, const char *kind,
				   const char *attach, bool attached)
{
	Iofence__V1__Module *m = arena_alloc(ar, sizeof(*m));

	if (!m)
		return NULL;
	iofence__v1__module__init(m);
	m->name = arena_strdup(ar, name);
	m->kind = (char *)kind;
	m->attach = arena_strdup(ar, attach);
	m->attached = attached;
	return m;
}

struct status_ctx {
	struct arena *ar;
	Iofence__V1__GetStatusResponse *r;
};

static void status_warning(void *ctx, const char *line)
{
	struct status_ctx *c = ctx;
	char *s = arena_strdup(c->ar, line);

	if (s)
		c->r->warnings[c->r->n_warnings++] = s;
}

int reads_status(struct agent *a, struct arena *ar, ProtobufCMessage **ret, char *details,
		 size_t len)
{
	Iofence__V1__GetStatusResponse *r = arena_alloc(ar, sizeof(*r));
	struct snapshot *s = engine_current(a->engine);
	const struct policy_image *img = s ? snapshot_image(s) : NULL;
	const struct policy_document *doc = s ? snapshot_doc(s) : NULL;
	struct datapath *dp = engine_datapath(a->engine);
	size_t n_mod = 0, max_mod;

	if (!r)
		goto nomem;
	iofence__v1__get_status_response__init(r);
	r->node = a->cfg.node;
	r->revision = s ? snapshot_revision(s) : 0;
	r->uptime_seconds = (uint64_t)(time(NULL) - a->started_unix);
	r->version = (char *)AGENT_VERSION;
	r->applied_at_unix = s ? (uint64_t)snapshot_applied_unix(s) : 0;
	r->active_slot = dp ? dp_active_slot(dp) : 0;
	r->flow_next_seq = flows_next_seq(a->flows);
	if (guard_status(engine_guard(a->engine), ar, r))
		goto nomem;
	max_mod = img ? img->n_endpoints * 4 + img->n_prefilter + 1 : 0;
	/* room for the loadable modules' programs after the policy programs (modules.c) */
	r->modules = arena_alloc(ar, (max_mod + MODULES_STATUS_MAX) * sizeof(*r->modules));
	if (!r->modules)
		goto nomem;
	if (!img)
		goto out;
	r->warnings = arena_alloc(ar, (doc->n_endpoints + 2) * sizeof(*r->warnings));
	if (!r->warnings)
		goto nomem;
	warnings_of(doc, a->cfg.node, true, dp != NULL, status_warning, &(struct status_ctx){ar, r});
	r->endpoints = arena_alloc(ar, (img->n_endpoints + 1) * sizeof(*r->endpoints));
	if (!r->endpoints)
		goto nomem;
	for (size_t i = 0; i < img->n_endpoints; i++) {
		const struct policy_endpoint *ep = &doc->endpoints[img->endpoints[i].doc_index];
		Iofence__V1__EndpointStatus *e = arena_alloc(ar, sizeof(*e));
		unsigned ifindex = ep->interface ? if_nametoindex(ep->interface) : 0;
		bool cg = cgroup_exists(ep->cgroup);
		char reason[128], why[400];

		if (!e)
			goto nomem;
		iofence__v1__endpoint_status__init(e);
		e->name = ep->name;
		e->interface = ep->interface ? ep->interface : (char *)"";
		e->cgroup = ep->cgroup ? ep->cgroup : (char *)"";
		e->addresses = fmt_addresses(ar, ep);
		e->n_addresses = ep->n_addresses;
		e->groups = ep->groups;
		e->n_groups = ep->n_groups;
		e->ifindex = ifindex;
		e->enforced = guard_endpoint_enforced(engine_guard(a->engine), ep->name, ifindex,
						      reason, sizeof(reason));
		e->reason = (char *)warnings_endpoint_reason(ep, dp != NULL, why, sizeof(why));
		e->reason = arena_strdup(ar, e->reason ? e->reason : e->enforced ? "" : reason);
		e->ingress = (char *)action_name(policy_endpoint_default(doc, ep, POLICY_INGRESS));
		e->egress = (char *)action_name(policy_endpoint_default(doc, ep, POLICY_EGRESS));
		e->mode = policy_endpoint_mode(doc, ep) == POLICY_AUDIT ? "audit" : "enforce";
		r->endpoints[r->n_endpoints++] = e;
		if (ep->interface) {
			char name[128];

			for (int h = 0; h < 2; h++) {
				Iofence__V1__Module *m;
				uint32_t prog = 0;
				bool att;

				snprintf(name, sizeof(name), "tc/%s/%s", ep->interface,
					 h ? "egress" : "ingress");
				att = dp && dp_hook_pinned(dp, name, &prog) && ifindex;
				m = module(ar, name, "tc", ep->interface, att);
				if (m)
					m->prog_id = prog;
				r->modules[n_mod++] = m;
			}
		}
		if (ep->cgroup) {
			char name[256];

			snprintf(name, sizeof(name), "cgroup/%s/connect", ep->name);
			r->modules[n_mod++] = module(ar, name, "cgroup", ep->cgroup, dp && cg);
			snprintf(name, sizeof(name), "cgroup/%s/skb", ep->name);
			r->modules[n_mod++] = module(ar, name, "cgroup", ep->cgroup, dp && cg);
		}
	}
	for (size_t i = 0; i < img->n_prefilter && n_mod < max_mod; i++) {
		char name[128];
		bool dup = false;

		snprintf(name, sizeof(name), "xdp/%s", img->prefilter[i].interface);
		for (size_t j = 0; j < n_mod; j++)
			dup |= r->modules[j] && !strcmp(r->modules[j]->name, name);
		if (!dup) {
			uint32_t prog = 0;
			bool att = dp && dp_hook_pinned(dp, name, &prog) &&
				   if_nametoindex(img->prefilter[i].interface);
			Iofence__V1__Module *m =
			    module(ar, name, "xdp", img->prefilter[i].interface, att);

			if (m)
				m->prog_id = prog;
			r->modules[n_mod++] = m;
		}
	}
	for (size_t j = 0; j < n_mod; j++)
		if (!r->modules[j])
			goto nomem;
	r->n_modules = n_mod;
out:
	modules_status(a, ar, r);
	/* The snapshot's strings are referenced: keep it alive as long as the arena. */
	if (s)
		arena_defer(ar, (void (*)(void *))snapshot_unref, s);
	*ret = &r->base;
	return GRPC_STATUS_OK;
nomem:
	snapshot_unref(s);
	snprintf(details, len, "out of memory");
	return GRPC_STATUS_RESOURCE_EXHAUSTED;
}

static void free_doc(void *p)
{
	iofence__v1__policy_document__free_unpacked(p, NULL);
}

struct history_fill {
	struct arena *ar;
	Iofence__V1__GetPolicyResponse *r;
	uint64_t enforced;
	bool oom;
};

static void history_add(void *ctx, const struct store_revision *sr)
{
	struct history_fill *f = ctx;
	Iofence__V1__StoredRevision *h = arena_alloc(f->ar, sizeof(*h));

	if (!h) {
		f->oom = true;
		return;
	}
	iofence__v1__stored_revision__init(h);
	h->revision = sr->revision;
	h->committed_at_unix = sr->committed_unix > 0 ? (uint64_t)sr->committed_unix : 0;
	h->size = sr->doc_len;
	h->source_name = arena_strdup(f->ar, sr->source_name ? sr->source_name : "");
	h->enforced = sr->revision == f->enforced;
	f->r->history[f->r->n_history++] = h;
}

/* The stored revisions, newest first, with time, size and source (GetPolicy with history). */
static int reads_history(struct agent *a, struct arena *ar, ProtobufCMessage **ret,
			 char *details, size_t len)
{
	struct snapshot *s = engine_current(a->engine);
	struct history_fill f = {.ar = ar, .r = arena_alloc(ar, sizeof(*f.r)),
				 .enforced = s ? snapshot_revision(s) : 0};
	size_t n = 0;
	int rc = -ENOMEM;

	snapshot_unref(s);
	if (f.r) {
		iofence__v1__get_policy_response__init(f.r);
		f.r->revision = f.enforced;
		rc = engine_history(a->engine, NULL, NULL, &n);
	}
	if (!rc) {
		/* sized by the count read first: a commit in between is left out */
		f.r->history = arena_alloc(ar, (n + 1) * sizeof(*f.r->history));
		rc = f.r->history ? engine_history(a->engine, history_add, &f, &n) : -ENOMEM;
	}
	if (!rc && f.oom)
		rc = -ENOMEM;
	if (rc) {
		snprintf(details, len, "history: %s", strerror(-rc));
		return rc == -ENOMEM ? GRPC_STATUS_RESOURCE_EXHAUSTED : GRPC_STATUS_INTERNAL;
	}
	*ret = &f.r->base;
	return GRPC_STATUS_OK;
}

int reads_policy(struct agent *a, const Iofence__V1__GetPolicyRequest *req, struct arena *ar,
		 ProtobufCMessage **ret, char *details, size_t len)
{
	Iofence__V1__GetPolicyResponse *r = arena_alloc(ar, sizeof(*r));
	struct snapshot *s = req->revision ? engine_snapshot_of(a->engine, req->revision)
					   : engine_current(a->engine);
	struct store_revision sr = {0};
	uint64_t *revs = NULL, rev;
	size_t n = 0;
	int rc;

	if (req->history) {
		snapshot_unref(s);
		return reads_history(a, ar, ret, details, len);
	}
	if (!r) {
		snapshot_unref(s);
		snprintf(details, len, "out of memory");
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	}
	iofence__v1__get_policy_response__init(r);
	if (!req->revision && !s) {
		snprintf(details, len, "no policy applied yet");
		return GRPC_STATUS_NOT_FOUND;
	}
	rev = req->revision ? req->revision : snapshot_revision(s);
	rc = engine_stored(a->engine, rev, &sr, &revs, &n);
	if (rc) {
		snapshot_unref(s);
		snprintf(details, len, "revision %llu: %s", (unsigned long long)rev,
			 rc == -ENOENT ? "not stored (never applied, or pruned)" : strerror(-rc));
		return rc == -ENOENT ? GRPC_STATUS_NOT_FOUND : GRPC_STATUS_INTERNAL;
	}
	r->revision = rev;
	r->committed_at_unix = sr.committed_unix > 0 ? (uint64_t)sr.committed_unix : 0;
	r->document = iofence__v1__policy_document__unpack(NULL, sr.doc_len, sr.doc);
	/* what the user wrote: kept in the store with its revision, so also after a restart */
	if (sr.source)
		r->source = arena_strdup(ar, sr.source);
	store_revision_free(&sr);
	if (r->document)
		arena_defer(ar, free_doc, r->document);
	if (!r->source && s && snapshot_source(s) && rev == snapshot_revision(s))
		r->source = arena_strdup(ar, snapshot_source(s));
	r->stored_revisions = arena_alloc(ar, (n + 1) * sizeof(uint64_t));
	if (r->stored_revisions) {
		memcpy(r->stored_revisions, revs, n * sizeof(uint64_t));
		r->n_stored_revisions = n;
	}
	free(revs);
	snapshot_unref(s);
	if (!r->document) {
		snprintf(details, len, "revision %llu: stored document does not decode",
			 (unsigned long long)rev);
		return GRPC_STATUS_DATA_LOSS;
	}
	*ret = &r->base;
	return GRPC_STATUS_OK;
}

static Iofence__V1__Counter *counter(struct arena *ar, const struct iof_counter *c)
{
	Iofence__V1__Counter *m = arena_alloc(ar, sizeof(*m));

	if (m) {
		iofence__v1__counter__init(m);
		m->packets = c->packets;
		m->bytes = c->bytes;
	}
	return m;
}

static char *rule_summary(struct arena *ar, const struct policy_document *doc,
			  const struct policy_rule *rule)
{
	char buf[512], pfx[PREFIX_STR_MAX];
	const char *proto = policy_protocol_name(rule->protocol);
	size_t n;

	if (proto)
		n = (size_t)snprintf(buf, sizeof(buf), "%s", proto);
	else
		n = (size_t)snprintf(buf, sizeof(buf), "proto-%d", rule->protocol);
	for (size_t i = 0; i < rule->n_ports && n < sizeof(buf) - 16; i++) {
		const struct policy_port_range *p = &rule->ports[i];

		n += (size_t)(p->lo == p->hi
				  ? snprintf(buf + n, sizeof(buf) - n, "%c%u", i ? ',' : '/', p->lo)
				  : snprintf(buf + n, sizeof(buf) - n, "%c%u-%u", i ? ',' : '/',
					     p->lo, p->hi));
	}
	if (n >= sizeof(buf) - 16)
		n = sizeof(buf) - 16;
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, " %s ",
			      rule->direction == POLICY_INGRESS ? "from" : "to");
	if (rule->remote_kind == POLICY_REMOTE_CIDR) {
		prefix_format(&rule->cidr, false, pfx);
		snprintf(buf + n, sizeof(buf) - n, "%s", pfx);
	} else if (rule->remote_kind == POLICY_REMOTE_GROUP) {
		snprintf(buf + n, sizeof(buf) - n, "group %s", rule->group);
	} else {
		snprintf(buf + n, sizeof(buf) - n, "any");
	}
	(void)doc;
	return arena_strdup(ar, buf);
}

static bool endpoint_in_group(const struct policy_endpoint *ep, size_t group)
{
	for (size_t i = 0; i < ep->n_groups; i++)
		if (ep->group_index[i] == group)
			return true;
	return false;
}

int reads_counters(struct agent *a, const Iofence__V1__GetCountersRequest *req, struct arena *ar,
		   ProtobufCMessage **ret, char *details, size_t len)
{
	Iofence__V1__GetCountersResponse *r = arena_alloc(ar, sizeof(*r));
	struct snapshot *s = engine_current(a->engine);
	const struct policy_image *img = s ? snapshot_image(s) : NULL;
	const struct policy_document *doc = s ? snapshot_doc(s) : NULL;
	struct datapath *dp = engine_datapath(a->engine);
	const struct policy_endpoint *only = NULL;
	struct iof_counter c;
	int status = GRPC_STATUS_OK;

	if (!r)
		goto nomem;
	iofence__v1__get_counters_response__init(r);
	r->revision = s ? snapshot_revision(s) : 0;
	r->events_dropped = flows_events_dropped(a->flows);
	if (req->endpoint && *req->endpoint) {
		for (size_t i = 0; img && i < img->n_endpoints; i++)
			if (!strcmp(img->endpoints[i].name, req->endpoint))
				only = &doc->endpoints[img->endpoints[i].doc_index];
		if (!only) {
			snprintf(details, len, "endpoint \"%s\" is not enforced on node %s",
				 req->endpoint, a->cfg.node);
			status = GRPC_STATUS_NOT_FOUND;
			goto out;
		}
	}
	r->drops = arena_alloc(ar, IOF_DROP_MAX * sizeof(*r->drops));
	if (!r->drops)
		goto nomem;
	for (unsigned reason = 1; reason < IOF_DROP_MAX; reason++) {
		Iofence__V1__DropReason *d = arena_alloc(ar, sizeof(*d));

		if (!d)
			goto nomem;
		iofence__v1__drop_reason__init(d);
		d->reason = (char *)dp_drop_reason_name(reason);
		memset(&c, 0, sizeof(c));
		if (dp)
			dp_read_drops(dp, reason, &c);
		d->packets = c.packets;
		d->bytes = c.bytes;
		d->real_drop = reason != IOF_DROP_AUDIT;
		r->drops[r->n_drops++] = d;
	}
	if (!img)
		goto out;
	r->rules = arena_alloc(ar, (img->n_rules + 1) * sizeof(*r->rules));
	r->endpoints = arena_alloc(ar, (img->n_endpoints + 1) * sizeof(*r->endpoints));
	if (!r->rules || !r->endpoints)
		goto nomem;
	for (size_t i = 0; i < img->n_rules; i++) {
		const struct image_rule *ir = &img->rules[i];
		const struct policy_group *g = &doc->groups[ir->group_index];
		const struct policy_rule *rule = &g->rules[ir->rule_index];
		Iofence__V1__RuleCounters *rc;
		char label[256];

		if (only && !endpoint_in_group(only, ir->group_index))
			continue;
		rc = arena_alloc(ar, sizeof(*rc));
		if (!rc)
			goto nomem;
		iofence__v1__rule_counters__init(rc);
		rc->group = g->name;
		rc->index = (uint32_t)ir->rule_index;
		rc->name = rule->name ? rule->name : "";
		policy_rule_label(doc, ir->group_index, ir->rule_index, label, sizeof(label));
		rc->rule = arena_strdup(ar, label);
		rc->action = (char *)action_name(rule->action);
		rc->direction = rule->direction == POLICY_INGRESS ? "ingress" : "egress";
		rc->priority = rule->priority;
		rc->summary = rule_summary(ar, doc, rule);
		memset(&c, 0, sizeof(c));
		if (dp)
			dp_read_rule_total(dp, ir->identity, &c);
		rc->matched = counter(ar, &c);
		if (!rc->matched)
			goto nomem;
		r->rules[r->n_rules++] = rc;
	}
	for (size_t i = 0; i < img->n_endpoints; i++) {
		Iofence__V1__EndpointCounters *ec;
		struct iof_counter k[IOF_EP_COUNTER_KINDS];

		if (only && strcmp(img->endpoints[i].name, only->name))
			continue;
		ec = arena_alloc(ar, sizeof(*ec));
		if (!ec)
			goto nomem;
		iofence__v1__endpoint_counters__init(ec);
		ec->name = (char *)img->endpoints[i].name;
		memset(k, 0, sizeof(k));
		for (int kind = 0; dp && kind < IOF_EP_COUNTER_KINDS; kind++)
			dp_read_endpoint_total(dp, img->endpoints[i].identity, kind, &k[kind]);
		ec->ingress_allowed = counter(ar, &k[IOF_EPC_INGRESS_ALLOW]);
		ec->ingress_denied = counter(ar, &k[IOF_EPC_INGRESS_DENY]);
		ec->egress_allowed = counter(ar, &k[IOF_EPC_EGRESS_ALLOW]);
		ec->egress_denied = counter(ar, &k[IOF_EPC_EGRESS_DENY]);
		ec->audit_would_drop = counter(ar, &k[IOF_EPC_AUDIT_WOULD_DROP]);
		if (!ec->ingress_allowed || !ec->ingress_denied || !ec->egress_allowed ||
		    !ec->egress_denied || !ec->audit_would_drop)
			goto nomem;
		r->endpoints[r->n_endpoints++] = ec;
	}
out:
	if (s)
		arena_defer(ar, (void (*)(void *))snapshot_unref, s);
	*ret = &r->base;
	return status;
nomem:
	snapshot_unref(s);
	snprintf(details, len, "out of memory");
	return GRPC_STATUS_RESOURCE_EXHAUSTED;
}
