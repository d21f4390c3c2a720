/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The dashboard's model of the cluster: what each agent last answered (status, a short
 * history of counter and tunnel samples, recent denies) and the view computed from it for a
 * page: nodes with their health, tunnels between node pairs with their rates and top inner
 * flows. The pollers write it, the web server reads views; one lock guards it.
 */
#ifndef IOFENCE_DASHBOARD_CLUSTER_H
#define IOFENCE_DASHBOARD_CLUSTER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <iofence/v1/agent.pb-c.h>

#define CLUSTER_HISTORY 6 /* samples kept per agent: rates span the last five polls */
#define CLUSTER_DENIES 64 /* recent denies kept per agent */
#define CLUSTER_ADDRS 8	  /* underlay addresses learned per node */
#define VIEW_TOP 8	  /* inner flows and denies listed per node or tunnel */
#define VIEW_DROPS 8	  /* drop reasons per node */
#define VIEW_RECENT_NS (10ull * 1000000000ull) /* a deny this recent marks a tunnel */

struct cluster_deny {
	uint64_t time_ns;
	char endpoint[64], direction[8], reason[16], protocol[12], src[48], dst[48], rule[64];
	uint32_t sport, dport;
};

struct cluster_sample {
	uint64_t time_ns;
	Iofence__V1__GetCountersResponse *counters;
	Iofence__V1__GetTunnelsResponse *tunnels; /* NULL: no tracing module on the node */
};

struct cluster_agent {
	char *addr;	    /* changes when the node's status key names another address */
	unsigned addr_gen;  /* bumped with addr: the poller reconnects */
	char *node;	    /* cluster mode: the node whose status key named this agent */
	bool polled, reachable;
	char error[160];
	Iofence__V1__GetStatusResponse *status; /* the last one answered, kept when unreachable */
	struct cluster_sample hist[CLUSTER_HISTORY];
	unsigned n_hist, head; /* hist[head] is the newest */
	struct cluster_deny denies[CLUSTER_DENIES];
	unsigned n_denies, deny_head;
	char underlay[CLUSTER_ADDRS][48]; /* outer addresses seen as this node's own */
	unsigned n_underlay;
};

struct cluster {
	pthread_mutex_t lock;
	struct cluster_agent **agents; /* each stays where it is: pollers keep its index */
	size_t n_agents, cap_agents;
	/* cluster mode: the status keys last read from the datastore */
	bool ds_enabled, ds_ok;
	char ds_error[160];
	Iofence__V1__NodeStatus **ds_status;
	size_t n_ds_status;
};

int cluster_init(struct cluster *c, const char *const *addrs, size_t n);
void cluster_free(struct cluster *c);
/*
 * cluster_add_node() - cluster mode: the agent of NODE is at ADDR (from its status key). A
 * node seen before keeps its agent (its address updated if it moved); a new one is added.
 * Return: the agent's index and *ret_new, or -ENOMEM.
 */
long cluster_add_node(struct cluster *c, const char *node, const char *addr, bool *ret_new);
/* A copy of agent I's address (its generation in *ret_gen), for a poller to connect to. */
void cluster_agent_addr(struct cluster *c, size_t i, char *buf, size_t len, unsigned *ret_gen);
size_t cluster_n_agents(struct cluster *c);

/* One poll's answers (ownership passes to the model; tunnels may be NULL). */
void cluster_poll_ok(struct cluster *c, size_t agent, Iofence__V1__GetStatusResponse *status,
		     Iofence__V1__GetCountersResponse *counters,
		     Iofence__V1__GetTunnelsResponse *tunnels, uint64_t time_ns);
void cluster_poll_failed(struct cluster *c, size_t agent, const char *why);
/* The status keys read (ownership passes), or why they could not be (statuses NULL). */
void cluster_datastore(struct cluster *c, Iofence__V1__NodeStatus **statuses, size_t n,
		       const char *why);
void cluster_add_deny(struct cluster *c, size_t agent, const Iofence__V1__FlowEvent *ev);

struct view_drop {
	char reason[24];
	double pps;
	uint64_t total;
};

struct view_flow {
	char src[48], dst[48], protocol[12];
	uint32_t vni;
	double bps;
	uint64_t bytes;
};

struct view_node {
	char id[16], name[64], agent[128];
	const char *health; /* converged | pending | failed | absent | unreachable | unknown */
	char detail[160];
	uint64_t revision, uptime;
	unsigned endpoints, enforced;
	bool tracing; /* the vxlan-trace module answers on this node */
	double allowed_bps, denied_pps, tunnel_bps;
	struct view_drop drops[VIEW_DROPS];
	unsigned n_drops;
	struct cluster_deny denies[VIEW_TOP];
	unsigned n_denies;
	struct view_flow top[VIEW_TOP];
	unsigned n_top;
};

struct view_tunnel {
	char id[48];
	unsigned a, b; /* node indexes, a < b */
	double ab_bps, ba_bps, pps;
	uint64_t bytes;
	uint32_t vni;
	const char *health; /* ok | idle | denies | down */
	unsigned recent_denies;
	struct view_flow top[VIEW_TOP];
	unsigned n_top;
	struct cluster_deny denies[VIEW_TOP];
	unsigned n_denies;
};

struct cluster_view {
	uint64_t time_ns, revision;   /* revision: the highest a node enforces or has seen */
	bool datastore, datastore_ok; /* cluster mode; the status keys were read */
	char datastore_error[160];
	struct view_node *nodes;
	size_t n_nodes;
	struct view_tunnel *tunnels;
	size_t n_tunnels;
};

/* The view of the model now (takes the lock); NULL on out of memory. */
struct cluster_view *cluster_view_build(struct cluster *c);
void cluster_view_free(struct cluster_view *v);

/* "12.3 kB/s" */
void view_fmt_rate(double bps, char *buf, size_t len);

#endif /* IOFENCE_DASHBOARD_CLUSTER_H */
