/* SPDX-License-Identifier: Apache-2.0 */
/* The unary read RPCs (reads.c), answered on the server threads from the published snapshot. */
#ifndef IOFENCE_IOFENCED_READS_H
#define IOFENCE_IOFENCED_READS_H

#include <stddef.h>

#include <iofence/v1/agent.pb-c.h>

#include "arena.h"

struct agent;

/* Each returns a grpc_status_code and, on OK, the response in *ret (arena memory). */
int reads_status(struct agent *a, struct arena *ar, ProtobufCMessage **ret, char *details,
		 size_t len);
int reads_policy(struct agent *a, const Iofence__V1__GetPolicyRequest *req, struct arena *ar,
		 ProtobufCMessage **ret, char *details, size_t len);
int reads_counters(struct agent *a, const Iofence__V1__GetCountersRequest *req, struct arena *ar,
		   ProtobufCMessage **ret, char *details, size_t len);

/* trace.c: Trace, from the enforced revision (reference evaluator, image lookup, live maps). */
int reads_trace(struct agent *a, const Iofence__V1__TraceRequest *req, struct arena *ar,
		ProtobufCMessage **ret, char *details, size_t len);

#endif /* IOFENCE_IOFENCED_READS_H */
