/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Policy and packet generators for tests, fuzzing and benchmarks.
 *   gen_random_policy(): small adversarial documents - overlapping CIDRs of every length,
 *     v4 and v6, shared ports, tied priorities, groups on two nodes, defaults, audit.
 *   gen_realistic_policy(): large documents like a real cluster's - most rules name a group
 *     or a /16../32 CIDR with 1..3 ports.
 * Both build the model directly and run policy_validate() so indexes are resolved.
 */
#ifndef IOFENCE_TESTS_GEN_H
#define IOFENCE_TESTS_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "policy/eval.h"
#include "policy/model.h"

#define GEN_NODE "node-a"
#define GEN_OTHER_NODE "node-b"

/* splitmix64; or, with data set, the fuzzer's bytes (zeros once they run out). */
struct gen_rng {
	uint64_t state;
	const uint8_t *data;
	size_t len;
};

uint64_t gen_next(struct gen_rng *r);

/* Uniform in [0, n). */
static inline uint32_t gen_below(struct gen_rng *r, uint32_t n)
{
	return n ? (uint32_t)(gen_next(r) % n) : 0;
}

/* Seed from $IOFENCE_SEED if set, else from the clock; printed by the caller. */
uint64_t gen_seed_from_env(void);

/* A small random valid document (NULL only on out of memory). */
struct policy_document *gen_random_policy(struct gen_rng *r);

/* Like gen_random_policy() but driven by fuzzer bytes (deterministic per input). */
struct policy_document *gen_policy_from_bytes(const uint8_t *data, size_t len);

/* A random packet for a local endpoint of doc; ep_doc_index receives the endpoint's index. */
void gen_random_packet(struct gen_rng *r, const struct policy_document *doc,
		       size_t ep_doc_index, struct policy_packet *pkt);

struct gen_realistic_opts {
	size_t rules;          /* total rules over all groups */
	size_t endpoints;      /* on GEN_NODE; as many again on GEN_OTHER_NODE */
	size_t groups;         /* security groups; every endpoint is in one or two */
	unsigned group_pct;    /* share of rules naming a group (rest: CIDR, a few any) */
	unsigned any_pct;      /* share of rules with any remote */
};

struct policy_document *gen_realistic_policy(struct gen_rng *r,
					     const struct gen_realistic_opts *o);

/*
 * doc with one more endpoint NAME (interface INTERFACE) on GEN_NODE, in doc's first group only
 * and allowing ingress by default: a profile no endpoint had. NULL if the change is refused
 * (its errors on stderr). Needs doc to have a group.
 */
struct policy_document *gen_with_new_profile(struct policy_document *doc, const char *name,
					     const char *interface);

#endif /* IOFENCE_TESTS_GEN_H */
