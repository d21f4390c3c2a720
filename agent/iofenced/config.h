/* SPDX-License-Identifier: Apache-2.0 */
/* iofenced's settings (config.c): flags and the config file, read once and on SIGHUP. */
#ifndef IOFENCE_IOFENCED_CONFIG_H
#define IOFENCE_IOFENCED_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/version/version.h"

#define AGENT_VERSION iofence_version()
#define AGENT_DEFAULT_CONFIG "/etc/iofence/iofenced.conf"
#define AGENT_DEFAULT_STATE "/var/lib/iofence/state.db"
#define AGENT_DEFAULT_LISTEN "unix:/run/iofence/iofenced.sock"

/* The wall-clock read budget of an Apply, by default (job.h says why). */
#define APPLY_READ_WALL_MS 800

struct agent_config {
	char *config_path;
	char *node;
	char *state;
	char **listen;
	size_t n_listen;
	char *pin_dir;
	char *metrics; /* HOST:PORT or NULL */
	char *tls_ca, *tls_cert, *tls_key;
	char *bpf_object;
	int log_level;
	bool insecure_tcp;
	bool cleanup;
	bool datapath_none; /* --datapath=none: test aid, no enforcement */
	unsigned keep;	    /* revisions kept in the store */
	unsigned events_per_sec;
	unsigned flow_history; /* events kept for WatchFlows replays (flows.c) */
	bool flow_history_set;
	unsigned apply_read_wall_ms; /* the wall-clock read budget of an Apply (job.h); 0: none */
	bool apply_read_wall_ms_set;
	char **failsafe; /* PROTO:PORT never dropped by the prefilter; default tcp:22 */
	size_t n_failsafe;
	bool xdp_generic;
	/* SCHED_FIFO priority of the link watcher (linkwatch.c) and the attach at start
	 * (start.c), 0: SCHED_OTHER */
	unsigned attach_rt_priority;
	bool attach_rt_priority_set;
	/* cluster mode (follower.c): NULL endpoints = direct Apply */
	char *etcd_endpoints, *etcd_prefix, *etcd_ca, *etcd_cert, *etcd_key;
	/* vxlan-trace enabled at start when interfaces are given (modules.c) */
	char **vxt_ifaces;
	size_t n_vxt_ifaces;
	unsigned vxt_ports[4];
	size_t n_vxt_ports;
	unsigned vxt_tunnel_capacity, vxt_inner_capacity; /* 0: default */
};

/* Return: 0, 1 when --help/--version was printed, or -EINVAL with a reason in err. */
int config_load(int argc, char **argv, struct agent_config *cfg, char *err, size_t err_len);
/* Re-reads cfg->config_path for SIGHUP: only run-time settings change (log level). */
int config_reload(struct agent_config *cfg, char *err, size_t err_len);
void config_free(struct agent_config *cfg);

#endif /* IOFENCE_IOFENCED_CONFIG_H */
