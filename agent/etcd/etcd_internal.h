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

/* A completion queue for unary calls (kept ones first), and given back after the call. */
grpc_completion_queue *etcd_take_queue(struct etcd *c);
void etcd_give_queue(struct etcd *c, grpc_completion_queue *cq);
/* Whether a status means "try another member": unreachable, no leader, timed out. */
bool etcd_retryable(grpc_status_code st);

#endif
