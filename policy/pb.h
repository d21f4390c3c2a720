/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policy model as iofence.v1.PolicyDocument messages and back. A document received over
 * gRPC goes through the same checks as one read from YAML (errors with line 0).
 */
#ifndef IOFENCE_POLICY_PB_H
#define IOFENCE_POLICY_PB_H

#include <iofence/v1/agent.pb-c.h>

#include "errors.h"
#include "model.h"

struct policy_parse_stop; /* parse.h */

/**
 * policy_to_pb() - the message form of a document (every field explicit: defaults,
 * priorities and protocols are always set).
 * @ret: the message, owned by the caller; free with policy_pb_free().
 *
 * Return: 0 or -ENOMEM.
 */
int policy_to_pb(const struct policy_document *doc, Iofence__V1__PolicyDocument **ret);

/* Frees a message made by policy_to_pb() (or unpacked with the default allocator). Accepts NULL. */
void policy_pb_free(Iofence__V1__PolicyDocument *msg);

/**
 * policy_from_pb() - builds the model from a message and validates it like
 * policy_parse_buffer() does: the field checks of the parser (enums, priority, protocol,
 * ports, prefixes, unicast addresses) and then policy_validate().
 * @source_name: file name for error messages (e.g. "<grpc>").
 * @ret: the document on success; NULL on error.
 * @errs: receives every error, each with line 0 and a YAML field path.
 *
 * Empty strings mean "not set" (proto3 has no absence): no interface, no cidr, no group.
 * A PortRange with hi == 0 is the single port lo. A revision other than 0 counts as given even
 * when has_revision is false.
 *
 * Return: 0; -EINVAL if the document has errors (all in @errs); -ENOMEM.
 */
int policy_from_pb(const Iofence__V1__PolicyDocument *msg, const char *source_name,
		   struct policy_document **ret, struct policy_errors *errs);

/*
 * policy_from_pb_until() - policy_from_pb() that gives up at @stop (parse.h): -ETIME, with an
 * error naming the list where it stopped; the clocks are looked at every 1024 rules or items.
 */
int policy_from_pb_until(const Iofence__V1__PolicyDocument *msg, const char *source_name,
			 const struct policy_parse_stop *stop, struct policy_document **ret,
			 struct policy_errors *errs);

/*
 * One endpoint of a message into ep (the field checks of policy_from_pb(), errors at
 * "<path>.<field>"; no cross-reference checks). Return: 0, -EINVAL (errors in @errs) or -ENOMEM.
 */
int policy_endpoint_from_pb(const Iofence__V1__Endpoint *m, const char *source_name,
			    const char *path, struct policy_endpoint *ep,
			    struct policy_errors *errs);

/*
 * One security group of a message into grp (the field checks of policy_from_pb(), errors at
 * "<path>.rules[i]..."; no cross-reference checks: policy_validate_groups()). Return: 0,
 * -EINVAL (errors in @errs) or -ENOMEM.
 */
int policy_group_from_pb(const Iofence__V1__SecurityGroup *m, const char *source_name,
			 const char *path, struct policy_group *grp, struct policy_errors *errs);

#endif /* IOFENCE_POLICY_PB_H */
