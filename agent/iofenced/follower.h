/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cluster mode (docs/CLUSTER.md): the follower keeps a mirror of the policy in etcd, submits
 * each new policy revision to the engine as a PolicyDocument and writes the node's leased
 * status key. Started after the engine restored the store's last revision (fail-static).
 */
#ifndef IOFENCE_IOFENCED_FOLLOWER_H
#define IOFENCE_IOFENCED_FOLLOWER_H

#include <stdio.h>

struct agent;

/* Starts the follower when cfg.etcd_endpoints is set (0 otherwise too). */
int follower_start(struct agent *a, char *err, size_t err_len);
void follower_stop(struct agent *a);
/* Writes the iofence_datastore_* and implementation delay metrics. */
void follower_metrics(struct agent *a, FILE *f);

/* The source name of every revision the follower applies (the store keeps it): how a start
 * tells a revision of the datastore from one of the direct push. */
#define FOLLOWER_SOURCE_NAME "etcd"
/* Changes are batched (agent/etcd/batch_window.h). While a window of churn is open the watch
 * does not read; the apply waits for it to read what came in the window, at most this long
 * past the window's end. */
#define FOLLOWER_DRAIN_WAIT_MS 20
/* TTL of the status key's lease, and how often it is kept alive. */
#define FOLLOWER_LEASE_TTL 10
#define FOLLOWER_KEEPALIVE_MS 3000
/*
 * The store's commits in cluster mode do not wait for the disk: a revision applied is in the
 * WAL file (safe from a crash of the agent) and made durable at most this long after it was
 * applied, one fsync for every revision applied meanwhile (docs/CLUSTER.md, "Durability").
 */
#define FOLLOWER_SYNC_MS 1000
/*
 * Status puts of one node at most this often: each report is an etcd write
 * (agent and etcd CPU: N nodes x reports/s). A node reports after each apply, so under churn
 * the batch window bounds how often; a change that follows another closely is reported
 * after this interval (a longer one delays it, which the implementation delay does not show
 * but rollout status does).
 */
#define FOLLOWER_STATUS_MIN_MS 100

#endif /* IOFENCE_IOFENCED_FOLLOWER_H */
