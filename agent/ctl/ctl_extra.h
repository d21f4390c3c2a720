/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Options of the module and tunnels commands that the shared parser (client.c) does not know:
 * taken out of argv before ctl_parse() sees the rest.
 */
#ifndef IOFENCE_CTL_EXTRA_H
#define IOFENCE_CTL_EXTRA_H

#include <stddef.h>
#include <stdint.h>

#include <iofence/v1/agent.pb-c.h>

enum {
	CTL_X_MODULE = 1 << 0,	/* --interface, --port, --tunnel-capacity, --inner-capacity */
	CTL_X_TUNNELS = 1 << 1, /* --top, --interval */
};

struct ctl_extra {
	const char *ifaces[16];
	size_t n_ifaces;
	uint32_t ports[4];
	size_t n_ports;
	uint32_t tunnel_capacity, inner_capacity;
	uint32_t top;	 /* inner pairs shown; default 10 */
	double interval; /* seconds between the two samples of a rate; default 1 */
};

/* Returns -1 to go on (argv compacted, *argc updated) or an exit code after a message. */
int ctl_extra_parse(int *argc, char **argv, unsigned which, struct ctl_extra *x);

int cmd_module(int argc, char **argv);
/* A module's state as module list prints it (also in status): a table row (with its reasons
 * on lines of their own) under ctl_module_table_header(), or a JSON object (agent NULL: no
 * "agent" key). */
void ctl_module_table_header(void);
void ctl_module_table_row(const char *agent, const Iofence__V1__ModuleState *m);
void ctl_module_json(const char *agent, const Iofence__V1__ModuleState *m);
int cmd_tunnels(int argc, char **argv);

#endif /* IOFENCE_CTL_EXTRA_H */
