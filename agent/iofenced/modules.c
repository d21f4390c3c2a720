// SPDX-License-Identifier: Apache-2.0
/*
 * Loadable modules: I/O modules enabled and disabled at run time beside the policy programs.
 * The only one is vxlan-trace (agent/datapath/module_vxlan.c): its own object, maps and tcx
 * links on underlay interfaces, sharing nothing with enforcement, so enabling, reconfiguring
 * or disabling it never touches a policy map or link. Its pins survive the agent and are
 * adopted at start; the config file can enable it at start (vxlan-trace-interface = IF).
 * An enabled module follows its interfaces through the link watcher's events: it waits
 * for one that does not exist and attaches when it appears, also after a re-creation.
 * Answered on the server threads under one lock (enable/disable are rare; reads are short).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/status.h>

#include "agent.h"
#include "agent/datapath/datapath.h"
#include "agent/datapath/module_vxlan.h"
#include "engine.h"
#include "linkwatch.h"
#include "log.h"
#include "modules.h"
#include "modules_state.h"

static const char *const vxt_name = MODULES_VXT_NAME;

int modules_start(struct agent *a)
{
	struct modules *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	a->modules = m;
	char err[256] = "";
	int r = 0;

	if (!engine_datapath(a->engine))
		return 0;
	if (a->cfg.n_vxt_ifaces) {
		struct vxt_config cfg = {0};

		for (size_t i = 0; i < a->cfg.n_vxt_ifaces && i < VXT_IFACES_MAX; i++)
			snprintf(cfg.ifaces[cfg.n_ifaces++], IF_NAMESIZE, "%s", a->cfg.vxt_ifaces[i]);
		for (size_t i = 0; i < a->cfg.n_vxt_ports && i < VXT_PORTS_MAX; i++)
			cfg.ports[cfg.n_ports++] = (uint16_t)a->cfg.vxt_ports[i];
		cfg.tunnel_capacity = a->cfg.vxt_tunnel_capacity;
		cfg.inner_capacity = a->cfg.vxt_inner_capacity;
		r = vxt_open(a->cfg.pin_dir, &cfg, &m->vxt, err, sizeof(err));
		if (r)
			log_error("module %s (config): %s", vxt_name, err);
		else
			log_info("module %s enabled from the config", vxt_name);
	} else if (vxt_pinned(a->cfg.pin_dir)) {
		r = vxt_open(a->cfg.pin_dir, NULL, &m->vxt, err, sizeof(err));
		if (r)
			log_error("module %s: adopt: %s", vxt_name, err);
		else
			log_info("module %s adopted from %s", vxt_name, a->cfg.pin_dir);
	}
	if (r)
		snprintf(m->error, sizeof(m->error), "%s", err);
	else if (m->vxt)
		m->enabled_at_unix = time(NULL);
	return 0;
}

void modules_stop(struct agent *a)
{
	struct modules *m = a->modules;

	if (!m)
		return;
	vxt_close(m->vxt); /* the pins keep counting */
	pthread_mutex_destroy(&m->lock);
	free(m);
	a->modules = NULL;
}

static int unknown_module(const char *name, char *details, size_t len)
{
	snprintf(details, len, "unknown module \"%s\" (known: %s)", name ? name : "", vxt_name);
	return GRPC_STATUS_NOT_FOUND;
}

static int no_datapath(char *details, size_t len)
{
	snprintf(details, len, "modules need the BPF datapath (the agent runs with --datapath none)");
	return GRPC_STATUS_FAILED_PRECONDITION;
}

Iofence__V1__ModuleConfig *modules_config_pb(struct arena *ar, const struct vxt_config *c)
{
	Iofence__V1__ModuleConfig *pc = arena_alloc(ar, sizeof(*pc));

	if (!pc)
		return NULL;
	iofence__v1__module_config__init(pc);
	pc->interfaces = arena_alloc(ar, (c->n_ifaces + 1) * sizeof(char *));
	pc->ports = arena_alloc(ar, (c->n_ports + 1) * sizeof(uint32_t));
	if (!pc->interfaces || !pc->ports)
		return NULL;
	for (size_t i = 0; i < c->n_ifaces; i++)
		pc->interfaces[pc->n_interfaces++] = arena_strdup(ar, c->ifaces[i]);
	for (size_t i = 0; i < c->n_ports; i++)
		pc->ports[pc->n_ports++] = c->ports[i];
	pc->tunnel_capacity = c->tunnel_capacity;
	pc->inner_capacity = c->inner_capacity;
	return pc;
}

/* The module's programs as Module messages (GetStatus and ModuleState). */
static size_t programs_pb(struct arena *ar, struct vxt_module *v, Iofence__V1__Module **out,
			  size_t max)
{
	struct vxt_hook hooks[2 * VXT_IFACES_MAX];
	size_t n = vxt_hooks(v, hooks, 2 * VXT_IFACES_MAX), k = 0;

	for (size_t i = 0; i < n && k < max; i++) {
		Iofence__V1__Module *pm = arena_alloc(ar, sizeof(*pm));

		if (!pm)
			break;
		iofence__v1__module__init(pm);
		pm->name = arena_printf(ar, "%s/%s/%s", vxt_name, hooks[i].iface, hooks[i].hook);
		pm->kind = "tc";
		pm->attach = arena_strdup(ar, hooks[i].iface);
		pm->prog_id = hooks[i].prog_id;
		pm->attached = hooks[i].attached;
		pm->module = (char *)vxt_name;
		pm->state = "enabled";
		out[k++] = pm;
	}
	return k;
}

static const char *const attach_states[] = {
    [VXT_ATTACHED] = "attached", [VXT_WAITING] = "waiting", [VXT_FAILED] = "failed"};

/* One ModuleAttachment per configured interface. */
static void attachments_pb(struct arena *ar, struct vxt_module *v, Iofence__V1__ModuleState *st)
{
	struct vxt_attachment at[VXT_IFACES_MAX];
	size_t n = vxt_attachments(v, at, VXT_IFACES_MAX);

	st->attachments = arena_alloc(ar, (n + 1) * sizeof(*st->attachments));
	for (size_t i = 0; st->attachments && i < n; i++) {
		Iofence__V1__ModuleAttachment *pa = arena_alloc(ar, sizeof(*pa));

		if (!pa)
			return;
		iofence__v1__module_attachment__init(pa);
		pa->interface = arena_strdup(ar, at[i].iface);
		pa->state = (char *)attach_states[at[i].state];
		pa->reason = arena_strdup(ar, at[i].reason);
		pa->ifindex = at[i].ifindex;
		st->attachments[st->n_attachments++] = pa;
	}
}

/* The ModuleState of vxlan-trace; the caller holds m->lock. */
static Iofence__V1__ModuleState *state_pb(struct agent *a, struct arena *ar)
{
	struct modules *m = a->modules;
	Iofence__V1__ModuleState *st = arena_alloc(ar, sizeof(*st));

	if (!st)
		return NULL;
	iofence__v1__module_state__init(st);
	st->name = (char *)vxt_name;
	st->state = m->error[0] ? "failed" : "disabled";
	st->error = arena_strdup(ar, m->error);
	if (m->vxt) {
		struct vxt_config c;

		vxt_get_config(m->vxt, &c);
		st->state = "enabled";
		st->config = modules_config_pb(ar, &c);
		st->programs = arena_alloc(ar, 2 * VXT_IFACES_MAX * sizeof(*st->programs));
		if (st->programs)
			st->n_programs = programs_pb(ar, m->vxt, st->programs, 2 * VXT_IFACES_MAX);
		st->enabled_at_unix = (uint64_t)m->enabled_at_unix;
		attachments_pb(ar, m->vxt, st);
		struct vxt_counts n;

		if (!vxt_count(m->vxt, &n)) {
			st->tunnel_entries = n.tunnel_entries;
			st->inner_entries = n.inner_entries;
			st->tunnel_evictions = n.tunnel_evictions;
			st->inner_evictions = n.inner_evictions;
		}
	}
	return st;
}

/* Logs each interface whose state changed between two readings. */
static void log_changes(const struct vxt_attachment *was, size_t n_was,
			const struct vxt_attachment *now, size_t n_now)
{
	for (size_t i = 0; i < n_now; i++) {
		const struct vxt_attachment *w = NULL;

		for (size_t j = 0; j < n_was && !w; j++)
			if (!strcmp(was[j].iface, now[i].iface))
				w = &was[j];
		if (w && w->state == now[i].state && w->ifindex == now[i].ifindex)
			continue;
		if (now[i].state == VXT_ATTACHED)
			log_info("module %s: attached to %s (ifindex %u)", vxt_name, now[i].iface,
				 now[i].ifindex);
		else if (now[i].state == VXT_WAITING)
			log_info("module %s: %s: waiting (%s)", vxt_name, now[i].iface,
				 now[i].reason);
		else
			log_warn("module %s: %s: %s", vxt_name, now[i].iface, now[i].reason);
	}
}

/* Every link event (link watcher's thread): the module follows its interfaces. */
static void on_link(void *ctx, const char *ifname)
{
	struct modules *m = ctx;
	struct vxt_attachment was[VXT_IFACES_MAX], now[VXT_IFACES_MAX];
	size_t n_was, n_now;

	(void)ifname; /* any change may matter: a rename moves a name onto another device */
	pthread_mutex_lock(&m->lock);
	if (m->vxt) {
		n_was = vxt_attachments(m->vxt, was, VXT_IFACES_MAX);
		vxt_sync(m->vxt);
		n_now = vxt_attachments(m->vxt, now, VXT_IFACES_MAX);
		log_changes(was, n_was, now, n_now);
	}
	pthread_mutex_unlock(&m->lock);
}

void modules_follow_links(struct agent *a)
{
	if (!a->modules || !engine_datapath(a->engine))
		return;
	linkwatch_on_link(a->linkwatch, on_link, a->modules);
	/* Links that came or went between the module's start and the hook. */
	on_link(a->modules, NULL);
}

int modules_enable(struct agent *a, const Iofence__V1__ModuleRequest *req, struct arena *ar,
		   ProtobufCMessage **ret, char *details, size_t len)
{
	if (!req->name || strcmp(req->name, vxt_name))
		return unknown_module(req->name, details, len);
	if (!engine_datapath(a->engine) || !a->modules)
		return no_datapath(details, len);
	const Iofence__V1__ModuleConfig *pc = req->config;
	struct modules *m = a->modules;
	struct vxt_config cfg = {0};
	char err[256] = "";
	int r, st = GRPC_STATUS_OK;

	if (!pc || !pc->n_interfaces) {
		snprintf(details, len, "%s: --interface is required", vxt_name);
		return GRPC_STATUS_INVALID_ARGUMENT;
	}
	if (pc->n_interfaces > VXT_IFACES_MAX || pc->n_ports > VXT_PORTS_MAX) {
		snprintf(details, len, "%s: at most %d interfaces and %d ports", vxt_name,
			 VXT_IFACES_MAX, VXT_PORTS_MAX);
		return GRPC_STATUS_INVALID_ARGUMENT;
	}
	for (size_t i = 0; i < pc->n_interfaces; i++) {
		if (!pc->interfaces[i][0] || strlen(pc->interfaces[i]) >= IF_NAMESIZE) {
			snprintf(details, len, "%s: \"%s\" is not an interface name", vxt_name,
				 pc->interfaces[i]);
			return GRPC_STATUS_INVALID_ARGUMENT;
		}
		snprintf(cfg.ifaces[cfg.n_ifaces++], IF_NAMESIZE, "%s", pc->interfaces[i]);
	}
	for (size_t i = 0; i < pc->n_ports; i++) {
		if (!pc->ports[i] || pc->ports[i] > 65535) {
			snprintf(details, len, "%s: port %u is not a UDP port", vxt_name,
				 pc->ports[i]);
			return GRPC_STATUS_INVALID_ARGUMENT;
		}
		cfg.ports[cfg.n_ports++] = (uint16_t)pc->ports[i];
	}
	if (pc->tunnel_capacity > VXT_CAPACITY_MAX || pc->inner_capacity > VXT_CAPACITY_MAX) {
		snprintf(details, len, "%s: capacities are at most %u entries", vxt_name,
			 VXT_CAPACITY_MAX);
		return GRPC_STATUS_INVALID_ARGUMENT;
	}
	cfg.tunnel_capacity = pc->tunnel_capacity;
	cfg.inner_capacity = pc->inner_capacity;
	pthread_mutex_lock(&m->lock);
	bool was = m->vxt != NULL;

	vxt_close(m->vxt);
	m->vxt = NULL;
	r = vxt_open(a->cfg.pin_dir, &cfg, &m->vxt, err, sizeof(err));
	if (r) {
		snprintf(m->error, sizeof(m->error), "%s", err);
		snprintf(details, len, "%s", err);
		st = GRPC_STATUS_FAILED_PRECONDITION;
		log_warn("module %s: enable: %s", vxt_name, err);
		/* What was enabled before keeps counting where it still can. */
		if (vxt_pinned(a->cfg.pin_dir) && vxt_open(a->cfg.pin_dir, NULL, &m->vxt, NULL, 0))
			m->vxt = NULL;
	} else {
		m->error[0] = 0;
		if (!was)
			m->enabled_at_unix = time(NULL);
		struct vxt_attachment at[VXT_IFACES_MAX];
		size_t n_at = vxt_attachments(m->vxt, at, VXT_IFACES_MAX);

		log_info("module %s %s on %zu interface(s)", vxt_name, was ? "reconfigured" : "enabled",
			 cfg.n_ifaces);
		log_changes(NULL, 0, at, n_at);
		*ret = (ProtobufCMessage *)state_pb(a, ar);
		if (!*ret)
			st = GRPC_STATUS_RESOURCE_EXHAUSTED;
	}
	pthread_mutex_unlock(&m->lock);
	return st;
}

int modules_disable(struct agent *a, const Iofence__V1__ModuleRequest *req, struct arena *ar,
		    ProtobufCMessage **ret, char *details, size_t len)
{
	if (!req->name || strcmp(req->name, vxt_name))
		return unknown_module(req->name, details, len);
	if (!engine_datapath(a->engine) || !a->modules)
		return no_datapath(details, len);
	struct modules *m = a->modules;
	char err[256] = "";
	int r, st = GRPC_STATUS_OK;

	pthread_mutex_lock(&m->lock);
	vxt_close(m->vxt);
	m->vxt = NULL;
	r = vxt_disable(a->cfg.pin_dir, err, sizeof(err));
	if (r) {
		snprintf(details, len, "%s", err);
		st = GRPC_STATUS_INTERNAL;
	} else {
		m->error[0] = 0;
		m->enabled_at_unix = 0;
		log_info("module %s disabled", vxt_name);
		*ret = (ProtobufCMessage *)state_pb(a, ar);
		if (!*ret)
			st = GRPC_STATUS_RESOURCE_EXHAUSTED;
	}
	pthread_mutex_unlock(&m->lock);
	return st;
}

int modules_list(struct agent *a, struct arena *ar, ProtobufCMessage **ret, char *details,
		 size_t len)
{
	Iofence__V1__ListModulesResponse *r = arena_alloc(ar, sizeof(*r));

	if (!r)
		goto nomem;
	iofence__v1__list_modules_response__init(r);
	r->modules = arena_alloc(ar, sizeof(*r->modules));
	if (!r->modules)
		goto nomem;
	if (a->modules) {
		pthread_mutex_lock(&a->modules->lock);
		r->modules[0] = state_pb(a, ar);
		pthread_mutex_unlock(&a->modules->lock);
	} else {
		r->modules[0] = arena_alloc(ar, sizeof(*r->modules[0]));
		if (r->modules[0]) {
			iofence__v1__module_state__init(r->modules[0]);
			r->modules[0]->name = (char *)vxt_name;
			r->modules[0]->state = "disabled";
		}
	}
	if (!r->modules[0])
		goto nomem;
	r->n_modules = 1;
	*ret = &r->base;
	return GRPC_STATUS_OK;
nomem:
	snprintf(details, len, "out of memory");
	return GRPC_STATUS_RESOURCE_EXHAUSTED;
}

void modules_status(struct agent *a, struct arena *ar, Iofence__V1__GetStatusResponse *r)
{
	struct modules *m = a->modules;

	r->loadable_modules = arena_alloc(ar, sizeof(*r->loadable_modules));
	if (!m || !r->loadable_modules)
		return;
	pthread_mutex_lock(&m->lock);
	r->loadable_modules[0] = state_pb(a, ar);
	r->n_loadable_modules = r->loadable_modules[0] != NULL;
	if (m->vxt) {
		r->n_modules += programs_pb(ar, m->vxt, r->modules + r->n_modules,
					    MODULES_STATUS_MAX);
	} else if (m->error[0]) {
		Iofence__V1__Module *pm = arena_alloc(ar, sizeof(*pm));

		if (pm) {
			iofence__v1__module__init(pm);
			pm->name = (char *)vxt_name;
			pm->kind = "tc";
			pm->attach = "";
			pm->module = (char *)vxt_name;
			pm->state = "failed";
			r->modules[r->n_modules++] = pm;
		}
	}
	pthread_mutex_unlock(&m->lock);
}
