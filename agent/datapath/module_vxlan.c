// SPDX-License-Identifier: Apache-2.0
/*
 * vxlan-trace: load, pin, attach, adopt and detach the module's program pair, and read its
 * tables (see module_vxlan.h for the pin layout and bpf/vxlan_trace.h for the eviction count).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp_internal.h"
#include "module_vxlan.h"
#include "vxlan_trace.skel.h"

#define VXT_TCX_INGRESS 46 /* BPF_TCX_INGRESS: Debian 12's uapi header predates it */
#define VXT_TCX_EGRESS 47

static const char *const map_pins[] = {"tunnels", "inner", "stats", "ports"};
static const char *const hook_names[2] = {"ingress", "egress"};

struct vxt_module {
	char base[PATH_MAX]; /* <pin-dir>/modules/vxlan-trace */
	int map_fd[4];	     /* in map_pins order */
	int prog_fd[2];	     /* ingress, egress */
	struct vxt_config cfg;
};

enum { MAP_TUNNELS, MAP_INNER, MAP_STATS, MAP_PORTS };

static void base_path(const char *pin_dir, char *buf, size_t len)
{
	snprintf(buf, len, "%s/modules/%s", pin_dir ? pin_dir : DP_DEFAULT_PIN_DIR,
		 VXT_MODULE_NAME);
}

bool vxt_pinned(const char *pin_dir)
{
	char path[PATH_MAX];
	struct stat st;

	base_path(pin_dir, path, sizeof(path));
	strncat(path, "/maps/tunnels", sizeof(path) - strlen(path) - 1);
	return stat(path, &st) == 0;
}

static uint32_t map_capacity(int fd)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.max_entries;
}

static void module_free(struct vxt_module *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < 4; i++)
		if (m->map_fd[i] >= 0)
			close(m->map_fd[i]);
	for (size_t i = 0; i < 2; i++)
		if (m->prog_fd[i] >= 0)
			close(m->prog_fd[i]);
	free(m);
}

void vxt_close(struct vxt_module *m)
{
	module_free(m);
}

/* Opens the pinned maps and programs. */
static int open_pins(struct vxt_module *m, char *err, size_t len)
{
	char path[PATH_MAX];

	for (size_t i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/maps/%s", m->base, map_pins[i]);
		m->map_fd[i] = bpf_obj_get(path);
		if (m->map_fd[i] < 0)
			return dp_err(err, len, -errno, "vxlan-trace: open %s: %s", path,
				      strerror(errno));
	}
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/progs/%s", m->base, hook_names[i]);
		m->prog_fd[i] = bpf_obj_get(path);
		if (m->prog_fd[i] < 0)
			return dp_err(err, len, -errno, "vxlan-trace: open %s: %s", path,
				      strerror(errno));
	}
	return 0;
}

static int pin_fd(int fd, const char *base, const char *dir, const char *name, char *err,
		  size_t len)
{
	char path[PATH_MAX];
	int r;

	snprintf(path, sizeof(path), "%s/%s", base, dir);
	r = dp_mkdir_p(path, 0700);
	if (r)
		return dp_err(err, len, r, "vxlan-trace: create %s: %s", path, strerror(-r));
	snprintf(path, sizeof(path), "%s/%s/%s", base, dir, name);
	unlink(path);
	if (bpf_obj_pin(fd, path))
		return dp_err(err, len, -errno, "vxlan-trace: pin %s: %s", path, strerror(errno));
	return 0;
}

/* Loads a fresh object with cfg's capacities and pins its maps and programs. */
static int load_and_pin(const char *base, const struct vxt_config *cfg, char *err, size_t len)
{
	struct vxlan_trace *skel = vxlan_trace__open();
	uint32_t tcap = cfg->tunnel_capacity ? cfg->tunnel_capacity : VXT_TUNNELS_DEFAULT;
	uint32_t icap = cfg->inner_capacity ? cfg->inner_capacity : VXT_INNER_DEFAULT;
	int r;

	if (!skel)
		return dp_err(err, len, -errno, "vxlan-trace: open object: %s", strerror(errno));
	if (bpf_map__set_max_entries(skel->maps.vxt_tunnels, tcap) ||
	    bpf_map__set_max_entries(skel->maps.vxt_inner, icap)) {
		vxlan_trace__destroy(skel);
		return dp_err(err, len, -EINVAL, "vxlan-trace: set capacities");
	}
	r = vxlan_trace__load(skel);
	if (r) {
		vxlan_trace__destroy(skel);
		return dp_err(err, len, r, "vxlan-trace: load: %s", strerror(-r));
	}
	const int maps[4] = {bpf_map__fd(skel->maps.vxt_tunnels), bpf_map__fd(skel->maps.vxt_inner),
			     bpf_map__fd(skel->maps.vxt_stats), bpf_map__fd(skel->maps.vxt_ports)};
	const int progs[2] = {bpf_program__fd(skel->progs.vxt_ingress),
			      bpf_program__fd(skel->progs.vxt_egress)};

	for (size_t i = 0; !r && i < 4; i++)
		r = pin_fd(maps[i], base, "maps", map_pins[i], err, len);
	for (size_t i = 0; !r && i < 2; i++)
		r = pin_fd(progs[i], base, "progs", hook_names[i], err, len);
	vxlan_trace__destroy(skel); /* the pins hold the maps and programs */
	return r;
}

static int write_ports(struct vxt_module *m, const struct vxt_config *cfg, char *err, size_t len)
{
	struct vxt_ports p = {{0}};
	__u32 zero = 0;

	if (cfg->n_ports == 0)
		p.port[0] = VXT_DEFAULT_PORT;
	for (size_t i = 0; i < cfg->n_ports && i < VXT_PORTS_MAX; i++)
		p.port[i] = cfg->ports[i];
	if (bpf_map_update_elem(m->map_fd[MAP_PORTS], &zero, &p, BPF_ANY))
		return dp_err(err, len, -errno, "vxlan-trace: write ports: %s", strerror(errno));
	return 0;
}

static int link_ifindex(int fd, uint32_t *prog_id)
{
	struct bpf_link_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	if (prog_id)
		*prog_id = info.prog_id;
	return (int)info.xdp.ifindex; /* tcx links start with ifindex too (older uapi header) */
}

/* Attaches both hooks to ifname unless live links to it are pinned already. */
static int attach_iface(struct vxt_module *m, const char *ifname, char *err, size_t len)
{
	char path[PATH_MAX], dir[PATH_MAX];
	unsigned ifindex = if_nametoindex(ifname);
	int r;

	if (!ifindex)
		return dp_err(err, len, -ENODEV, "vxlan-trace: interface %s not found", ifname);
	snprintf(dir, sizeof(dir), "%s/links/%s", m->base, ifname);
	r = dp_mkdir_p(dir, 0700);
	if (r)
		return dp_err(err, len, r, "vxlan-trace: create %s: %s", dir, strerror(-r));
	for (size_t h = 0; h < 2; h++) {
		int fd;

		snprintf(path, sizeof(path), "%s/%s", dir, hook_names[h]);
		fd = bpf_obj_get(path);
		if (fd >= 0) {
			bool live = (unsigned)link_ifindex(fd, NULL) == ifindex;

			close(fd);
			if (live)
				continue;
			unlink(path); /* a link of a vanished device */
		}
		fd = bpf_link_create(m->prog_fd[h], (int)ifindex,
				     (enum bpf_attach_type)(h ? VXT_TCX_EGRESS : VXT_TCX_INGRESS),
				     NULL);
		if (fd < 0)
			return dp_err(err, len, fd, "vxlan-trace: attach %s %s: %s", ifname,
				      hook_names[h], strerror(-fd));
		if (bpf_obj_pin(fd, path)) {
			r = -errno;
			close(fd);
			return dp_err(err, len, r, "vxlan-trace: pin %s: %s", path, strerror(-r));
		}
		close(fd); /* the pin keeps the link */
	}
	return 0;
}

static void detach_iface(const char *base, const char *ifname)
{
	char path[PATH_MAX];

	for (size_t h = 0; h < 2; h++) {
		snprintf(path, sizeof(path), "%s/links/%s/%s", base, ifname, hook_names[h]);
		unlink(path); /* the last reference: the kernel detaches the link */
	}
	snprintf(path, sizeof(path), "%s/links/%s", base, ifname);
	rmdir(path);
}

/* Interfaces with a links/<ifname> folder. */
static size_t pinned_ifaces(const char *base, char (*ret)[IF_NAMESIZE], size_t max)
{
	char path[PATH_MAX];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/links", base);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d)) && n < max) {
		if (de->d_name[0] == '.' || strlen(de->d_name) >= IF_NAMESIZE)
			continue;
		snprintf(ret[n++], IF_NAMESIZE, "%s", de->d_name);
	}
	closedir(d);
	return n;
}

static bool cfg_has_iface(const struct vxt_config *cfg, const char *ifname)
{
	for (size_t i = 0; i < cfg->n_ifaces; i++)
		if (!strcmp(cfg->ifaces[i], ifname))
			return true;
	return false;
}

/* The effective configuration, from the pins. */
static void read_config(struct vxt_module *m)
{
	struct vxt_ports p = {{0}};
	__u32 zero = 0;

	memset(&m->cfg, 0, sizeof(m->cfg));
	m->cfg.n_ifaces = pinned_ifaces(m->base, m->cfg.ifaces, VXT_IFACES_MAX);
	if (!bpf_map_lookup_elem(m->map_fd[MAP_PORTS], &zero, &p))
		for (size_t i = 0; i < VXT_PORTS_MAX; i++)
			if (p.port[i])
				m->cfg.ports[m->cfg.n_ports++] = p.port[i];
	m->cfg.tunnel_capacity = map_capacity(m->map_fd[MAP_TUNNELS]);
	m->cfg.inner_capacity = map_capacity(m->map_fd[MAP_INNER]);
}

int vxt_open(const char *pin_dir, const struct vxt_config *cfg, struct vxt_module **ret,
	     char *err, size_t len)
{
	struct vxt_module *m = calloc(1, sizeof(*m));
	bool fresh = false;
	int r;

	*ret = NULL;
	if (!m)
		return dp_err(err, len, -ENOMEM, "vxlan-trace: out of memory");
	for (size_t i = 0; i < 4; i++)
		m->map_fd[i] = -1;
	m->prog_fd[0] = m->prog_fd[1] = -1;
	base_path(pin_dir, m->base, sizeof(m->base));
	if (!cfg && !vxt_pinned(pin_dir)) {
		module_free(m);
		return dp_err(err, len, -ENOENT, "vxlan-trace: not enabled");
	}
	if (cfg) {
		for (size_t i = 0; i < cfg->n_ifaces; i++)
			if (!if_nametoindex(cfg->ifaces[i])) {
				module_free(m);
				return dp_err(err, len, -ENODEV,
					      "vxlan-trace: interface %s not found",
					      cfg->ifaces[i]);
			}
		r = dp_bpffs_prepare(pin_dir ? pin_dir : DP_DEFAULT_PIN_DIR, err, len);
		if (r) {
			module_free(m);
			return r;
		}
		if (vxt_pinned(pin_dir)) {
			r = open_pins(m, err, len);
			uint32_t tcap = cfg->tunnel_capacity ? cfg->tunnel_capacity
							     : VXT_TUNNELS_DEFAULT;
			uint32_t icap = cfg->inner_capacity ? cfg->inner_capacity
							    : VXT_INNER_DEFAULT;

			if (r || map_capacity(m->map_fd[MAP_TUNNELS]) != tcap ||
			    map_capacity(m->map_fd[MAP_INNER]) != icap) {
				/* New capacities (or broken pins): start over. */
				module_free(m);
				vxt_disable(pin_dir, NULL, 0);
				return vxt_open(pin_dir, cfg, ret, err, len);
			}
		} else {
			r = load_and_pin(m->base, cfg, err, len);
			fresh = true;
			if (!r)
				r = open_pins(m, err, len);
		}
		if (!r)
			r = write_ports(m, cfg, err, len);
		if (!r) {
			char have[VXT_IFACES_MAX][IF_NAMESIZE];
			size_t n = pinned_ifaces(m->base, have, VXT_IFACES_MAX);

			for (size_t i = 0; i < n; i++)
				if (!cfg_has_iface(cfg, have[i]))
					detach_iface(m->base, have[i]);
			for (size_t i = 0; !r && i < cfg->n_ifaces; i++)
				r = attach_iface(m, cfg->ifaces[i], err, len);
		}
	} else {
		r = open_pins(m, err, len);
		if (!r) {
			/* Interfaces recreated while nobody watched: attach again where they are. */
			char have[VXT_IFACES_MAX][IF_NAMESIZE];
			size_t n = pinned_ifaces(m->base, have, VXT_IFACES_MAX);

			for (size_t i = 0; i < n; i++)
				if (if_nametoindex(have[i]))
					attach_iface(m, have[i], NULL, 0);
		}
	}
	if (r) {
		module_free(m);
		if (fresh)
			vxt_disable(pin_dir, NULL, 0);
		return r;
	}
	read_config(m);
	*ret = m;
	return 0;
}

int vxt_disable(const char *pin_dir, char *err, size_t len)
{
	char base[PATH_MAX], have[VXT_IFACES_MAX][IF_NAMESIZE];
	size_t n;
	int r;

	base_path(pin_dir, base, sizeof(base));
	n = pinned_ifaces(base, have, VXT_IFACES_MAX);
	for (size_t i = 0; i < n; i++)
		detach_iface(base, have[i]); /* links first: no program runs on unpinned maps */
	r = dp_rm_rf(base);
	if (r)
		return dp_err(err, len, r, "vxlan-trace: remove %s: %s", base, strerror(-r));
	snprintf(base, sizeof(base), "%s/modules", pin_dir ? pin_dir : DP_DEFAULT_PIN_DIR);
	rmdir(base); /* when no other module is left */
	return 0;
}

void vxt_get_config(const struct vxt_module *m, struct vxt_config *ret)
{
	*ret = m->cfg;
}

size_t vxt_hooks(const struct vxt_module *m, struct vxt_hook *ret, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < m->cfg.n_ifaces; i++) {
		unsigned ifindex = if_nametoindex(m->cfg.ifaces[i]);

		for (size_t h = 0; h < 2 && n < max; h++) {
			char path[PATH_MAX];
			struct vxt_hook *k = &ret[n++];
			int fd;

			memset(k, 0, sizeof(*k));
			snprintf(k->iface, sizeof(k->iface), "%s", m->cfg.ifaces[i]);
			k->hook = hook_names[h];
			snprintf(path, sizeof(path), "%s/links/%s/%s", m->base, m->cfg.ifaces[i],
				 hook_names[h]);
			fd = bpf_obj_get(path);
			if (fd < 0)
				continue;
			k->attached = ifindex && (unsigned)link_ifindex(fd, &k->prog_id) == ifindex;
			close(fd);
		}
	}
	return n;
}

/* ---- reader ---- */

static int stats_sum(int fd, uint64_t out[VXT_STAT_MAX])
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *v;

	if (ncpu <= 0)
		return -EINVAL;
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (__u32 i = 0; i < VXT_STAT_MAX; i++) {
		out[i] = 0;
		if (bpf_map_lookup_elem(fd, &i, v))
			continue;
		for (int c = 0; c < ncpu; c++)
			out[i] += v[c];
	}
	free(v);
	return 0;
}

/* A per-CPU value summed: packets and bytes added, the earliest first and latest last seen. */
static void fold(const struct vxt_count *v, int ncpu, struct vxt_count *ret)
{
	memset(ret, 0, sizeof(*ret));
	for (int c = 0; c < ncpu; c++) {
		ret->packets += v[c].packets;
		ret->bytes += v[c].bytes;
		if (v[c].first_seen && (!ret->first_seen || v[c].first_seen < ret->first_seen))
			ret->first_seen = v[c].first_seen;
		if (v[c].last_seen > ret->last_seen)
			ret->last_seen = v[c].last_seen;
	}
}

/* Every entry of a per-CPU LRU hash into a growing array of rows {key, summed count}. */
static int read_table(int fd, size_t key_size, void **rows, size_t *n_rows)
{
	size_t row = key_size + sizeof(struct vxt_count), cap = 0, n = 0, walked = 0;
	uint8_t key[sizeof(struct vxt_inner_key)], next[sizeof(struct vxt_inner_key)];
	int ncpu = libbpf_num_possible_cpus();
	struct vxt_count *per_cpu;
	uint8_t *buf = NULL;
	void *prev = NULL;

	if (ncpu <= 0)
		return -EINVAL;
	per_cpu = calloc((size_t)ncpu, sizeof(*per_cpu));
	if (!per_cpu)
		return -ENOMEM;
	/* Bounded: a key evicted under the walk restarts it from the first key. */
	while (bpf_map_get_next_key(fd, prev, next) == 0 && walked++ < (VXT_CAPACITY_MAX << 1)) {
		memcpy(key, next, key_size);
		prev = key;
		if (n == cap) {
			size_t c = cap ? cap * 2 : 64;
			void *p = realloc(buf, c * row);

			if (!p) {
				free(buf);
				free(per_cpu);
				return -ENOMEM;
			}
			buf = p;
			cap = c;
		}
		if (bpf_map_lookup_elem(fd, key, per_cpu))
			continue; /* evicted meanwhile */
		memcpy(buf + n * row, key, key_size);
		fold(per_cpu, ncpu, (struct vxt_count *)(buf + n * row + key_size));
		n++;
	}
	free(per_cpu);
	*rows = buf;
	*n_rows = n;
	return 0;
}

static int by_bytes_desc(const void *a, const void *b)
{
	const struct vxt_inner_row *x = a, *y = b;

	if (x->count.bytes != y->count.bytes)
		return x->count.bytes < y->count.bytes ? 1 : -1;
	return x->count.packets < y->count.packets ? 1 : x->count.packets > y->count.packets ? -1 : 0;
}

static uint64_t evictions(uint64_t inserts, size_t entries)
{
	return inserts > entries ? inserts - entries : 0;
}

int vxt_read_fds(int tunnels_fd, int inner_fd, int stats_fd, struct vxt_snapshot *ret, char *err,
		 size_t len)
{
	_Static_assert(sizeof(struct vxt_tunnel_row) ==
			   sizeof(struct vxt_tunnel_key) + sizeof(struct vxt_count),
		       "rows are packed {key, count}");
	_Static_assert(sizeof(struct vxt_inner_row) ==
			   sizeof(struct vxt_inner_key) + sizeof(struct vxt_count),
		       "rows are packed {key, count}");
	uint64_t before[VXT_STAT_MAX];
	struct timespec rt, bt;
	int r = 0;

	memset(ret, 0, sizeof(*ret));
	/* An insert during the walk would look like an eviction: walk again until none. */
	for (int attempt = 0; attempt < 4; attempt++) {
		vxt_snapshot_free(ret);
		r = stats_sum(stats_fd, before);
		if (!r)
			r = read_table(tunnels_fd, sizeof(struct vxt_tunnel_key),
				       (void **)&ret->tunnels, &ret->n_tunnels);
		if (!r && inner_fd >= 0)
			r = read_table(inner_fd, sizeof(struct vxt_inner_key), (void **)&ret->inner,
				       &ret->n_inner);
		if (!r)
			r = stats_sum(stats_fd, ret->stats);
		if (r)
			return dp_err(err, len, r, "vxlan-trace: read tables: %s", strerror(-r));
		if (before[VXT_STAT_TUNNEL_INSERTS] == ret->stats[VXT_STAT_TUNNEL_INSERTS] &&
		    before[VXT_STAT_INNER_INSERTS] == ret->stats[VXT_STAT_INNER_INSERTS])
			break;
	}
	ret->tunnel_evictions = evictions(before[VXT_STAT_TUNNEL_INSERTS], ret->n_tunnels);
	ret->inner_evictions =
	    inner_fd >= 0 ? evictions(before[VXT_STAT_INNER_INSERTS], ret->n_inner) : 0;
	qsort(ret->inner, ret->n_inner, sizeof(*ret->inner), by_bytes_desc);
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &bt);
	ret->mono_to_unix_ns = ((int64_t)rt.tv_sec - bt.tv_sec) * 1000000000LL +
			       ((int64_t)rt.tv_nsec - bt.tv_nsec);
	return 0;
}

int vxt_read(struct vxt_module *m, struct vxt_snapshot *ret, char *err, size_t len)
{
	return vxt_read_fds(m->map_fd[MAP_TUNNELS], m->map_fd[MAP_INNER], m->map_fd[MAP_STATS], ret,
			    err, len);
}

int vxt_read_tunnels(struct vxt_module *m, struct vxt_snapshot *ret, char *err, size_t len)
{
	return vxt_read_fds(m->map_fd[MAP_TUNNELS], -1, m->map_fd[MAP_STATS], ret, err, len);
}

void vxt_snapshot_free(struct vxt_snapshot *s)
{
	free(s->tunnels);
	free(s->inner);
	s->tunnels = NULL;
	s->inner = NULL;
	s->n_tunnels = s->n_inner = 0;
}
