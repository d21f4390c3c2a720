/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The gRPC server of iofence.v1.Agent (server.c): Apply to the engine, reads to reads.c,
 * WatchFlows to the flows through a sink per stream.
 */
#ifndef IOFENCE_IOFENCED_SERVER_H
#define IOFENCE_IOFENCED_SERVER_H

#include <stddef.h>

struct agent;

/* Locks the unix socket paths (before anything else touches them). */
int server_lock(struct agent *a, char *err, size_t err_len);
/* Needs a->engine and a->flows; answers calls once it returns. */
int server_start(struct agent *a, char *err, size_t err_len);
/* Stops accepting calls (phase 1) and finishes (phase 2, after the workers stopped). */
void server_shutdown_begin(struct agent *a);
void server_shutdown_finish(struct agent *a);

#endif /* IOFENCE_IOFENCED_SERVER_H */
