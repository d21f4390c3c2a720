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
	char failed[VXT_IFACES_MAX][160]; /* per cfg.ifaces: why the last attach failed, or "" */
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

/*
 * Records ifname as configured (its links/ folder) and attaches both hooks to it unless live
 * links to it are pinned already. -ENODEV: no such interface now (the module waits for it).
 */
static int attach_iface(struct vxt_module *m, const char *ifname, char *err, size_t len)
{
	char path[PATH_MAX], dir[PATH_MAX];
	unsigned ifindex;
	int r;

	snprintf(dir, sizeof(dir), "%s/links/%s", m->base, ifname);
	r = dp_mkdir_p(dir, 0700);
	if (r)
		return dp_err(err, len, r, "vxlan-trace: create %s: %s", dir, strerror(-r));
	ifindex = if_nametoindex(ifname);
	if (!ifindex)
		return dp_err(err, len, -ENODEV, "vxlan-trace: waiting for interface %s", ifname);
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

/* Unpins ifname's links (the last reference: the kernel detaches them); the folder stays. */
static void drop_links(const char *base, const char *ifname)
{
	char path[PATH_MAX];

	for (size_t h = 0; h < 2; h++) {
		snprintf(path, sizeof(path), "%s/links/%s/%s", base, ifname, hook_names[h]);
		unlink(path);
	}
}

/* Forgets ifname: its links and its record. */
static void detach_iface(const char *base, const char *ifname)
{
	char path[PATH_MAX];

	drop_links(base, ifname);
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
			for (size_t i = 0; !r && i < cfg->n_ifaces; i++) {
				r = attach_iface(m, cfg->ifaces[i], err, len);
				if (r == -ENODEV)
					r = 0; /* waited for */
			}
		}
	} else {
		r = open_pins(m, err, len);
	}
	if (r) {
		module_free(m);
		if (fresh)
			vxt_disable(pin_dir, NULL, 0);
		return r;
	}
	read_config(m);
	/* Adopted: interfaces created, deleted or re-created while nobody watched. */
	vxt_sync(m);
	*ret = m;
	return 0;
}

void vxt_sync(struct vxt_module *m)
{
	for (size_t i = 0; i < m->cfg.n_ifaces; i++) {
		const char *ifname = m->cfg.ifaces[i];
		int r;

		if (!if_nametoindex(ifname)) {
			drop_links(m->base, ifname); /* links of a vanished device */
			m->failed[i][0] = 0;
			continue;
		}
		r = attach_iface(m, ifname, m->failed[i], sizeof(m->failed[i]));
		if (!r || r == -ENODEV) /* -ENODEV: gone again meanwhile */
			m->failed[i][0] = 0;
	}
}

/* Whether both hooks have live links to ifindex. */
static bool hooks_live(const struct vxt_module *m, const char *ifname, unsigned ifindex)
{
	char path[PATH_MAX];
	bool live = ifindex != 0;

	for (size_t h = 0; live && h < 2; h++) {
		int fd;

		snprintf(path, sizeof(path), "%s/links/%s/%s", m->base, ifname, hook_names[h]);
		fd = bpf_obj_get(path);
		live = fd >= 0 && (unsigned)link_ifindex(fd, NULL) == ifindex;
		if (fd >= 0)
			close(fd);
	}
	return live;
}

size_t vxt_attachments(const struct vxt_module *m, struct vxt_attachment *ret, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < m->cfg.n_ifaces && n < max; i++) {
		struct vxt_attachment *a = &ret[n++];
		unsigned ifindex = if_nametoindex(m->cfg.ifaces[i]);

		memset(a, 0, sizeof(*a));
		snprintf(a->iface, sizeof(a->iface), "%s", m->cfg.ifaces[i]);
		if (hooks_live(m, a->iface, ifindex)) {
			a->state = VXT_ATTACHED;
			a->ifindex = ifindex;
		} else if (!ifindex) {
			a->state = VXT_WAITING;
			snprintf(a->reason, sizeof(a->reason), "interface %s does not exist",
				 a->iface);
		} else if (m->failed[i][0]) {
			a->state = VXT_FAILED;
			snprintf(a->reason, sizeof(a->reason), "%s", m->failed[i]);
		} else {
			a->state = VXT_WAITING; /* its link event is on its way */
			snprintf(a->reason, sizeof(a->reason), "interface %s appeared: attaching",
				 a->iface);
		}
	}
	return n;
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

int vxt_read(struct vxt_module *m, struct vxt_snapshot *ret, char *err, size_t len)
{
	return vxt_read_fds(m->map_fd[MAP_TUNNELS], m->map_fd[MAP_INNER], m->map_fd[MAP_STATS], ret,
			    err, len);
}

int vxt_read_tunnels(struct vxt_module *m, struct vxt_snapshot *ret, char *err, size_t len)
{
	return vxt_read_fds(m->map_fd[MAP_TUNNELS], -1, m->map_fd[MAP_STATS], ret, err, len);
}

int vxt_count(struct vxt_module *m, struct vxt_counts *ret)
{
	return vxt_count_fds(m->map_fd[MAP_TUNNELS], m->map_fd[MAP_INNER], m->map_fd[MAP_STATS],
			     ret);
}
