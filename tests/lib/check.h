/* SPDX-License-Identifier: Apache-2.0 */
/* One differential case: the image lookup against the reference evaluator. */
#ifndef IOFENCE_TESTS_CHECK_H
#define IOFENCE_TESTS_CHECK_H

#include <stdio.h>

#include "policy/eval.h"
#include "policy/image.h"

struct check_stats {
	unsigned long long cases, by_rule, denied, both_parts, listed;
};

/*
 * Judges pkt at local endpoint `local` of img both ways. Returns 0 if action, audit,
 * default-or-rule and the deciding rule agree and at most IOF_NEW_FLOW_LOOKUPS_MAX lookups were
 * made; otherwise
 * describes the mismatch on report and returns -1.
 */
int check_image_case(const struct policy_document *doc, const struct policy_image *img,
		     uint32_t local, const struct policy_packet *pkt, struct check_stats *stats,
		     FILE *report);

/*
 * Whether a run covered what it checks: some verdict decided by a rule, some denied. Otherwise
 * describes what is missing on report and returns -1.
 */
int check_coverage(const struct check_stats *stats, FILE *report);

#endif /* IOFENCE_TESTS_CHECK_H */
