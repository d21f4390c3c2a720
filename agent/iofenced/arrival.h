/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Deadlines of request messages still arriving (arrival.c): the server starts an Apply's
 * receive itself when the call begins, and a request whose message has not arrived by its
 * deadline is ended by one watch thread, so a client that drips its bytes is answered within
 * the read budget rather than at its own pace.
 */
#ifndef IOFENCE_IOFENCED_ARRIVAL_H
#define IOFENCE_IOFENCED_ARRIVAL_H

#include <stdbool.h>
#include <stdint.h>

/* One awaited message, embedded in the caller's call state. */
struct arrival {
	uint64_t due_usec;		     /* CLOCK_MONOTONIC microseconds */
	void (*expire)(struct arrival *arr); /* on the watch thread, once, unless cancelled */
	struct arrival *prev, *next;	     /* the watch's list (under its lock) */
	bool watched;
};

struct arrival_watch;

/* Starts the watch thread. NULL with errno set on failure. */
struct arrival_watch *arrival_watch_start(void);

/* Watches arr (due_usec and expire set): expire(arr) is called at due_usec. */
void arrival_watch_add(struct arrival_watch *w, struct arrival *arr);

/*
 * The message arrived (or the call ended): stops watching arr. True if arr was still watched
 * (expire will not be called); false if expire has been or is being called.
 */
bool arrival_watch_cancel(struct arrival_watch *w, struct arrival *arr);

/* Stops the thread; arrivals still watched expire first. NULL is ignored. */
void arrival_watch_stop(struct arrival_watch *w);

#endif /* IOFENCE_IOFENCED_ARRIVAL_H */
