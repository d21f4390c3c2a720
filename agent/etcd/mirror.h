/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The follower's copy of the policy in etcd: the head and the objects of its generation, at
 * one etcd revision, kept up to date one watch response (whole revisions) at a time.
 */
#ifndef IOFENCE_AGENT_ETCD_MIRROR_H
#define IOFENCE_AGENT_ETCD_MIRROR_H

#include "cluster.h"

struct cluster_mirror {
	char *prefix, *head_key, *gen_dir;
	bool have_head;
	uint64_t gen;
	struct cluster_objs objs;
	int64_t seen_rev;    /* last etcd revision taken in */
	int64_t policy_rev;  /* revision of the mirror's policy */
	uint64_t written_ns; /* the controller's stamp of policy_rev (0: unknown) */
	int64_t bad_rev;     /* a head that did not decode, with its reason */
	char bad[256];
	/* what changed since the last cluster_mirror_take_changes() */
	struct cluster_objs changed; /* the keys (no values) */
	bool changed_all;	      /* read whole, or the head went: every object */
};

int cluster_mirror_init(struct cluster_mirror *m, const char *prefix);
void cluster_mirror_free(struct cluster_mirror *m);
/* Makes what cluster_read() read the mirror (takes st's objects). */
int cluster_mirror_install(struct cluster_mirror *m, struct cluster_state *st);

/*
 * cluster_mirror_take() - one watch response into the mirror. Sets *changed when the policy
 * changed (policy_rev is then the response's last revision). Returns 0, or the revision at
 * which the policy must be read whole (the head moved to another generation) with *changed
 * false.
 */
int64_t cluster_mirror_take(struct cluster_mirror *m, const Etcdserverpb__WatchResponse *wr,
			    bool *changed);

/*
 * cluster_mirror_changes() - the objects that changed since the last call, as a PolicyDelta
 * on base (their values as the mirror holds them now; a key no longer there is removed), and
 * forgets them. NULL in *ret when everything changed (a whole read, the head's generation
 * moved or went). *derivable says whether every change is of an endpoint, or of a security
 * group that is still there and is one object (not stored in parts): changes a document can
 * be derived from (policy/derive.h). 0 or -ENOMEM (then everything counts as changed next
 * time).
 */
int cluster_mirror_changes(struct cluster_mirror *m, uint64_t base, Iofence__V1__PolicyDelta **ret,
			   bool *derivable);
void cluster_mirror_forget_changes(struct cluster_mirror *m, bool all);

#endif /* IOFENCE_AGENT_ETCD_MIRROR_H */
