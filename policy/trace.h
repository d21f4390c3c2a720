/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Why a flow gets its verdict, by the reference evaluator (policy/eval.h): for each end of the
 * flow that is an endpoint (egress of the sender, ingress of the receiver), the verdict, the
 * deciding rule or default, and every rule that matched with the reason it lost. `iofencectl
 * trace` shows it beside the agent's datapath lookup of the same flow.
 */
#ifndef IOFENCE_POLICY_TRACE_H
#define IOFENCE_POLICY_TRACE_H

#include <stddef.h>

#include "eval.h"
#include "model.h"

struct policy_trace_match {
	size_t group_index, rule_index;
	bool decides;
	char why_lost[128]; /* "" for the deciding rule */
};

/* One end of the flow: the check at one endpoint. */
struct policy_trace_side {
	size_t endpoint_index; /* in document.endpoints */
	struct policy_packet pkt; /* direction and remote as the endpoint sees them */
	struct policy_verdict verdict;
	struct policy_trace_match *matches; /* every matching rule, in document order */
	size_t n_matches;
};

struct policy_trace {
	struct policy_prefix from, to;
	long from_endpoint, to_endpoint; /* index in document.endpoints, -1: not an endpoint */
	struct policy_trace_side sides[2]; /* sender's egress first, then receiver's ingress */
	size_t n_sides;
};

/**
 * policy_trace() - trace one new flow through the document.
 * @from, @to: an endpoint name or an address (an address owned by an endpoint is that
 *             endpoint). A name stands for its address of the other end's family (IPv4 first).
 * @proto: IP protocol number; @dport: destination port (ignored without ports).
 * @err: why the flow cannot be traced (unknown name, families differ, no endpoint at all).
 *
 * Return: 0; -EINVAL (message in err); -ENOMEM.
 */
int policy_trace(const struct policy_document *doc, const char *from, const char *to,
		 uint8_t proto, uint16_t dport, struct policy_trace *ret, char *err, size_t len);

void policy_trace_free(struct policy_trace *t);

#endif /* IOFENCE_POLICY_TRACE_H */
