// SPDX-License-Identifier: Apache-2.0
/*
 * Taking over what a previous process pinned: find the links under <pin>/links, drop the ones
 * whose device or cgroup has gone, move the live ones to a new program build with
 * bpf_link_update (no moment without a program), and the uninstall path that detaches all.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp_internal.h"

static int link_ids(int fd, uint32_t *ifindex, uint64_t *cgroup_id)
{
	struct bpf_link_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (info.type == BPF_LINK_TYPE_CGROUP)
		*cgroup_id = info.cgroup.cgroup_id;
	else
		*ifindex = info.xdp.ifindex; /* xdp and tcx both start with ifindex */
	return 0;
}

static void adopt_one(struct datapath *dp, enum dp_att_kind kind, const char *name)
{
	struct dp_attachment *att = dp_att_new(dp, kind, name);
	char path[PATH_MAX];
	size_t n;
	bool ok = true, any = false;

	if (!att)
		return;
	dp_hooks_of(kind, &n);
	for (size_t h = 0; h < n; h++) {
		uint32_t ifindex = 0;
		uint64_t cgroup_id = 0;

		dp_hook_path(dp, att, h, path, sizeof(path));
		att->link_fd[h] = bpf_obj_get(path);
		if (att->link_fd[h] < 0) {
			att->link_fd[h] = -1;
			if (kind != DP_ATT_CG)
				ok = false;
			continue;
		}
		if (link_ids(att->link_fd[h], &ifindex, &cgroup_id) ||
		    (kind == DP_ATT_CG ? !cgroup_id : !ifindex)) {
			ok = false; /* defunct: the device or cgroup is gone */
			continue;
		}
		if (any && (ifindex != att->ifindex || cgroup_id != att->cgroup_id))
			ok = false;
		att->ifindex = ifindex;
		att->cgroup_id = cgroup_id;
		any = true;
	}
	if (kind == DP_ATT_CG)
		att->cg_id = (uint32_t)strtoul(name, NULL, 10);
	if (!ok || !any || (kind == DP_ATT_CG && !att->cg_id)) {
		dp_detach(dp, att);
		dp_att_remove(dp, dp->n_atts - 1);
	}
}

int dp_adopt_links(struct datapath *dp, char *err, size_t len)
{
	char path[PATH_MAX];

	dp_adopt_tc_legacy(dp);
	for (int kind = DP_ATT_TC; kind <= DP_ATT_CG; kind++) {
		DIR *d;
		struct dirent *de;

		snprintf(path, sizeof(path), "%s/links/%s", dp->pin_dir, dp_kind_dir[kind]);
		d = opendir(path);
		if (!d) {
			if (errno == ENOENT)
				continue;
			return dp_err(err, len, -errno, "%s: %s", path, strerror(errno));
		}
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			adopt_one(dp, (enum dp_att_kind)kind, de->d_name);
		}
		closedir(d);
	}
	return 0;
}

int dp_upgrade_links(struct datapath *dp, const int *old_prog_fd, char *err, size_t len)
{
	for (size_t i = 0; i < dp->n_atts; i++) {
		struct dp_attachment *att = &dp->atts[i];
		size_t n;
		const struct hook *hk = dp_hooks_of(att->kind, &n);

		if (att->tc_legacy) {
			int r = dp_attach_tc_legacy(dp, att, err, len); /* BPF_TC_F_REPLACE */
			if (r)
				return r;
			continue;
		}
		for (size_t h = 0; h < n; h++) {
			int prog = dp->prog_fd[hk[h].prog];

			if (att->link_fd[h] < 0 || prog < 0)
				continue;
			if (bpf_link_update(att->link_fd[h], prog, NULL))
				return dp_err(err, len, -errno, "%s %s: replace program: %s",
					      att->name, hk[h].pin, strerror(errno));
		}
	}
	(void)old_prog_fd;
	return 0;
}

/* Detaches (even if another process holds a reference) and unpins every link below path. */
static void detach_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	char sub[PATH_MAX];

	if (!d) {
		int fd = bpf_obj_get(path);

		if (fd >= 0) {
			bpf_link_detach(fd);
			close(fd);
		}
		unlink(path);
		return;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		detach_tree(sub);
	}
	closedir(d);
	rmdir(path);
}

int dp_cleanup_links(const char *pin_dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/links", pin_dir);
	detach_tree(path);
	return 0;
}

static bool is_iofence_prog(__u32 prog_id)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(prog_id);
	bool ours;

	if (fd < 0)
		return false;
	memset(&info, 0, sizeof(info));
	ours = bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && !strncmp(info.name, "iof_", 4);
	close(fd);
	return ours;
}

/* True if our legacy tc filter is on the interface's ingress hook. */
static bool tc_legacy_present(uint32_t ifindex)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex,
			    .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = DP_TC_HANDLE, .priority = DP_TC_PRIORITY);

	return ifindex && bpf_tc_query(&hook, &o) == 0 && is_iofence_prog(o.prog_id);
}

/* Legacy tc filters cannot be pinned: an empty folder links/tc-legacy/<ifname> marks them. */
int dp_adopt_tc_legacy(struct datapath *dp)
{
	char path[PATH_MAX];
	DIR *d;
	struct dirent *de;

	snprintf(path, sizeof(path), "%s/links/tc-legacy", dp->pin_dir);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		uint32_t ifindex;
		struct dp_attachment *att;

		if (de->d_name[0] == '.')
			continue;
		ifindex = if_nametoindex(de->d_name);
		if (!tc_legacy_present(ifindex)) {
			snprintf(path, sizeof(path), "%s/links/tc-legacy/%s", dp->pin_dir,
				 de->d_name);
			rmdir(path);
			continue;
		}
		att = dp_att_new(dp, DP_ATT_TC, de->d_name);
		if (!att)
			break;
		att->ifindex = ifindex;
		att->tc_legacy = true;
	}
	closedir(d);
	return 0;
}

int dp_tc_legacy_cleanup(const char *pin_dir)
{
	char path[PATH_MAX];
	DIR *d;
	struct dirent *de;

	snprintf(path, sizeof(path), "%s/links/tc-legacy", pin_dir);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		uint32_t ifindex = if_nametoindex(de->d_name);

		if (de->d_name[0] == '.' || !tc_legacy_present(ifindex))
			continue;
		for (int h = 0; h < 2; h++) {
			DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex,
					    .attach_point = h ? BPF_TC_EGRESS : BPF_TC_INGRESS);
			DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = DP_TC_HANDLE,
					    .priority = DP_TC_PRIORITY);
			bpf_tc_detach(&hook, &o);
		}
	}
	closedir(d);
	return 0;
}
