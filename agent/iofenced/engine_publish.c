// SPDX-License-Identifier: Apache-2.0
/*
 * The published snapshot: the revision readers see (current, and the one before for events
 * of the old slot), swapped under a lock, and the subscribers told of each new one.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <grpc/status.h>

#include "agent/datapath/datapath.h"
#include "engine.h"
#include "engine_internal.h"
#include "follower.h"
#include "failsafe.h"
#include "guard.h"
#include "journal.h"
#include "log.h"
#include "policy/errors.h"
#include "policy/parse.h"
#include "policy/pb.h"
#include "policy/write.h"
#include "reader.h"
#include "warnings.h"
#include "store/store.h"

struct snapshot *engine_current(struct engine *e)
{
	struct snapshot *s;

	pthread_mutex_lock(&e->snap_lock);
	s = snapshot_ref(e->current);
	pthread_mutex_unlock(&e->snap_lock);
	return s;
}

struct snapshot *engine_snapshot_of(struct engine *e, uint64_t revision)
{
	struct snapshot *s = NULL;

	pthread_mutex_lock(&e->snap_lock);
	if (e->current && snapshot_revision(e->current) == revision)
		s = snapshot_ref(e->current);
	else if (e->previous && snapshot_revision(e->previous) == revision)
		s = snapshot_ref(e->previous);
	pthread_mutex_unlock(&e->snap_lock);
	return s;
}

/*
 * Makes s current and a slim copy of the current one previous. Returns the snapshot the caller
 * unrefs when it has time (with readers gone, freeing a large document takes milliseconds).
 */
struct snapshot *engine_publish(struct engine *e, struct snapshot *s)
{
	struct snapshot *slim = snapshot_slim(e->current), *old_prev, *old_cur;

	pthread_mutex_lock(&e->snap_lock);
	old_prev = e->previous;
	old_cur = e->current;
	e->previous = slim;
	e->current = s;
	pthread_mutex_unlock(&e->snap_lock);
	snapshot_unref(old_prev);
	return old_cur;
}

/* Tells the subscribers a new revision is current (apply thread). */
void engine_announce(struct engine *e)
{
	for (size_t i = 0; i < e->n_subscribers; i++)
		e->subscribers[i].fn(e->subscribers[i].ctx);
}

int engine_on_publish(struct engine *e, void (*fn)(void *ctx), void *ctx)
{
	if (e->n_subscribers == MAX_SUBSCRIBERS)
		return -ENOSPC;
	e->subscribers[e->n_subscribers].fn = fn;
	e->subscribers[e->n_subscribers++].ctx = ctx;
	return 0;
}
