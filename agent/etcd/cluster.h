/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cluster keyspace in etcd (docs/CLUSTER.md) and the controller's guarded write.
 *
 *   PREFIX/head                               ClusterHead: generation, writer, write time
 *   PREFIX/gen/<G>/defaults                   Defaults
 *   PREFIX/gen/<G>/groups/<name>[#NNNN]       SecurityGroup (large ones in parts)
 *   PREFIX/gen/<G>/endpoints/<node>/<name>    Endpoint
 *   PREFIX/gen/<G>/prefilter/<node>[#NNNN]    Prefilter
 *   PREFIX/status/<node>                      NodeStatus, under the agent's lease (status.c)
 *
 * <G> is 16 hex digits. Names are escaped (%XX) outside [A-Za-z0-9._:@-]. Every policy write
 * puts PREFIX/head in the same transaction, so head's mod_revision is the policy revision.
 */
#ifndef IOFENCE_AGENT_ETCD_CLUSTER_H
#define IOFENCE_AGENT_ETCD_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <iofence/v1/agent.pb-c.h>

#include "etcd.h"

#define CLUSTER_DEFAULT_PREFIX "/iofence"
/* A security group larger than this (packed) is stored in parts. */
#define CLUSTER_PART_BYTES (256 * 1024)

/* One object: its key below the generation directory and its packed message. */
struct cluster_obj {
	char *key; /* "groups/web", "endpoints/node-a/web-1" */
	uint8_t *val;
	size_t len;
	int64_t mod_revision; /* when read from etcd */
};

/* Objects sorted by key. */
struct cluster_objs {
	struct cluster_obj *v;
	size_t n, cap;
};

void cluster_objs_free(struct cluster_objs *objs);
/* Appends a copy of key and val (kept sorted only if appended in order: see _sort). */
int cluster_objs_add(struct cluster_objs *objs, const char *key, const void *val, size_t len,
		     int64_t mod_revision);
void cluster_objs_sort(struct cluster_objs *objs);
/* Index of key, or -1. */
long cluster_objs_find(const struct cluster_objs *objs, const char *key);
/* Puts (replaces) or removes one object, keeping the order. */
int cluster_objs_put(struct cluster_objs *objs, const char *key, const void *val, size_t len,
		     int64_t mod_revision);
void cluster_objs_del(struct cluster_objs *objs, const char *key);

/* The objects of a document (one per key, see above); clears the rules' source line numbers
 * in DOC first (moving text around changes no object). 0 or -ENOMEM. */
int cluster_objs_from_pb(Iofence__V1__PolicyDocument *doc, struct cluster_objs *out);
/*
 * The document the objects make (sorted by key; large groups joined again). Return 0, or
 * -EBADMSG with the first key that does not decode in err, or -ENOMEM. Free with
 * iofence__v1__policy_document__free_unpacked().
 */
int cluster_pb_from_objs(const struct cluster_objs *objs, Iofence__V1__PolicyDocument **ret,
			 char *err, size_t err_len);

/* Key helpers (malloc'ed): PREFIX/head, PREFIX/status/, PREFIX/gen/<G>/. */
char *cluster_key_head(const char *prefix);
char *cluster_key_status_dir(const char *prefix);
char *cluster_key_gen_dir(const char *prefix, uint64_t gen);
/* "endpoints/<node>/<name>" for endpoint delete. */
char *cluster_key_endpoint(const char *node, const char *name);
/* The order of two endpoints' keys (the order of a document read from the objects). */
int cluster_endpoint_key_cmp(const char *node_a, const char *name_a, const char *node_b,
			     const char *name_b);
/* The node and name (unescaped, malloc'ed) of an endpoint key; -EINVAL when KEY is not one. */
int cluster_key_endpoint_split(const char *key, char **ret_node, char **ret_name);
/* The name (unescaped, malloc'ed) of a group stored in one object ("groups/<name>", no part);
 * -EINVAL when KEY is not one. */
int cluster_key_group_name(const char *key, char **ret_name);

/* What a controller read: the head and the generation's objects at one revision. */
struct cluster_state {
	int64_t revision;  /* etcd revision of the read */
	int64_t head_mod;  /* head's mod_revision (0: no policy written yet) */
	Iofence__V1__ClusterHead *head; /* NULL when absent */
	struct cluster_objs objs;
	int64_t policy_revision; /* max(head_mod, objects' mod_revision) */
};

/*
 * cluster_read() - the policy at AT (0: newest). Return 0, -ENOENT when AT has been
 * compacted or is in the future (err says), -EAGAIN (etcd unreachable), -EBADMSG (the head
 * does not decode), -EIO.
 */
int cluster_read(struct etcd *c, const char *prefix, int64_t at, struct cluster_state *st,
		 char *err, size_t err_len);
void cluster_state_free(struct cluster_state *st);

/* Object-level differences between two sorted object sets. */
struct cluster_change {
	char kind; /* '+' added, '~' changed, '-' removed */
	const char *key;
	const struct cluster_obj *old_obj, *new_obj;
};
int cluster_diff(const struct cluster_objs *old_objs, const struct cluster_objs *new_objs,
		 struct cluster_change **ret, size_t *n);

struct cluster_write_result {
	int64_t revision; /* the policy revision written */
	size_t puts, deletes;
	size_t txns;
	bool new_generation;
};

/*
 * cluster_write() - makes WANT the datastore's policy, guarded by what ST read. Changes that fit
 * one transaction (ETCD_TXN_MAX_OPS, ETCD_TXN_MAX_BYTES) are written in place in one guarded
 * transaction with the head; larger ones go into a new generation written in several
 * transactions, which one guarded transaction then makes current (head) while deleting the old
 * one: agents see one revision either way.
 * Return: 0 written; 1 nothing to write (equal); -ESTALE another writer changed the policy
 * since ST was read (nothing written: staged keys are removed again); -EAGAIN; -EIO; -ENOMEM.
 */
int cluster_write(struct etcd *c, const char *prefix, const struct cluster_state *st,
		  const struct cluster_objs *want, const char *writer,
		  struct cluster_write_result *res, char *err, size_t err_len);

/* ---- the nodes' status keys (status.c) ---- */

/* Every status key now, as NodeStatus messages (keys that do not decode are skipped). Return
 * 0, or an etcd_call() error with the reason in err. Free with cluster_statuses_free(). */
int cluster_read_statuses(struct etcd *e, const char *prefix, int timeout_ms,
			  Iofence__V1__NodeStatus ***ret, size_t *ret_n, char *err, size_t err_len);
void cluster_statuses_free(Iofence__V1__NodeStatus **v, size_t n);
/* The address to reach a node's agent: the first of its API addresses (malloc'ed), or NULL
 * with errno ENOENT (it listens nowhere) or ENOMEM. */
char *cluster_status_agent(const Iofence__V1__NodeStatus *st);
/*
 * cluster_discover_agents() - the agents of every node with a status key (a live lease), read
 * once from ENDPOINTS. Return 0 with at least one address, -ENOENT when no node has a status
 * key, an etcd error (-EAGAIN unreachable, ...); the reason in err. Free with
 * cluster_agents_free().
 */
int cluster_discover_agents(const char *endpoints, const struct rpc_tls *tls, const char *prefix,
			    int timeout_ms, char ***ret, size_t *ret_n, char *err, size_t err_len);
void cluster_agents_free(char **agents, size_t n);

#endif /* IOFENCE_AGENT_ETCD_CLUSTER_H */
