/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small etcd v3 client over the gRPC C core (proto/etcd: etcd's own messages): unary KV
 * calls with fail-over between the given endpoints, a watch stream and leases. Used by
 * iofenced (the follower) and iofencectl (the controller). All calls block.
 */
#ifndef IOFENCE_AGENT_ETCD_H
#define IOFENCE_AGENT_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <etcd/rpc.pb-c.h>

#include "agent/rpc/rpc.h"

/* etcd's defaults (--max-txn-ops 128, --max-request-bytes 1.5 MiB), with a margin. */
#define ETCD_TXN_MAX_OPS 128
#define ETCD_TXN_MAX_BYTES (1024 * 1024)

struct etcd;

/*
 * etcd_open() - a client of the comma-separated ENDPOINTS ("http://H:P,https://H:P", or
 * bare "H:P"). https endpoints use tls (a CA is then required). No connection is made yet.
 * Return: 0, -EINVAL (reason in err), -ENOMEM.
 */
int etcd_open(const char *endpoints, const struct rpc_tls *tls, struct etcd **ret, char *err,
	      size_t err_len);
void etcd_close(struct etcd *c);
/* The endpoint the last call went to ("http://H:P"), and the whole list as given. */
const char *etcd_current(const struct etcd *c);
const char *etcd_endpoints(const struct etcd *c);
/* Makes the next endpoint current (after a stream to the current one failed). */
void etcd_rotate(struct etcd *c);
/*
 * etcd_wait_connected() - waits at most wait_ms for the current endpoint's connections (watch
 * and unary calls), making them connect. The waiting thread polls the connection attempt, which gRPC's "poll" engine
 * needs: without a call waiting on a channel, no thread would. True when connected.
 */
bool etcd_wait_connected(struct etcd *c, int wait_ms);

/*
 * etcd_call() - one unary call to METHOD ("/etcdserverpb.KV/Range"), trying the next endpoint
 * when one is unreachable. Return: 0 with *ret set; -EAGAIN when no endpoint answered
 * (err says why); -EIO for a refusal of the request (err has etcd's status and message);
 * -EPROTO for an answer that does not parse; -ENOMEM.
 */
int etcd_call(struct etcd *c, const char *method, const ProtobufCMessage *req,
	      const ProtobufCMessageDescriptor *desc, int timeout_ms, ProtobufCMessage **ret,
	      char *err, size_t err_len);

/* Every key under PREFIX at REVISION (0: the newest); *ret freed by the caller. */
int etcd_range_prefix(struct etcd *c, const char *prefix, int64_t revision, bool keys_only,
		      int timeout_ms, Etcdserverpb__RangeResponse **ret, char *err,
		      size_t err_len);
/* One key at REVISION (0: newest). *ret_kv NULL when the key does not exist. */
int etcd_get(struct etcd *c, const char *key, int64_t revision, int timeout_ms,
	     Etcdserverpb__RangeResponse **ret, Mvccpb__KeyValue **ret_kv, char *err,
	     size_t err_len);
int etcd_put(struct etcd *c, const char *key, const void *val, size_t len, int64_t lease,
	     int timeout_ms, char *err, size_t err_len);
/*
 * A put whose answer is taken later (the status key: the reporting thread is not woken when
 * etcd answers, it reads the answer before its next call). etcd_put_start() sends it to the
 * current endpoint. etcd_put_finish() waits at most wait_ms (-1: no limit; 0: only what has
 * arrived): -EINPROGRESS when no answer came (p kept), else 0 or as etcd_put() (p freed); a put
 * refused for a reason another member may not have (unreachable, no leader) is sent again
 * with etcd_put() then. etcd_put_cancel() drops one still running.
 */
struct etcd_pending_put;
int etcd_put_start(struct etcd *c, const char *key, const void *val, size_t len, int64_t lease,
		   struct etcd_pending_put **ret, char *err, size_t err_len);
int etcd_put_finish(struct etcd_pending_put *p, int wait_ms, char *err, size_t err_len);
void etcd_put_cancel(struct etcd_pending_put *p);
int etcd_txn(struct etcd *c, const Etcdserverpb__TxnRequest *req, int timeout_ms,
	     Etcdserverpb__TxnResponse **ret, char *err, size_t err_len);
int etcd_compact(struct etcd *c, int64_t revision, int timeout_ms, char *err, size_t err_len);

/* The end of the range of keys that start with PREFIX (etcd's range_end), malloc'ed. */
char *etcd_prefix_end(const char *prefix);

/* Leases. keepalive: *ttl_left 0 when the lease expired. */
int etcd_lease_grant(struct etcd *c, int64_t ttl, int64_t *id, char *err, size_t err_len);
int etcd_lease_keepalive(struct etcd *c, int64_t id, int64_t *ttl_left, char *err,
			 size_t err_len);

/* A watch of the keys in [KEY, RANGE_END) from START (0: now). */
struct etcd_watch;
int etcd_watch_open(struct etcd *c, const char *key, const char *range_end, int64_t start,
		    struct etcd_watch **ret, char *err, size_t err_len);
/* Next response: 1 with *ret, 0 when the stream ended (reason in err), -EPROTO. */
int etcd_watch_next(struct etcd_watch *w, Etcdserverpb__WatchResponse **ret, char *err,
		    size_t err_len);
/* The same waiting at most wait_ms (0: only what has arrived): also -ETIMEDOUT (rpc.h). */
int etcd_watch_next_until(struct etcd_watch *w, int wait_ms, Etcdserverpb__WatchResponse **ret,
			  char *err, size_t err_len);
/* From another thread: makes a blocked etcd_watch_next() return 0. */
void etcd_watch_cancel(struct etcd_watch *w);
void etcd_watch_close(struct etcd_watch *w);

#endif /* IOFENCE_AGENT_ETCD_H */
