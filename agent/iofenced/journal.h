/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store's journal in cluster mode (docs/CLUSTER.md, "Store"): a revision that the
 * follower delivers with the objects that changed (a PolicyDelta of cluster objects) is
 * stored as that delta on top of the previous revision, not as the whole document; every
 * JOURNAL_WHOLE_EVERY revisions a whole document bounds the chain a read replays.
 */
#ifndef IOFENCE_IOFENCED_JOURNAL_H
#define IOFENCE_IOFENCED_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include <iofence/v1/agent.pb-c.h>

#include "policy/derive.h"
#include "store/store.h"

/* A whole document after this many deltas in a row. */
#define JOURNAL_WHOLE_EVERY 32

/**
 * journal_read() - a stored revision as a whole document
 * @revision: 0 for the latest
 * @ret: revision, source name and time of the row; doc a packed PolicyDocument (base 0)
 * @ret_depth: deltas replayed (0 for a whole row); may be NULL
 *
 * Return: 0, or as store_get(); -EBADMSG when a delta or its base does not decode.
 */
int journal_read(struct store *store, uint64_t revision, struct store_revision *ret,
		 size_t *ret_depth);

/* The endpoint changes of a delta whose changes are all endpoint objects. */
struct journal_endpoints {
	struct policy_endpoint_change *changes;
	size_t n;
	Iofence__V1__Endpoint **msgs; /* decoded puts, owned */
	char **names;		      /* owned */
};

/* 0; -EINVAL (err says which key) when a change is not an endpoint or does not decode. */
int journal_endpoints_of(const Iofence__V1__PolicyDelta *delta, struct journal_endpoints *ret,
			 char *err, size_t err_len);
void journal_endpoints_free(struct journal_endpoints *je);
/* The order of endpoints in a document read from the cluster objects (their keys' order). */
int journal_endpoint_order(const struct policy_endpoint *a, const struct policy_endpoint *b);

#endif /* IOFENCE_IOFENCED_JOURNAL_H */
