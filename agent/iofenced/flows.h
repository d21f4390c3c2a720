/* SPDX-License-Identifier: Apache-2.0 */
/*
 * WatchFlows fan-out (flows.c): each ring buffer record goes into the recent history and to
 * the watchers whose filter matches; a new watcher may replay the history first. A watcher sends through a sink it is given, so flows know nothing of the server.
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
	/* A history-only stream is complete: end the call with OK (no send is in flight). */
	void (*finish)(void *ctx);
	void *ctx;
};

/* Names of events come from the engine's snapshots; history: events kept. NULL on ENOMEM. */
struct flows *flows_new(struct engine *e, size_t history);
void flows_free(struct flows *f);
/* The sequence number the next record will have (the event loop, at start). */
void flows_set_next_seq(struct flows *f, uint64_t seq);
uint64_t flows_next_seq(struct flows *f);
/* Called from the event loop for each ring buffer record, with its sequence number. */
void flows_dispatch(struct flows *f, const struct iof_event *ev, uint64_t seq);
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
