/* SPDX-License-Identifier: Apache-2.0 */
/* Inside the etcd client: the channel of the current endpoint, or of the next one. */
#ifndef IOFENCE_AGENT_ETCD_INTERNAL_H
#define IOFENCE_AGENT_ETCD_INTERNAL_H

#include "etcd.h"

/* attempt 0: the current endpoint; 1: moves to the next one first. */
grpc_channel *etcd_channel(struct etcd *c, size_t attempt, char *err, size_t err_len);
size_t etcd_count(const struct etcd *c);
/* The current endpoint's channel for watches (a connection of its own). */
grpc_channel *etcd_watch_channel(struct etcd *c, char *err, size_t err_len);

#endif
