/* SPDX-License-Identifier: Apache-2.0 */
/*
 * iofenced: the per-node agent, as main.c assembles it. Each part has its own header; this
 * only holds the parts together for the ones that answer calls (server, reads, metrics).
 */
#ifndef IOFENCE_IOFENCED_AGENT_H
#define IOFENCE_IOFENCED_AGENT_H

#include <stdint.h>

#include "config.h"

struct engine;
struct server;
struct flows;
struct events;
struct linkwatch;
struct MHD_Daemon;
struct follower;
struct follower;
struct modules;

struct agent {
	struct agent_config cfg;
	int64_t started_unix;
	struct engine *engine;
	struct flows *flows;
	struct events *events;
	struct linkwatch *linkwatch; /* link events, on a thread of its own */
	struct server *server;
	struct MHD_Daemon *metrics;
	struct follower *follower; /* cluster mode, else NULL */
	struct modules *modules; /* loadable modules (modules.h) */
};

#endif /* IOFENCE_IOFENCED_AGENT_H */
