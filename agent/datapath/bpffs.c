// SPDX-License-Identifier: Apache-2.0
/*
 * File-system chores of the datapath: make sure the pin dir is on a bpffs (mounting
 * /sys/fs/bpf if nothing is mounted there), create and remove pin folders, and find the
 * kernel id of a cgroup v2 folder (the key of its cgroup storage).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "dp_internal.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

int dp_err(char *err, size_t len, int r, const char *fmt, ...)
{
	va_list ap;

	if (err && len) {
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return r;
}

int dp_mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

static bool is_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && (unsigned long)st.f_type == BPF_FS_MAGIC;
}

/* The pin dir, or its deepest existing ancestor, must be on bpffs; mount /sys/fs/bpf if the
 * pin dir is below it and nothing is mounted there yet. */
int dp_bpffs_prepare(const char *pin_dir, char *err, size_t len)
{
	int r;

	if (strncmp(pin_dir, "/sys/fs/bpf", 11) == 0 && (pin_dir[11] == '/' || !pin_dir[11]) &&
	    !is_bpffs("/sys/fs/bpf")) {
		if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700"))
			return dp_err(err, len, -errno, "mount bpffs on /sys/fs/bpf: %s",
				      strerror(errno));
	}
	r = dp_mkdir_p(pin_dir, 0700);
	if (r)
		return dp_err(err, len, r, "create pin dir %s: %s", pin_dir, strerror(-r));
	if (!is_bpffs(pin_dir))
		return dp_err(err, len, -EINVAL, "pin dir %s is not on a bpf file system", pin_dir);
	return 0;
}

static int rm_rf_at(int parent, const char *name)
{
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (fd < 0) {
		if (errno == ENOTDIR || errno == ELOOP) {
			if (unlinkat(parent, name, 0) && errno != ENOENT)
				return -errno;
			return 0;
		}
		return errno == ENOENT ? 0 : -errno;
	}
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		int q;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		q = rm_rf_at(dirfd(d), de->d_name);
		if (q && !r)
			r = q;
	}
	closedir(d);
	if (unlinkat(parent, name, AT_REMOVEDIR) && errno != ENOENT && !r)
		r = -errno;
	return r;
}

int dp_rm_rf(const char *path)
{
	return rm_rf_at(AT_FDCWD, path);
}

int dp_cgroup_check(const char *path)
{
	struct statfs fs;
	struct stat st;

	if (statfs(path, &fs) || stat(path, &st))
		return errno == ENOENT ? 0 : -errno;
	if ((unsigned long)fs.f_type != CGROUP2_SUPER_MAGIC || !S_ISDIR(st.st_mode))
		return -EMEDIUMTYPE;
	return 0;
}

int dp_cgroup_kernel_id(const char *path, uint64_t *ret)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} h;
	int mount_id;
	struct stat st;

	h.fh.handle_bytes = sizeof(h.id);
	if (name_to_handle_at(AT_FDCWD, path, &h.fh, &mount_id, 0) == 0 &&
	    h.fh.handle_bytes == sizeof(uint64_t)) {
		memcpy(ret, h.fh.f_handle, sizeof(*ret));
		return 0;
	}
	if (stat(path, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	*ret = st.st_ino;
	return 0;
}
