// SPDX-License-Identifier: Apache-2.0
/*
 * Attachments: tcx links on endpoint interfaces (tc clsact filters on kernels without tcx),
 * XDP links on prefilter uplinks and cgroup links on cgroup endpoints, each pinned under
 * <pin>/links so that a later process adopts them, upgrades their programs in place with
 * bpf_link_update, or detaches them. Layout:
 *   links/tc/<ifname>/{ingress,egress}   links/xdp/<ifname>   links/cg/<id>/<hook>
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "dp_internal.h"

/* Kernel 6.6+ attach types; Debian 12's uapi header predates them. */
_Static_assert(BPF_LSM_CGROUP == 43, "enum bpf_attach_type numbering");
#define DP_BPF_TCX_INGRESS 46
#define DP_BPF_TCX_EGRESS 47

static const struct hook tc_hooks[2] = {
    {"ingress", DP_PROG_TC_FROM_EP, DP_BPF_TCX_INGRESS},
    {"egress", DP_PROG_TC_TO_EP, DP_BPF_TCX_EGRESS},
};

static const struct hook xdp_hooks[1] = {{"xdp", DP_PROG_XDP_PREFILTER, BPF_XDP}};

static const struct hook cg_hooks[DP_CG_HOOKS] = {
    {"connect4", DP_PROG_CG_CONNECT4, BPF_CGROUP_INET4_CONNECT},
    {"connect6", DP_PROG_CG_CONNECT6, BPF_CGROUP_INET6_CONNECT},
    {"sendmsg4", DP_PROG_CG_SENDMSG4, BPF_CGROUP_UDP4_SENDMSG},
    {"sendmsg6", DP_PROG_CG_SENDMSG6, BPF_CGROUP_UDP6_SENDMSG},
    {"skb_ingress", DP_PROG_CG_SKB_INGRESS, BPF_CGROUP_INET_INGRESS},
    {"skb_egress", DP_PROG_CG_SKB_EGRESS, BPF_CGROUP_INET_EGRESS},
};

const struct hook *dp_hooks_of(enum dp_att_kind kind, size_t *n)
{
	switch (kind) {
	case DP_ATT_TC:
		*n = 2;
		return tc_hooks;
	case DP_ATT_XDP:
		*n = 1;
		return xdp_hooks;
	default:
		*n = DP_CG_HOOKS;
		return cg_hooks;
	}
}

const char *const dp_kind_dir[] = {"tc", "xdp", "cg"};

/* Folder of an attachment's links (TC, CG) or the link pin itself (XDP). */
void dp_att_path(const struct datapath *dp, enum dp_att_kind kind, const char *name, char *buf,
		 size_t len)
{
	snprintf(buf, len, "%s/links/%s/%s", dp->pin_dir, dp_kind_dir[kind], name);
}

void dp_hook_path(const struct datapath *dp, const struct dp_attachment *att, size_t h, char *buf,
		  size_t len)
{
	size_t n;
	const struct hook *hk = dp_hooks_of(att->kind, &n);

	if (att->kind == DP_ATT_XDP)
		dp_att_path(dp, att->kind, att->name, buf, len);
	else
		snprintf(buf, len, "%s/links/%s/%s/%s", dp->pin_dir, dp_kind_dir[att->kind],
			 att->name, hk[h].pin);
}

struct dp_attachment *dp_att_new(struct datapath *dp, enum dp_att_kind kind, const char *name)
{
	struct dp_attachment *att;

	if (dp->n_atts == dp->cap_atts) {
		size_t cap = dp->cap_atts ? 2 * dp->cap_atts : 16;
		void *p = realloc(dp->atts, cap * sizeof(*dp->atts));

		if (!p)
			return NULL;
		dp->atts = p;
		dp->cap_atts = cap;
	}
	att = &dp->atts[dp->n_atts];
	memset(att, 0, sizeof(*att));
	att->name = strdup(name);
	if (!att->name)
		return NULL;
	att->kind = kind;
	for (size_t h = 0; h < DP_MAX_HOOKS; h++)
		att->link_fd[h] = -1;
	dp->n_atts++;
	return att;
}

void dp_att_remove(struct datapath *dp, size_t i)
{
	struct dp_attachment *att = &dp->atts[i];

	for (size_t h = 0; h < DP_MAX_HOOKS; h++)
		if (att->link_fd[h] >= 0)
			close(att->link_fd[h]);
	free(att->name);
	dp->atts[i] = dp->atts[--dp->n_atts];
}

void dp_atts_free(struct datapath *dp)
{
	while (dp->n_atts)
		dp_att_remove(dp, dp->n_atts - 1);
	free(dp->atts);
	dp->atts = NULL;
	dp->cap_atts = 0;
}

struct dp_attachment *dp_att_find(struct datapath *dp, enum dp_att_kind kind, const char *name)
{
	for (size_t i = 0; i < dp->n_atts; i++)
		if (dp->atts[i].kind == kind && !strcmp(dp->atts[i].name, name))
			return &dp->atts[i];
	return NULL;
}

struct dp_attachment *dp_att_find_cgroup(struct datapath *dp, uint64_t cgroup_id)
{
	for (size_t i = 0; i < dp->n_atts; i++)
		if (dp->atts[i].kind == DP_ATT_CG && dp->atts[i].cgroup_id == cgroup_id)
			return &dp->atts[i];
	return NULL;
}

static int link_info(int fd, struct bpf_link_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	return bpf_obj_get_info_by_fd(fd, info, &len) ? -errno : 0;
}

/* A link still attached to its device or cgroup (the kernel keeps defunct links of vanished
 * devices and cgroups until their last reference goes). */
bool dp_link_alive(int fd)
{
	struct bpf_link_info info;

	if (fd < 0 || link_info(fd, &info))
		return false;
	if (info.type == BPF_LINK_TYPE_CGROUP)
		return info.cgroup.cgroup_id != 0;
	return info.xdp.ifindex != 0; /* xdp and tcx both start with ifindex */
}

/* An attachment whose links must all be alive: TC and XDP hooks, a cgroup's present ones. */
bool dp_att_alive(const struct dp_attachment *att, const char **dead)
{
	size_t hooks;
	const struct hook *hk = dp_hooks_of(att->kind, &hooks);

	if (att->tc_legacy)
		return true;
	for (size_t h = 0; h < hooks; h++) {
		if (att->link_fd[h] < 0 && att->kind == DP_ATT_CG)
			continue;
		if (!dp_link_alive(att->link_fd[h])) {
			*dead = hk[h].pin;
			return false;
		}
	}
	return true;
}

static int pin_link(int fd, const char *path)
{
	if (bpf_obj_pin(fd, path) == 0)
		return 0;
	if (errno != EEXIST)
		return -errno;
	unlink(path); /* a stale pin of a link we dropped */
	return bpf_obj_pin(fd, path) ? -errno : 0;
}

/* Unpins and closes every link of att (the kernel detaches a link with its last reference);
 * legacy tc filters are deleted. The caller removes att from the table. */
void dp_detach(struct datapath *dp, struct dp_attachment *att)
{
	char path[PATH_MAX];
	size_t n;

	dp_hooks_of(att->kind, &n);
	if (att->kind == DP_ATT_TC && dp->fds.ep_settle >= 0)
		bpf_map_delete_elem(dp->fds.ep_settle, &att->ifindex);
	if (att->tc_legacy) {
		for (size_t h = 0; h < 2; h++) {
			DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)att->ifindex,
					    .attach_point = h ? BPF_TC_EGRESS : BPF_TC_INGRESS);
			DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = DP_TC_HANDLE,
					    .priority = DP_TC_PRIORITY);
			bpf_tc_detach(&hook, &o);
		}
		snprintf(path, sizeof(path), "%s/links/tc-legacy/%s", dp->pin_dir, att->name);
		rmdir(path);
		return;
	}
	for (size_t h = 0; h < n; h++) {
		dp_hook_path(dp, att, h, path, sizeof(path));
		unlink(path);
		if (att->link_fd[h] >= 0) {
			close(att->link_fd[h]);
			att->link_fd[h] = -1;
		}
	}
	if (att->kind != DP_ATT_XDP) {
		dp_att_path(dp, att->kind, att->name, path, sizeof(path));
		rmdir(path);
	}
}

int dp_attach_tc_legacy(struct datapath *dp, struct dp_attachment *att, char *err, size_t len)
{
	char path[PATH_MAX];

	for (size_t h = 0; h < 2; h++) {
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)att->ifindex,
				    .attach_point = h ? BPF_TC_EGRESS : BPF_TC_INGRESS);
		DECLARE_LIBBPF_OPTS(
		    bpf_tc_opts, o, .handle = DP_TC_HANDLE, .priority = DP_TC_PRIORITY,
		    .prog_fd = dp->prog_fd[tc_hooks[h].prog], .flags = BPF_TC_F_REPLACE);
		int r = bpf_tc_hook_create(&hook);

		if (r && r != -EEXIST)
			return dp_err(err, len, r, "%s: create clsact: %s", att->name,
				      strerror(-r));
		r = bpf_tc_attach(&hook, &o);
		if (r)
			return dp_err(err, len, r, "%s: tc attach %s: %s", att->name,
				      tc_hooks[h].pin, strerror(-r));
	}
	att->tc_legacy = true;
	snprintf(path, sizeof(path), "%s/links/tc-legacy/%s", dp->pin_dir, att->name);
	dp_mkdir_p(path, 0700); /* the marker an adopting process finds */
	return 0;
}

static bool tcx_disabled(void)
{
	const char *e = getenv("IOFENCE_DP_NO_TCX"); /* tests of the fallback */

	return e && *e && strcmp(e, "0");
}

/* Creates (or finds alive) the links of one attachment and pins them. */
static int attach_links(struct datapath *dp, struct dp_attachment *att, int target_fd, char *err,
			size_t len)
{
	char path[PATH_MAX];
	size_t n;
	const struct hook *hk = dp_hooks_of(att->kind, &n);
	int r;

	if (att->kind != DP_ATT_XDP)
		dp_att_path(dp, att->kind, att->name, path, sizeof(path));
	else
		snprintf(path, sizeof(path), "%s/links/xdp", dp->pin_dir);
	r = dp_mkdir_p(path, 0700);
	if (r)
		return dp_err(err, len, r, "create %s: %s", path, strerror(-r));
	/*
	 * TC: egress (to the workload) first. Each tcx link creation waits for an RCU grace
	 * period under rtnl; traffic towards the workload is judged one grace period sooner.
	 */
	for (size_t i = 0; i < n; i++) {
		size_t h = att->kind == DP_ATT_TC ? n - 1 - i : i;
		int prog = dp->prog_fd[hk[h].prog], fd;

		if (prog < 0) {
			if (att->kind == DP_ATT_CG)
				continue; /* an object without this socket hook */
			return dp_err(err, len, -ENOENT, "%s: program %s not loaded", att->name,
				      dp_prog_names[hk[h].prog]);
		}
		if (att->kind == DP_ATT_TC && tcx_disabled()) {
			fd = -EOPNOTSUPP;
		} else if (att->kind == DP_ATT_XDP) {
			DECLARE_LIBBPF_OPTS(bpf_link_create_opts, o,
					    .flags = dp->xdp_generic ? XDP_FLAGS_SKB_MODE
								     : XDP_FLAGS_DRV_MODE);
			fd = bpf_link_create(prog, target_fd, BPF_XDP, &o);
			if (fd < 0 && !dp->xdp_generic) {
				o.flags = XDP_FLAGS_SKB_MODE;
				fd = bpf_link_create(prog, target_fd, BPF_XDP, &o);
			}
		} else {
			fd = bpf_link_create(prog, target_fd,
					     (enum bpf_attach_type)hk[h].attach_type, NULL);
		}
		if (fd < 0) {
			r = fd;
			if (att->kind == DP_ATT_TC && i == 0 &&
			    (r == -EINVAL || r == -EOPNOTSUPP || r == -524 /* ENOTSUPP */)) {
				dp_att_path(dp, att->kind, att->name, path, sizeof(path));
				rmdir(path);
				return dp_attach_tc_legacy(dp, att, err, len);
			}
			return dp_err(err, len, r, "%s: attach %s: %s", att->name, hk[h].pin,
				      strerror(-r));
		}
		att->link_fd[h] = fd;
		dp_hook_path(dp, att, h, path, sizeof(path));
		r = pin_link(fd, path);
		if (r)
			return dp_err(err, len, r, "pin %s: %s", path, strerror(-r));
	}
	return 0;
}

/*
 * Before the hooks of an interface that is already up are attached: its workload may have
 * answered packets no hook judged, so its flows opened in the next IOF_SETTLE_NS are
 * provisional (datapath_maps.h). An interface attached while down needs no settle entry.
 */
static void settle_begin(struct datapath *dp, const char *ifname, uint32_t ifindex)
{
	struct timespec ts;
	__u64 until;

	if (dp->fds.ep_settle < 0)
		return;
	if (!dp_interface_up(ifname)) {
		bpf_map_delete_elem(dp->fds.ep_settle, &ifindex);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts); /* the base of bpf_ktime_get_coarse_ns() */
	until = (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec + IOF_SETTLE_NS;
	bpf_map_update_elem(dp->fds.ep_settle, &ifindex, &until, BPF_ANY);
}

static int attach_new(struct datapath *dp, enum dp_att_kind kind, const char *name,
		      uint32_t ifindex, int target_fd, struct dp_attachment **ret, char *err,
		      size_t len)
{
	struct dp_attachment *att;
	int r;

	if (kind == DP_ATT_TC)
		settle_begin(dp, name, ifindex);
	att = dp_att_new(dp, kind, name);
	if (!att)
		return dp_err(err, len, -ENOMEM, "out of memory");
	att->ifindex = ifindex;
	att->keep = true;
	r = attach_links(dp, att, target_fd, err, len);
	if (r) {
		att = &dp->atts[dp->n_atts - 1];
		dp_detach(dp, att);
		dp_att_remove(dp, dp->n_atts - 1);
		return r;
	}
	*ret = &dp->atts[dp->n_atts - 1];
	return 0;
}

/* Reuses a live attachment of the same interface and ifindex; replaces a stale one. */
static int attach_ifindex(struct datapath *dp, enum dp_att_kind kind, const char *ifname,
			  uint32_t ifindex, char *err, size_t len)
{
	struct dp_attachment *att = dp_att_find(dp, kind, ifname);

	if (att) {
		const char *dead;
		/* every hook: one detached while the other lives is a stale attachment too */
		bool alive = att->ifindex == ifindex && dp_att_alive(att, &dead);

		if (alive) {
			att->keep = true;
			return 0;
		}
		dp_detach(dp, att);
		dp_att_remove(dp, (size_t)(att - dp->atts));
	}
	return attach_new(dp, kind, ifname, ifindex, (int)ifindex, &att, err, len);
}

int dp_attach_tc(struct datapath *dp, const char *ifname, uint32_t ifindex, char *err, size_t len)
{
	return attach_ifindex(dp, DP_ATT_TC, ifname, ifindex, err, len);
}

int dp_attach_xdp(struct datapath *dp, const char *ifname, uint32_t ifindex, char *err, size_t len)
{
	return attach_ifindex(dp, DP_ATT_XDP, ifname, ifindex, err, len);
}

/* Writes the endpoint's attach id into the cgroup storage of every attached hook. */
int dp_write_cg_ids(struct datapath *dp, const struct dp_attachment *att, char *err, size_t len)
{
	struct bpf_map_info info;
	__u32 ilen = sizeof(info);
	unsigned char key[16] = {0}, val[64] = {0};
	uint32_t id = att->cg_id; /* the programs add IOF_EP_CGROUP_BIT */

	if (dp->cg_ids_fd < 0)
		return 0;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(dp->cg_ids_fd, &info, &ilen))
		return dp_err(err, len, -errno, "iof_cg_ids: %s", strerror(errno));
	if (info.key_size > sizeof(key) || info.value_size > sizeof(val) || info.value_size < 4)
		return dp_err(err, len, -EINVAL, "iof_cg_ids: unexpected layout");
	memcpy(val, &id, sizeof(id));
	memcpy(key, &att->cgroup_id, sizeof(att->cgroup_id));
	for (size_t h = 0; h < DP_CG_HOOKS; h++) {
		__u32 type = (__u32)cg_hooks[h].attach_type;

		if (att->link_fd[h] < 0)
			continue;
		memcpy(key + 8, &type, sizeof(type)); /* struct bpf_cgroup_storage_key */
		if (bpf_map_update_elem(dp->cg_ids_fd, key, val, BPF_ANY))
			return dp_err(err, len, -errno, "iof_cg_ids: cgroup %s hook %s: %s",
				      att->name, cg_hooks[h].pin, strerror(errno));
		if (info.key_size == 8)
			break; /* storage shared by the hooks of a cgroup */
	}
	return 0;
}

int dp_attach_cgroup(struct datapath *dp, const char *path, uint64_t cgroup_id, uint32_t cg_id,
		     char *err, size_t len)
{
	struct dp_attachment *att = dp_att_find_cgroup(dp, cgroup_id);
	char name[16];
	int fd, r;

	const char *dead;

	if (att && dp_att_alive(att, &dead)) {
		att->keep = true;
		return 0;
	}
	if (att) {
		dp_detach(dp, att);
		dp_att_remove(dp, (size_t)(att - dp->atts));
	}
	for (size_t i = 0; i < dp->n_atts; i++) { /* the id's earlier, vanished cgroup */
		if (dp->atts[i].kind == DP_ATT_CG && dp->atts[i].cg_id == cg_id) {
			dp_detach(dp, &dp->atts[i]);
			dp_att_remove(dp, i);
			break;
		}
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return dp_err(err, len, -errno, "cgroup %s: %s", path, strerror(errno));
	snprintf(name, sizeof(name), "%u", cg_id);
	r = attach_new(dp, DP_ATT_CG, name, 0, fd, &att, err, len);
	close(fd);
	if (r)
		return r;
	att->cgroup_id = cgroup_id;
	att->cg_id = cg_id;
	return dp_write_cg_ids(dp, att, err, len);
}
