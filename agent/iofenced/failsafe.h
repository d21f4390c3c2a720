/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The anti-lockout set of the XDP prefilter: the configured --failsafe entries (tcp:22 by
 * default) plus every TCP port the agent listens on, so that a deny-all prefilter never cuts
 * the operator off the node's SSH or the agent's own API.
 */
#ifndef IOFENCE_IOFENCED_FAILSAFE_H
#define IOFENCE_IOFENCED_FAILSAFE_H

#include <stddef.h>

#include "bpf/datapath_maps.h"

struct agent_config;

/*
 * failsafe_table() - fills out[0..max) with one entry per {port, family} (IPv4 and IPv6),
 * without duplicates, and returns how many. Entries that do not fit are left out and named
 * in dropped (empty when all fit).
 */
size_t failsafe_table(const struct agent_config *cfg, struct iof_failsafe *out, size_t max,
		      char *dropped, size_t dropped_len);

/* The TCP port of a --listen HOST:PORT (or [V6]:PORT) address; 0 for unix: and bad ones. */
unsigned failsafe_listen_port(const char *listen);

#endif /* IOFENCE_IOFENCED_FAILSAFE_H */
