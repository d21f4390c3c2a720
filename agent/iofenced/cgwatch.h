/* SPDX-License-Identifier: Apache-2.0 */
/* Cgroup endpoints appearing and disappearing (inotify), for the event loop. */
#ifndef IOFENCE_AGENT_CGWATCH_H
#define IOFENCE_AGENT_CGWATCH_H

#include <stdbool.h>
#include <stddef.h>

struct engine;

struct cgwatch {
	int fd;	      /* inotify, non-blocking: add to epoll */
	char **paths; /* endpoint cgroups of the current revision ... */
	bool *exists; /* ... and whether each existed when last looked at */
	size_t n;
};

int cgwatch_open(struct cgwatch *w);
/* Drains the inotify fd, compares, submits JOB_CGROUP for changes, re-arms watches. */
void cgwatch_rescan(struct engine *e, struct cgwatch *w);
void cgwatch_forget(struct cgwatch *w);
void cgwatch_close(struct cgwatch *w);

#endif /* IOFENCE_AGENT_CGWATCH_H */
