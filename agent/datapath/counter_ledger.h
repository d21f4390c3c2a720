/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The counter ledger: keeps per-rule and per-endpoint counters monotonic across applies and
 * agent restarts (bpf/datapath_maps.h, "Counter identities"). It knows which identity owns
 * each rule id and endpoint index of both slots, and before an image overwrites a slot it
 * moves what that slot counted into the identities' pinned bases. Readers get base plus what
 * both slots count now, under the ledger's lock, so a total never goes down.
 */
#ifndef IOFENCE_AGENT_DATAPATH_COUNTER_LEDGER_H
#define IOFENCE_AGENT_DATAPATH_COUNTER_LEDGER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/datapath_maps.h"
#include "policy/image.h"

/* An identity and the rule id or endpoint index it has in one slot. */
struct ledger_owner {
	uint64_t identity;
	uint32_t index;
};

struct ledger_slot {
	struct ledger_owner *rules, *eps; /* sorted by identity */
	size_t n_rules, n_eps;
	uint32_t rules_span, eps_span; /* indexes written in the owner maps (one past the last) */
};

struct dp_ledger {
	pthread_mutex_t lock; /* readers against dp_ledger_retire() */
	struct ledger_slot slot[IOF_SLOTS];
	int rule_owner_fd, ep_owner_fd, base_fd, rule_counters_fd, ep_counters_fd;
	uint64_t errors; /* retirements that could not keep every count (map full, ...) */
};

/* Binds the ledger to the maps and reads the pinned owners of both slots (adopted state). */
int dp_ledger_open(struct dp_ledger *l, int rule_owner_fd, int ep_owner_fd, int base_fd,
		   int rule_counters_fd, int ep_counters_fd);
void dp_ledger_close(struct dp_ledger *l);

/*
 * dp_ledger_retire() - before img is written into the inactive slot: add what the slot counted
 * for identities that leave their index (img gives it to another identity, or to none) to
 * their bases and zero those counters, make img's identities its owners, and forget the bases
 * of identities now in neither slot (their life ended). A counter whose identity keeps its
 * index stays in place and counts on. carry_all: every count of the slot is carried, for a
 * caller that zeroes the slot's counters whole afterwards. The slot must be inactive since the
 * previous apply, so no program still counts into it. 0, or -errno: then what the slot
 * counted may not have been carried or zeroed (the caller zeroes the slot's counters whole).
 */
int dp_ledger_retire(struct dp_ledger *l, uint8_t slot, const struct policy_image *img,
		     bool carry_all);

/* An identity's total since it first appeared: base plus both slots. */
int dp_ledger_rule_total(struct dp_ledger *l, uint64_t identity, struct iof_counter *ret);
int dp_ledger_endpoint_total(struct dp_ledger *l, uint64_t identity, enum iof_ep_counter_kind kind,
			     struct iof_counter *ret);
/* The identity of endpoint index in slot (0: none). */
uint64_t dp_ledger_endpoint_at(struct dp_ledger *l, uint8_t slot, uint32_t index);

#endif /* IOFENCE_AGENT_DATAPATH_COUNTER_LEDGER_H */
