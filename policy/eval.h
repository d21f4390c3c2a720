/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The reference evaluator: CONTRACT.md's semantics written as plainly as possible, a linear
 * scan over the rules. It defines what is right; the compiler and the BPF programs are tested
 * against it and it is never used on the datapath.
 */
#ifndef IOFENCE_POLICY_EVAL_H
#define IOFENCE_POLICY_EVAL_H

#include "model.h"

struct policy_packet {
	enum policy_direction direction;
	struct policy_prefix remote; /* host address: len 32 or 128 */
	uint8_t proto;
	uint16_t dport; /* ignored for protocols without ports */
};

struct policy_verdict {
	enum policy_action action;
	bool audit; /* the endpoint is in audit mode: a deny passes, counted as would-drop */
	const struct policy_rule *rule; /* deciding rule; NULL when the default decided */
	size_t group_index, rule_index; /* position of rule, when rule != NULL */
};

/**
 * policy_evaluate() - the verdict for one new flow at one endpoint.
 *
 * The rules that apply are the union of the endpoint's groups' rules for the packet's
 * direction. The matching rule with the lowest priority decides; at equal priority deny beats
 * allow; among rules equal in both, the first in document order (groups in document order,
 * then rules in group order; a group listed twice counts once) is the deciding rule. With no
 * matching rule the endpoint's default for the direction decides.
 */
void policy_evaluate(const struct policy_document *doc, const struct policy_endpoint *ep,
		     const struct policy_packet *pkt, struct policy_verdict *ret_verdict);

/* True if rule matches the packet (direction, protocol, port, remote). */
bool policy_rule_matches(const struct policy_document *doc, const struct policy_rule *rule,
			 const struct policy_packet *pkt);

#endif /* IOFENCE_POLICY_EVAL_H */
