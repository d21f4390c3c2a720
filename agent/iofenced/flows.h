/* SPDX-License-Identifier: Apache-2.0 */
/*
 * WatchFlows fan-out (flows.c): each ring buffer record goes to the watchers whose filter
 * matches. A watcher sends through a sink it is given, so flows know nothing of the server.
 */
#ifndef IOFENCE_IOFENCED_FLOWS_H
#define IOFENCE_IOFENCED_FLOWS_H

#include <stdbool.h>
#include <stdint.h>

#include <grpc/grpc.h>
#include <iofence/v1/agent.pb-c.h>

#include "bpf/datapath_maps.h"

struct engine;
struct flows;
struct watcher;

/* Where a watcher's events go: one stream. */
struct flow_sink {
	/* Starts sending bb (NULL: the initial metadata only); false if it cannot. */
	bool (*send)(void *ctx, grpc_byte_buffer *bb);
	/* The watcher is gone: the sink's ctx is not used again. */
	void (*release)(void *ctx);
	void *ctx;
};

/* Names of events come from the engine's snapshots. NULL on ENOMEM. */
struct flows *flows_new(struct engine *e);
void flows_free(struct flows *f);
/* Called from the event loop for each ring buffer record. */
void flows_dispatch(struct flows *f, const struct iof_event *ev);
/* Adds a watcher bound to sink (NULL: bad filter or too many watchers). */
struct watcher *flows_add(struct flows *f, const Iofence__V1__WatchFlowsRequest *req,
			  const struct flow_sink *sink);
/* Sends the stream's initial metadata; call once the caller can take completions. */
void flows_start(struct flows *f, struct watcher *w);
/* The stream ended: frees the watcher once no send is in flight. */
void flows_remove(struct flows *f, struct watcher *w);
/* A send of this watcher completed: send the next queued event, if any. */
void flows_sent(struct flows *f, struct watcher *w, bool ok);
/* Records seen, and records dropped for slow watchers. */
uint64_t flows_events_seen(struct flows *f);
uint64_t flows_events_dropped(struct flows *f);

#endif /* IOFENCE_IOFENCED_FLOWS_H */
