/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store's journal in cluster mode (docs/CLUSTER.md, "Store"): a revision that the
 * follower delivers with the objects that changed (a PolicyDelta of cluster objects) is
 * stored as that delta on top of the previous revision, not as the whole document. A chain
 * is cut by writing its latest revision again as a whole document (journal_rebase()), after
 * the revision was acknowledged, once its deltas add up to more bytes than the whole document
 * times a factor drawn at random in [1, 2): replaying a chain then costs at most about two
 * reads of the document, the whole document is written once per that many bytes of deltas
 * (a 10k-rule document rarely, a small one often), and agents that follow one datastore (same
 * revisions) do not all write it at the same one.
 */
#ifndef IOFENCE_IOFENCED_JOURNAL_H
#define IOFENCE_IOFENCED_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <iofence/v1/agent.pb-c.h>

#include "policy/derive.h"
#include "store/store.h"

/* A chain is cut at this many deltas times the chain's factor, whatever their size... */
#define JOURNAL_REBASE_DEPTH 128
/* ...and never grows longer than this: the next revision is then stored whole. */
#define JOURNAL_CHAIN_MAX 256

/* The chain of deltas above the latest whole document. */
struct journal_chain {
	size_t depth;	    /* deltas since the latest whole document */
	size_t delta_bytes; /* their packed size */
	size_t whole_bytes; /* the latest whole document's */
	double factor;	    /* cut past whole_bytes x factor, drawn in [1, 2) */
};

/* A whole document of whole_bytes was stored: a new chain starts. */
void journal_chain_restart(struct journal_chain *c, size_t whole_bytes);
/* One delta of delta_bytes was stored on top of the chain. */
void journal_chain_add(struct journal_chain *c, size_t delta_bytes);
/* The chain is due to be cut (journal_rebase()). */
bool journal_chain_due(const struct journal_chain *c);
/* One more delta may go on the chain (else the revision is stored whole). */
bool journal_chain_fits(const struct journal_chain *c);

/*
 * journal_rebase() - store revision (the latest, a delta) again as doc whole: reads stop
 * replaying its chain and pruning drops the rows below it. *ret_bytes: the document's size.
 * 0, -ENOMEM, or as store_rebase().
 */
int journal_rebase(struct store *store, uint64_t revision, const struct policy_document *doc,
		   size_t *ret_bytes);

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

/* The changes of a delta whose changes are all endpoint and group objects. */
struct journal_changes {
	struct policy_changes changes; /* order: journal_endpoint_order */
	struct policy_endpoint_change *endpoints;
	struct policy_group_change *groups;
	Iofence__V1__Endpoint **endpoint_msgs; /* decoded puts, owned */
	Iofence__V1__SecurityGroup **group_msgs;
	char **names; /* owned: endpoints', then groups' */
	size_t n_names;
};

/*
 * 0; -EINVAL (err says which key) when a change is neither an endpoint nor a group in one
 * object, removes a group, or does not decode.
 */
int journal_changes_of(const Iofence__V1__PolicyDelta *delta, struct journal_changes *ret,
		       char *err, size_t err_len);
void journal_changes_free(struct journal_changes *jc);
/* The order of endpoints in a document read from the cluster objects (their keys' order). */
int journal_endpoint_order(const struct policy_endpoint *a, const struct policy_endpoint *b);

#endif /* IOFENCE_IOFENCED_JOURNAL_H */
