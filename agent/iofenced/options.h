/* SPDX-License-Identifier: Apache-2.0 */
/*
 * iofenced's options, described once (options.c): getopt, the config file's keys, --help and
 * the iofenced(8) man page (hidden --help-man) all read this table.
 */
#ifndef IOFENCE_IOFENCED_OPTIONS_H
#define IOFENCE_IOFENCED_OPTIONS_H

#include <stdio.h>

#include "agent/optdoc/optdoc.h"

enum agent_option_id {
	OPT_HELP = 'h',
	OPT_CONFIG = 256,
	OPT_NODE,
	OPT_STATE,
	OPT_LISTEN,
	OPT_PIN_DIR,
	OPT_METRICS,
	OPT_LOG_LEVEL,
	OPT_INSECURE_TCP,
	OPT_CLEANUP,
	OPT_TLS_CA,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_DATAPATH,
	OPT_BPF_OBJECT,
	OPT_KEEP,
	OPT_EVENTS_PER_SEC,
	OPT_FLOW_HISTORY,
	OPT_FAILSAFE,
	OPT_XDP_GENERIC,
	OPT_ATTACH_RT_PRIORITY,
	OPT_VXT_IFACE,
	OPT_VXT_PORT,
	OPT_VXT_TUNNELS,
	OPT_VXT_INNER,
	OPT_ETCD_ENDPOINTS,
	OPT_ETCD_PREFIX,
	OPT_ETCD_CA,
	OPT_ETCD_CERT,
	OPT_ETCD_KEY,
	OPT_VERSION,
	OPT_APPLY_READ_WALL_MS,
};

extern const struct optdoc_option agent_options[];
extern const size_t agent_n_options;

/* `iofenced --help`. */
void agent_options_help(FILE *f);

/* The iofenced(8) man page (roff). */
void agent_options_man(FILE *f);

#endif /* IOFENCE_IOFENCED_OPTIONS_H */
