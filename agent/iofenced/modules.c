// SPDX-License-Identifier: Apache-2.0
/*
 * Loadable modules: I/O modules enabled and disabled at run time beside the policy programs.
 * The only one is vxlan-trace (agent/datapath/module_vxlan.c): its own object, maps and tcx
 * links on underlay interfaces, sharing nothing with enforcement, so enabling, reconfiguring
 * or disabling it never touches a policy map or link. Its pins survive the agent and are
 * adopted at start; the config file can enable it at start (vxlan-trace-interface = IF).
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
#include "log.h"
#include "modules.h"

#define TOP_INNER_DEFAULT 20
#define TOP_INNER_MAX 10000

struct modules {
	pthread_mutex_t lock;
	struct vxt_module *vxt; /* NULL: disabled (or failed) */
	char error[256];	 /* why the last enable failed; "" if it did not */
	int64_t enabled_at_unix; /* this process's enable or adoption */
};

static const char *const vxt_name = "vxlan-trace";

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

static Iofence__V1__ModuleConfig *config_pb(struct arena *ar, const struct vxt_config *c)
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
		st->config = config_pb(ar, &c);
		st->programs = arena_alloc(ar, 2 * VXT_IFACES_MAX * sizeof(*st->programs));
		if (st->programs)
			st->n_programs = programs_pb(ar, m->vxt, st->programs, 2 * VXT_IFACES_MAX);
		st->enabled_at_unix = (uint64_t)m->enabled_at_unix;
	}
	return st;
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
		st = r == -ENODEV ? GRPC_STATUS_NOT_FOUND : GRPC_STATUS_FAILED_PRECONDITION;
		log_warn("module %s: enable: %s", vxt_name, err);
		/* What was enabled before keeps counting where it still can. */
		if (vxt_pinned(a->cfg.pin_dir) && vxt_open(a->cfg.pin_dir, NULL, &m->vxt, NULL, 0))
			m->vxt = NULL;
	} else {
		m->error[0] = 0;
		if (!was)
			m->enabled_at_unix = time(NULL);
		log_info("module %s %s on %zu interface(s)", vxt_name, was ? "reconfigured" : "enabled",
			 cfg.n_ifaces);
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

static char *addr_str(struct arena *ar, const uint8_t a[16], uint8_t family)
{
	char buf[INET6_ADDRSTRLEN] = "";

	if (family == 4)
		inet_ntop(AF_INET, a, buf, sizeof(buf));
	else if (family == 6)
		inet_ntop(AF_INET6, a, buf, sizeof(buf));
	return arena_strdup(ar, buf);
}

static const char *proto_name(uint8_t family, uint8_t p)
{
	switch (p) {
	case 6:
		return "tcp";
	case 17:
		return "udp";
	case 1:
		return "icmp";
	case 58:
		return "icmpv6";
	case 132:
		return "sctp";
	default:
		return family ? NULL : "";
	}
}

static const char *dir_name(uint8_t dir)
{
	return dir == VXT_DIR_EGRESS ? "egress" : "ingress";
}

static uint64_t unix_ns(const struct vxt_snapshot *s, uint64_t mono_ns)
{
	return mono_ns ? (uint64_t)((int64_t)mono_ns + s->mono_to_unix_ns) : 0;
}

/* Does the tunnel key pass the request's filters? */
static bool wanted(const Iofence__V1__GetTunnelsRequest *q, const struct vxt_tunnel_key *k,
		   const char *src, const char *dst)
{
	if (q->outer_src && q->outer_src[0] && strcmp(q->outer_src, src))
		return false;
	if (q->outer_dst && q->outer_dst[0] && strcmp(q->outer_dst, dst))
		return false;
	if (q->has_vni && q->vni != k->vni)
		return false;
	if (q->direction && q->direction[0] && strcmp(q->direction, dir_name(k->dir)))
		return false;
	return true;
}

int modules_tunnels(struct agent *a, const Iofence__V1__GetTunnelsRequest *q, struct arena *ar,
		    ProtobufCMessage **ret, char *details, size_t len)
{
	Iofence__V1__GetTunnelsResponse *r = arena_alloc(ar, sizeof(*r));
	struct timespec now;

	if (!r)
		goto nomem;
	if (q->direction && q->direction[0] && strcmp(q->direction, "ingress") &&
	    strcmp(q->direction, "egress")) {
		snprintf(details, len, "direction must be ingress, egress or empty");
		return GRPC_STATUS_INVALID_ARGUMENT;
	}
	iofence__v1__get_tunnels_response__init(r);
	r->node = a->cfg.node;
	clock_gettime(CLOCK_REALTIME, &now);
	r->time_unix_nano = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
	*ret = &r->base;
	struct modules *m = a->modules;
	struct vxt_snapshot s;
	struct vxt_config c;
	char err[256] = "";
	size_t top = q->top_inner ? q->top_inner : TOP_INNER_DEFAULT;
	int rc;

	if (!m)
		return GRPC_STATUS_OK;
	if (top > TOP_INNER_MAX)
		top = TOP_INNER_MAX;
	pthread_mutex_lock(&m->lock);
	if (!m->vxt) {
		pthread_mutex_unlock(&m->lock);
		return GRPC_STATUS_OK; /* enabled = false */
	}
	vxt_get_config(m->vxt, &c);
	rc = vxt_read(m->vxt, &s, err, sizeof(err));
	r->enabled_at_unix = (uint64_t)m->enabled_at_unix;
	pthread_mutex_unlock(&m->lock);
	if (rc) {
		snprintf(details, len, "%s", err);
		return GRPC_STATUS_INTERNAL;
	}
	r->enabled = true;
	r->config = config_pb(ar, &c);
	r->malformed = s.stats[VXT_STAT_MALFORMED];
	r->non_vxlan = s.stats[VXT_STAT_NON_VXLAN];
	r->tunnel_evictions = s.tunnel_evictions;
	r->inner_evictions = s.inner_evictions;
	r->inner_complete = s.inner_evictions == 0;
	r->inner_entries = s.n_inner;
	r->tunnels = arena_alloc(ar, (s.n_tunnels + 1) * sizeof(*r->tunnels));
	r->inner = arena_alloc(ar, (top < s.n_inner ? top : s.n_inner) * sizeof(*r->inner) + 1);
	if (!r->tunnels || !r->inner || !r->config) {
		vxt_snapshot_free(&s);
		goto nomem;
	}
	for (size_t i = 0; i < s.n_tunnels; i++) {
		const struct vxt_tunnel_row *t = &s.tunnels[i];
		Iofence__V1__TunnelStats *pt = arena_alloc(ar, sizeof(*pt));

		if (!pt)
			break;
		iofence__v1__tunnel_stats__init(pt);
		pt->outer_src = addr_str(ar, t->key.src, t->key.family);
		pt->outer_dst = addr_str(ar, t->key.dst, t->key.family);
		if (!pt->outer_src || !pt->outer_dst || !wanted(q, &t->key, pt->outer_src, pt->outer_dst))
			continue;
		pt->vni = t->key.vni;
		pt->direction = (char *)dir_name(t->key.dir);
		pt->family = t->key.family == 6 ? "ipv6" : "ipv4";
		pt->packets = t->count.packets;
		pt->bytes = t->count.bytes;
		pt->first_seen_unix_nano = unix_ns(&s, t->count.first_seen);
		pt->last_seen_unix_nano = unix_ns(&s, t->count.last_seen);
		r->tunnels[r->n_tunnels++] = pt;
	}
	for (size_t i = 0; i < s.n_inner && r->n_inner < top; i++) {
		const struct vxt_inner_row *t = &s.inner[i];
		Iofence__V1__InnerPair *pi = arena_alloc(ar, sizeof(*pi));
		const char *pn;

		if (!pi)
			break;
		iofence__v1__inner_pair__init(pi);
		pi->outer_src = addr_str(ar, t->key.outer.src, t->key.outer.family);
		pi->outer_dst = addr_str(ar, t->key.outer.dst, t->key.outer.family);
		if (!pi->outer_src || !pi->outer_dst ||
		    !wanted(q, &t->key.outer, pi->outer_src, pi->outer_dst))
			continue;
		pi->vni = t->key.outer.vni;
		pi->direction = (char *)dir_name(t->key.outer.dir);
		pi->inner_family = t->key.family == 4 ? "ipv4" : t->key.family == 6 ? "ipv6" : "other";
		pi->inner_src = addr_str(ar, t->key.src, t->key.family);
		pi->inner_dst = addr_str(ar, t->key.dst, t->key.family);
		pn = proto_name(t->key.family, t->key.proto);
		pi->inner_protocol = pn ? (char *)pn : arena_printf(ar, "%u", t->key.proto);
		pi->inner_protocol_number = t->key.proto;
		pi->packets = t->count.packets;
		pi->bytes = t->count.bytes;
		pi->first_seen_unix_nano = unix_ns(&s, t->count.first_seen);
		pi->last_seen_unix_nano = unix_ns(&s, t->count.last_seen);
		r->inner[r->n_inner++] = pi;
	}
	vxt_snapshot_free(&s);
	return GRPC_STATUS_OK;
nomem:
	snprintf(details, len, "out of memory");
	return GRPC_STATUS_RESOURCE_EXHAUSTED;
}

void modules_status(struct agent *a, struct arena *ar, Iofence__V1__GetStatusResponse *r)
{
	struct modules *m = a->modules;

	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
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

static void label(FILE *f, const char *name, const char *v)
{
	fprintf(f, "%s=\"", name);
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			fputc('\\', f);
		fputc(*v, f);
	}
	fputc('"', f);
}

void modules_metrics(struct agent *a, FILE *f)
{
	struct modules *m = a->modules;
	struct vxt_snapshot s;
	int rc;

	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	rc = m->vxt ? vxt_read_tunnels(m->vxt, &s, NULL, 0) : -ENOENT; /* inner: API only */
	pthread_mutex_unlock(&m->lock);
	fprintf(f, "# HELP iofence_module_enabled Loadable module enabled (1) or not (0).\n"
		   "# TYPE iofence_module_enabled gauge\n"
		   "iofence_module_enabled{module=\"%s\"} %d\n",
		vxt_name, rc == 0);
	if (rc)
		return;
	static const char *const what[2] = {"packets", "bytes"};

	for (int w = 0; w < 2; w++) {
		fprintf(f,
			"# HELP iofence_vxlan_tunnel_%s_total VXLAN %s per outer pair, VNI and "
			"direction on the underlay (vxlan-trace).\n"
			"# TYPE iofence_vxlan_tunnel_%s_total counter\n",
			what[w], what[w], what[w]);
		for (size_t i = 0; i < s.n_tunnels; i++) {
			const struct vxt_tunnel_row *t = &s.tunnels[i];
			char src[INET6_ADDRSTRLEN] = "", dst[INET6_ADDRSTRLEN] = "";
			int af = t->key.family == 6 ? AF_INET6 : AF_INET;

			inet_ntop(af, t->key.src, src, sizeof(src));
			inet_ntop(af, t->key.dst, dst, sizeof(dst));
			fprintf(f, "iofence_vxlan_tunnel_%s_total{", what[w]);
			label(f, "outer_src", src);
			fputc(',', f);
			label(f, "outer_dst", dst);
			fprintf(f, ",vni=\"%u\",direction=\"%s\"} %llu\n", t->key.vni,
				dir_name(t->key.dir),
				(unsigned long long)(w ? t->count.bytes : t->count.packets));
		}
	}
	fprintf(f,
		"# HELP iofence_vxlan_packets_total Packets to a VXLAN port by outcome.\n"
		"# TYPE iofence_vxlan_packets_total counter\n"
		"iofence_vxlan_packets_total{outcome=\"vxlan\"} %llu\n"
		"iofence_vxlan_packets_total{outcome=\"malformed\"} %llu\n"
		"iofence_vxlan_packets_total{outcome=\"non_vxlan\"} %llu\n"
		"# HELP iofence_vxlan_evictions_total Entries pushed out of a full table.\n"
		"# TYPE iofence_vxlan_evictions_total counter\n"
		"iofence_vxlan_evictions_total{table=\"tunnel\"} %llu\n",
		(unsigned long long)s.stats[VXT_STAT_PACKETS],
		(unsigned long long)s.stats[VXT_STAT_MALFORMED],
		(unsigned long long)s.stats[VXT_STAT_NON_VXLAN],
		(unsigned long long)s.tunnel_evictions);
	vxt_snapshot_free(&s);
}
