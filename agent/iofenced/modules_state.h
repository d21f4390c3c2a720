/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What modules.c (enable, disable, list, status, following interfaces) and modules_read.c
 * (tunnels, metrics) share: the modules' state behind one lock, and the config message.
 */
#ifndef IOFENCE_IOFENCED_MODULES_STATE_H
#define IOFENCE_IOFENCED_MODULES_STATE_H

#include <pthread.h>
#include <stdint.h>

#include <iofence/v1/agent.pb-c.h>

#include "agent/datapath/module_vxlan.h"
#include "arena.h"

#define MODULES_VXT_NAME VXT_MODULE_NAME

struct modules {
	pthread_mutex_t lock;
	struct vxt_module *vxt;	 /* NULL: disabled (or failed) */
	char error[256];	 /* why the last enable failed; "" if it did not */
	int64_t enabled_at_unix; /* this process's enable or adoption */
};

/* The effective config as a message (arena memory); NULL when out of memory. */
Iofence__V1__ModuleConfig *modules_config_pb(struct arena *ar, const struct vxt_config *c);

#endif /* IOFENCE_IOFENCED_MODULES_STATE_H */
