// SPDX-License-Identifier: Apache-2.0
/*
 * Deferred durability (store.h): commits with synchronous=NORMAL, whose WAL frames reach the
 * disk when store_sync() asks for it, so a caller pays one fsync per acknowledgement rather
 * than one per commit. In WAL mode sqlite recovers every frame that reached the disk with a
 * valid commit frame, whichever descriptor the fsync came through.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "store/internal.h"

int store_set_deferred_sync(struct store *store, bool deferred)
{
	char msg[256];

	if (!store)
		return -EINVAL;
	return sql_exec(store->db,
			deferred ? "PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL", msg,
			sizeof(msg));
}

int store_sync(struct store *store)
{
	char wal[4200];
	int fd, r = 0;

	if (!store)
		return -EINVAL;
	snprintf(wal, sizeof(wal), "%s-wal", store->path);
	fd = open(wal, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno; /* no WAL: every commit is in the file */
	if (fdatasync(fd))
		r = -errno;
	close(fd);
	return r;
}
