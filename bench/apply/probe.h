/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The probe packet of bench_apply: a TCP SYN to the bench endpoint, run through the TC program
 * the agent attached to the endpoint's interface (BPF_PROG_TEST_RUN, the real program and
 * maps) from a thread inside the agent's network namespace, every PROBE_PERIOD_US, until its
 * verdict turns from drop to pass: the moment the new revision is enforced.
 */
#ifndef IOFENCE_BENCH_APPLY_PROBE_H
#define IOFENCE_BENCH_APPLY_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROBE_PERIOD_US 100

struct probe;

/*
 * Finds the program behind <pin_dir>/links/tc/<ifname>/egress (traffic to the endpoint) and
 * starts the probe thread in the namespace at netns_path. Return 0 or -errno (message in err).
 */
int probe_open(const char *netns_path, const char *pin_dir, const char *ifname, struct probe **ret,
	       char *err, size_t err_len);

/*
 * Starts probing 10.0.0.5:sport -> 10.255.0.1:port. Return true if it is dropped now (so the
 * moment it passes can be timed), false if it passes already (nothing is probed).
 */
bool probe_arm(struct probe *p, uint16_t port, uint16_t sport);

/*
 * Waits up to timeout_s for the armed probe to pass. Return the CLOCK_MONOTONIC time in seconds
 * at which it first passed, or 0 on timeout (probing stops either way).
 */
double probe_wait(struct probe *p, double timeout_s);

void probe_close(struct probe *p);

#endif /* IOFENCE_BENCH_APPLY_PROBE_H */
