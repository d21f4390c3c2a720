/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guard: the agent's reconciler of what it enforces. Every GUARD_PERIOD_MS, on a thread
 * of its own (an apply never waits for it, see guard_start), it checks the datapath against what the agent wrote (links attached and pinned, pins
 * of maps and programs, the active slot's endpoint and policy entries), repairs what was
 * changed behind its back (counted in iofence_repairs_total{what} and logged with what was
 * found), and watches conntrack pressure (a warning above 90% fill). It also keeps, for
 * GetStatus, whether each endpoint is enforced from what is attached and verified.
 */
#ifndef IOFENCE_IOFENCED_GUARD_H
#define IOFENCE_IOFENCED_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <iofence/v1/agent.pb-c.h>

struct agent_config;
struct arena;
struct engine;
struct guard;

#define GUARD_PERIOD_MS 1000
/*
 * Verifying the policy tries reads every entry of both slots (~87 ms of CPU at 10k rules,
 * docs/BENCHMARKS.md): at most a GUARD_VERIFY_DUTY-th of the time, yet at least every
 * GUARD_VERIFY_EVERY_MAX_MS, which keeps detection and repair of a tampered entry within 5 s
 * whatever the image's size costs.
 */
#define GUARD_VERIFY_DUTY 40
#define GUARD_VERIFY_EVERY_MAX_MS 4000
/*
 * A verification reads the maps while applies go on; one that an apply overtook (it changed a
 * slot being read: nothing can be concluded) is tried again GUARD_VERIFY_RETRY_MS later (each
 * try copies what the slots should hold under the writer lock: not too often), and
 * once the last concluded one started GUARD_VERIFY_HOLD_MS ago, applies wait for the next one
 * (iofence_guard_verifications_total{result="held"}): the 5 s repair bound holds whatever the
 * rate of applies.
 */
#define GUARD_VERIFY_RETRY_MS 500
#define GUARD_VERIFY_HOLD_MS 4500

/* The engine's guard (engine.c creates it; cfg and e outlive it). NULL on ENOMEM. */
struct guard *guard_new(struct engine *e, const struct agent_config *cfg);
void guard_free(struct guard *g);

/*
 * After the engine's datapath is open and its revision restored: the guard's own thread,
 * which runs the checks from now on (stopped by guard_free). 0, or -errno when it could not
 * start: the apply thread then runs them (guard_next_ms, guard_tick).
 */
int guard_start(struct guard *g);
/*
 * The periodic check when due (at most once per GUARD_PERIOD_MS; cheap otherwise): the
 * guard's thread, or the apply thread when the guard has none.
 */
void guard_tick(struct guard *g);
/*
 * Any thread: the endpoints' enforcement changed (apply, link, cgroup): refresh the table.
 * Never waits for a refresh in progress on another thread: that one refreshes again.
 */
void guard_refresh(struct guard *g);
/*
 * Milliseconds until the apply thread should call guard_tick; -1: never (no datapath, or the
 * guard runs on its own thread).
 */
int guard_next_ms(struct guard *g);
/* Milliseconds since this process started (from /proc/self/stat, 1/HZ resolution). */
long guard_ms_since_process_start(void);

/*
 * Any thread: whether endpoint name is enforced, and why not (reason "" when it is). ifindex:
 * its interface's index now (0: none), which must be the one the check was made on.
 */
bool guard_endpoint_enforced(struct guard *g, const char *name, uint32_t ifindex, char *reason,
			     size_t len);
/* Any thread: the conntrack and repair fields of GetStatus. */
int guard_status(struct guard *g, struct arena *ar, Iofence__V1__GetStatusResponse *r);
/* Any thread: the iofence_conntrack_* and iofence_repairs_total metrics. */
void guard_write_metrics(struct guard *g, FILE *f);

#endif /* IOFENCE_IOFENCED_GUARD_H */
