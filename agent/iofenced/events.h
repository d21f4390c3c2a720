/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The event loop (events.c): ring buffer records to the flows, cgroup changes to the
 * engine. events_new() makes every fd it needs and subscribes to the engine's
 * publishes, so it is ready before the engine can call it; events_run() starts its thread.
 */
#ifndef IOFENCE_IOFENCED_EVENTS_H
#define IOFENCE_IOFENCED_EVENTS_H

#include <stddef.h>

struct engine;
struct flows;
struct events;

/* Call before engine_run(). NULL with a reason in err. */
struct events *events_new(struct engine *e, struct flows *f, char *err, size_t err_len);
/* Called on the loop thread for every link added, changed or deleted (ifname NULL: events
 * were lost, look at every interface again). Set once, before events_run(). */
typedef void (*events_link_fn)(void *ctx, const char *ifname);
int events_on_link(struct events *ev, events_link_fn fn, void *ctx);
int events_run(struct events *ev, char *err, size_t err_len);
/* Stops the thread (if running) and frees ev; NULL is fine. */
void events_free(struct events *ev);

#endif /* IOFENCE_IOFENCED_EVENTS_H */
