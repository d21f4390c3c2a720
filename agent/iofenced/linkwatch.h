/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The link watcher (linkwatch.c): a thread of its own that hears RTM_NEWLINK/RTM_DELLINK and
 * enforces an endpoint's interface the moment it appears (dp_link_changed), independently of
 * the apply worker, so an apply or a check in progress never delays it; a loadable module
 * follows its interfaces through its hook.
 */
#ifndef IOFENCE_IOFENCED_LINKWATCH_H
#define IOFENCE_IOFENCED_LINKWATCH_H

#include <stddef.h>
#include <stdio.h>

struct engine;
struct linkwatch;

struct linkwatch_options {
	int rt_priority; /* SCHED_FIFO priority of the thread (1-99), 0: normal scheduling */
	int rcvbuf;	 /* the socket's receive buffer in bytes, 0: the default (1 MiB) */
};
/*
 * Opens and subscribes the netlink socket. Call before engine_start(): a link that appears
 * while the revision is restored is queued on the socket and handled once the thread runs.
 * NULL with a reason in err.
 */
struct linkwatch *linkwatch_new(struct engine *e, const struct linkwatch_options *opts, char *err,
			       size_t err_len);
/*
 * linkwatch_on_link() - FN(CTX, IFNAME) on the watcher's thread for every link added, changed
 * or removed (IFNAME NULL: events were lost, look at every interface again), after the
 * endpoint's own handling. One hook (the loadable modules); any thread, any time.
 */
typedef void (*linkwatch_fn)(void *ctx, const char *ifname);
void linkwatch_on_link(struct linkwatch *lw, linkwatch_fn fn, void *ctx);
/* Starts the thread once the engine has its datapath (no thread with --datapath none). */
int linkwatch_run(struct linkwatch *lw, char *err, size_t err_len);
/* Stops the thread (before the datapath closes) and frees lw; NULL is fine. */
void linkwatch_free(struct linkwatch *lw);
/* Any thread: iofence_link_attach_seconds, _run_delay_seconds and iofence_link_resyncs_total. */
void linkwatch_write_metrics(struct linkwatch *lw, FILE *f);

#endif /* IOFENCE_IOFENCED_LINKWATCH_H */
