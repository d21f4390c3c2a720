/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loadable modules: I/O modules enabled and disabled at run time beside the policy programs,
 * today vxlan-trace. Their RPCs and lines in GetStatus (modules.c), GetTunnels and their
 * metrics (modules_read.c).
 */
#ifndef IOFENCE_IOFENCED_MODULES_H
#define IOFENCE_IOFENCED_MODULES_H

#include <stddef.h>
#include <stdio.h>

#include <iofence/v1/agent.pb-c.h>

#include "arena.h"

struct agent;

/* Adopts pinned modules and enables those the config names; failures are logged, not fatal. */
int modules_start(struct agent *a);
/* After modules_start(): enabled modules follow their interfaces' link events from now on. */
void modules_follow_links(struct agent *a);
/* Closes the modules' descriptors; their pins keep them running. */
void modules_stop(struct agent *a);
/* The RPCs; each returns a grpc_status_code and the response in *ret (arena memory). */
int modules_enable(struct agent *a, const Iofence__V1__ModuleRequest *req, struct arena *ar,
		   ProtobufCMessage **ret, char *details, size_t len);
int modules_disable(struct agent *a, const Iofence__V1__ModuleRequest *req, struct arena *ar,
		    ProtobufCMessage **ret, char *details, size_t len);
int modules_list(struct agent *a, struct arena *ar, ProtobufCMessage **ret, char *details,
		 size_t len);
int modules_tunnels(struct agent *a, const Iofence__V1__GetTunnelsRequest *req, struct arena *ar,
		    ProtobufCMessage **ret, char *details, size_t len);
/* GetStatus: every loadable module's state in r->loadable_modules, and their programs
 * appended to r->modules (room for MODULES_STATUS_MAX). */
#define MODULES_STATUS_MAX 32
void modules_status(struct agent *a, struct arena *ar, Iofence__V1__GetStatusResponse *r);
/* Prometheus series of the modules (per tunnel), appended to the metrics page. */
void modules_metrics(struct agent *a, FILE *f);

#endif /* IOFENCE_IOFENCED_MODULES_H */
