// SPDX-License-Identifier: Apache-2.0
/*
 * Cgroup endpoints that come and go: inotify watches on the nearest existing folder above
 * each endpoint's cgroup (mkdir and rmdir in cgroupfs go through the VFS, so they notify).
 * Any event, or a new revision, makes the event loop compare each endpoint cgroup's existence
 * with what it last saw and hand the changes to the apply thread (dp_cgroup_changed), so a
 * cgroup endpoint is enforced as soon as it appears, with no polling.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgwatch.h"
#include "engine.h"
#include "log.h"

int cgwatch_open(struct cgwatch *w)
{
	memset(w, 0, sizeof(*w));
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	return w->fd < 0 ? -errno : 0;
}

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Watches the parent of path, or the nearest folder above it that exists. */
static void watch_above(struct cgwatch *w, const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	while ((slash = strrchr(dir, '/')) && slash != dir) {
		*slash = '\0';
		if (is_dir(dir)) {
			/* Adding an existing watch returns the same one: no duplicates. */
			if (inotify_add_watch(w->fd, dir,
					      IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
						  IN_ONLYDIR) < 0)
				log_warn("cgroup watch on %s: %s", dir, strerror(errno));
			return;
		}
	}
}

static int find(const struct cgwatch *w, const char *path)
{
	for (size_t i = 0; i < w->n; i++)
		if (!strcmp(w->paths[i], path))
			return (int)i;
	return -1;
}

static void submit(struct engine *e, const char *path, bool exists)
{
	struct job *job = calloc(1, sizeof(*job));

	if (!job || !(job->cgroup = strdup(path))) {
		free(job);
		log_error("cgroup %s: out of memory, not enforced until the next event", path);
		return;
	}
	job->kind = JOB_CGROUP;
	job->up = exists;
	engine_submit(e, job);
}

void cgwatch_rescan(struct engine *e, struct cgwatch *w)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct snapshot *s = engine_current(e);
	const struct policy_document *doc = s ? snapshot_doc(s) : NULL;
	char **paths = NULL;
	bool *exists = NULL;
	size_t n = 0;

	while (read(w->fd, buf, sizeof(buf)) > 0)
		; /* the events only say "look again" */
	if (doc) {
		paths = calloc(doc->n_endpoints + 1, sizeof(*paths));
		exists = calloc(doc->n_endpoints + 1, sizeof(*exists));
	}
	for (size_t i = 0; paths && exists && i < doc->n_endpoints; i++) {
		const char *cg = doc->endpoints[i].cgroup;
		int old;

		if (!cg || !(paths[n] = strdup(cg)))
			continue;
		exists[n] = is_dir(cg);
		old = find(w, cg);
		/* A path new to the watch may have appeared after the apply looked: say so
		 * (attaching is idempotent). */
		if (old < 0 ? exists[n] : w->exists[old] != exists[n])
			submit(e, cg, exists[n]);
		watch_above(w, cg);
		n++;
	}
	snapshot_unref(s);
	cgwatch_forget(w);
	w->paths = paths;
	w->exists = exists;
	w->n = n;
}

void cgwatch_forget(struct cgwatch *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->paths[i]);
	free(w->paths);
	free(w->exists);
	w->paths = NULL;
	w->exists = NULL;
	w->n = 0;
}

void cgwatch_close(struct cgwatch *w)
{
	cgwatch_forget(w);
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}
