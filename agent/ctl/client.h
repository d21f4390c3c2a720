/* SPDX-License-Identifier: Apache-2.0 */
/*
 * iofencectl's agent-facing commands: common options (--agent, --ca/--cert/--key,
 * --timeout, -o), connections and the mapping of gRPC status codes to exit codes.
 */
#ifndef IOFENCE_CTL_CLIENT_H
#define IOFENCE_CTL_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <iofence/v1/agent.pb-c.h>

#include "agent/rpc/rpc.h"
#include "config.h"

#define CTL_DEFAULT_AGENT "unix:/run/iofence/iofenced.sock"

struct ctl_opts {
	const char *cmd;
	const char **agents;
	size_t n_agents;
	bool agents_given; /* by flag, environment or config file, not the built-in default */
	char **found_agents; /* owned: the agents ctl_find_agents() read from the datastore */
	size_t n_found_agents;
	struct rpc_tls tls;
	int timeout_ms;
	bool timeout_set;
	const char *output; /* NULL: the command's default */
	const char *file;
	const char *endpoint;
	const char *verdict;
	const char *positional; /* the command's operand (get policy, endpoint wait NAME) */
	const char *listen;
	bool follow;
	bool dry_run, strict;
	bool wait, enforced;
	const char *from, *to, *proto; /* trace */
	unsigned port;
	uint64_t revision; /* --revision N, or rollback's --to N */
	double duration;   /* flows without --follow: seconds to listen */
	bool duration_set;
	uint32_t last; /* flows --last N: the agent's most recent events shown first */
	bool last_set;
	uint64_t since_seq; /* flows --since-seq N: the held events after event N */
	bool since_seq_set;
	const char *node;  /* compile --node */
	/* module enable */
	const char *ifaces[16];
	size_t n_ifaces;
	uint32_t ports[4];
	size_t n_ports;
	uint32_t tunnel_capacity, inner_capacity;
	/* tunnels */
	uint32_t top;	 /* inner pairs shown; default 10 */
	double interval; /* seconds between the two samples of a rate; default 1 */
	/* cluster mode: --etcd-endpoints (or IOFENCE_ETCD_ENDPOINTS) */
	const char *etcd_endpoints;
	const char *etcd_prefix;
	struct rpc_tls etcd_tls;
	/* storage of values that came from the environment and the config file */
	struct ctl_config config;
	char *env_agents;
};

/*
 * ctl_parse() - the options of command @cmd ("apply", "endpoint wait") as commands.c lists
 * them, then the environment and the config file for what no flag set (options.c).
 * Return: -1 to go on, or an exit code (usage error printed, or 0 after --help).
 */
int ctl_parse(int argc, char **argv, const char *cmd, struct ctl_opts *o);
void ctl_opts_free(struct ctl_opts *o);
/*
 * ctl_find_agents() - cluster mode (--etcd-endpoints) without agents given: o->agents become
 * every node's agent from the datastore's status keys (the first API address each node
 * reports). Does nothing otherwise. Returns an exit code (the reason printed): no node with a
 * status key is 1, an unreachable datastore 2.
 */
int ctl_find_agents(struct ctl_opts *o);

/* A channel to one agent; prints the reason and returns NULL on failure. */
grpc_channel *ctl_connect(const struct ctl_opts *o, const char *agent);

/* Exit code for a failed call: 1 for refusals of the input, 2 for everything else. */
int ctl_exit_for(grpc_status_code code);
/* Prints "iofencectl CMD: AGENT: STATUS: details" on stderr; returns ctl_exit_for(). */
int ctl_report(const struct ctl_opts *o, const char *agent, const struct rpc_result *res,
	       int local_err);

void json_str(FILE *f, const char *s);
/* Seconds as "1h2m3s". */
void fmt_duration(uint64_t sec, char *buf, size_t len);

/* Flag the grpc library as used (main shuts it down). */
extern bool ctl_grpc_used;
/* grpc_init() once, with gRPC core's own logging silenced; sets ctl_grpc_used. */
void ctl_grpc_init(void);

/*
 * The document @agent enforces (@revision 0) or a stored revision, validated, into *ret_doc;
 * *ret_doc is NULL when nothing is applied yet (revision 0 only). *ret_resp (may be NULL) gets
 * the response. Returns an exit code; the reason is printed.
 */
struct policy_document;
int ctl_fetch_policy(const struct ctl_opts *o, const char *agent, uint64_t revision,
		     struct policy_document **ret_doc, Iofence__V1__GetPolicyResponse **ret_resp);

int cmd_apply(int argc, char **argv);
int cmd_apply_dry_run(const struct ctl_opts *o, const struct policy_document *doc);
int cmd_diff(int argc, char **argv);
int cmd_history(int argc, char **argv);
int cmd_rollback(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_counters(int argc, char **argv);
int cmd_flows(int argc, char **argv);
int cmd_dashboard(int argc, char **argv);
int cmd_module(int argc, char **argv);
/* A module's state as `module list` prints it (also in status): a table row (its reasons on
 * lines of their own) under ctl_module_table_header(), or a JSON object (agent NULL: no
 * "agent" key). */
void ctl_module_table_header(void);
void ctl_module_table_row(const char *agent, const Iofence__V1__ModuleState *m);
void ctl_module_json(const char *agent, const Iofence__V1__ModuleState *m);
int cmd_tunnels(int argc, char **argv);

/* cmd_cluster.c: the commands on the datastore (cluster mode) */
int cluster_apply(const struct ctl_opts *o);
int cluster_get_policy(const struct ctl_opts *o);
/* diff against the datastore's policy: exit 0 equal, 1 different */
int cluster_diff_doc(const struct ctl_opts *o, const struct policy_document *doc);
int cmd_endpoint(int argc, char **argv);
/* cmd_endpoint_wait.c: `endpoint wait NAME --enforced` (argv[0] is "wait"). */
int ctl_endpoint_wait(int argc, char **argv);
int cmd_rollout(int argc, char **argv);
/* cmd_get.c: prints a document message as get policy does (-o yaml|json|table) */
int ctl_print_policy_pb(const Iofence__V1__PolicyDocument *pb, uint64_t revision,
			const char *fmt);

#endif /* IOFENCE_CTL_CLIENT_H */
