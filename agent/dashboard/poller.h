/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The dashboard's pollers: per agent one thread that asks GetStatus, GetCounters and
 * GetTunnels every period with a short deadline (agents in parallel, so one slow agent delays
 * no other), and one thread that follows its deny events (WatchFlows) into the model; in
 * cluster mode one more thread reads the nodes' status keys every period.
 */
#ifndef IOFENCE_DASHBOARD_POLLER_H
#define IOFENCE_DASHBOARD_POLLER_H

#include "cluster.h"
#include "dashboard.h"

struct poller;

/* Starts the threads: pollers for the model's agents and, in cluster mode, the reader of the
 * status keys, which with DISCOVER adds an agent per new node. NULL with errno. */
struct poller *poller_start(struct cluster *c, const struct dashboard_config *cfg, bool discover);
/* Stops and joins every thread. */
void poller_stop(struct poller *p);

#endif /* IOFENCE_DASHBOARD_POLLER_H */
