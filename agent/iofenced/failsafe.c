// SPDX-License-Identifier: Apache-2.0
/* The prefilter's failsafe set: see failsafe.h. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "failsafe.h"

unsigned failsafe_listen_port(const char *listen)
{
	const char *colon;
	char *end;
	unsigned long port;

	if (!listen || !strncmp(listen, "unix:", 5))
		return 0;
	colon = strrchr(listen, ':');
	if (!colon || !colon[1])
		return 0;
	port = strtoul(colon + 1, &end, 10);
	return *end || port == 0 || port > 65535 ? 0 : (unsigned)port;
}

static void add(struct iof_failsafe *out, size_t max, size_t *n, int proto, unsigned port,
		char *dropped, size_t dropped_len)
{
	for (size_t i = 0; i < *n; i++)
		if (out[i].proto == proto && ntohs(out[i].port) == port)
			return;
	for (int fam = 4; fam <= 6; fam += 2) {
		struct iof_failsafe *f;

		if (*n >= max) {
			size_t l = strlen(dropped);

			snprintf(dropped + l, dropped_len - l, "%s%s:%u/v%d", l ? ", " : "",
				 proto == 6 ? "tcp" : "udp", port, fam);
			continue;
		}
		f = &out[(*n)++];
		memset(f, 0, sizeof(*f));
		f->used = 1;
		f->proto = (uint8_t)proto;
		f->port = htons((uint16_t)port);
		f->family = (uint8_t)fam;
	}
}

size_t failsafe_table(const struct agent_config *cfg, struct iof_failsafe *out, size_t max,
		      char *dropped, size_t dropped_len)
{
	size_t n = 0;

	dropped[0] = 0;
	/* the agent's own API first: it is what a remote operator needs to repair the rest */
	for (size_t i = 0; i < cfg->n_listen; i++) {
		unsigned port = failsafe_listen_port(cfg->listen[i]);

		if (port)
			add(out, max, &n, 6, port, dropped, dropped_len);
	}
	for (size_t i = 0; i < cfg->n_failsafe; i++) {
		unsigned port;
		char proto[8];

		if (sscanf(cfg->failsafe[i], "%7[a-z]:%u", proto, &port) != 2)
			continue; /* "none" */
		add(out, max, &n, strcmp(proto, "udp") ? 6 : 17, port, dropped, dropped_len);
	}
	return n;
}
