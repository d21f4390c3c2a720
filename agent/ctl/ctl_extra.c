// SPDX-License-Identifier: Apache-2.0
/* Options of the module and tunnels commands (ctl_extra.h). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ctl_extra.h"

static int bad(const char *opt, const char *v, const char *what)
{
	fprintf(stderr, "iofencectl: %s: \"%s\" is not %s\n", opt, v ? v : "", what);
	return CTL_USER_ERROR;
}

static int number(const char *opt, const char *v, unsigned long max, uint32_t *ret)
{
	char *end;
	unsigned long n = v ? strtoul(v, &end, 10) : 0;

	if (!v || !*v || *end || n > max)
		return bad(opt, v, "a number in range");
	*ret = (uint32_t)n;
	return -1;
}

int ctl_extra_parse(int *argc, char **argv, unsigned which, struct ctl_extra *x)
{
	int out = 1, r = -1;

	memset(x, 0, sizeof(*x));
	x->top = 10;
	x->interval = 1.0;
	for (int i = 1; i < *argc && r < 0; i++) {
		char *a = argv[i], *eq = strchr(a, '='), name[32];
		const char *v;
		bool mod = which & CTL_X_MODULE, tun = which & CTL_X_TUNNELS;
		int used = 1;

		snprintf(name, sizeof(name), "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
		v = eq ? eq + 1 : (i + 1 < *argc ? argv[i + 1] : NULL);
		if (!eq)
			used = 2;
		if (mod && !strcmp(name, "--interface")) {
			if (!v || !*v || x->n_ifaces >= 16)
				r = bad(name, v, "an interface name (at most 16)");
			else
				x->ifaces[x->n_ifaces++] = v;
		} else if (mod && !strcmp(name, "--port")) {
			uint32_t p = 0;

			r = x->n_ports >= 4 ? bad(name, v, "one more port (at most 4)")
					    : number(name, v, 65535, &p);
			if (r < 0 && !p)
				r = bad(name, v, "a UDP port");
			if (r < 0)
				x->ports[x->n_ports++] = p;
		} else if (mod && !strcmp(name, "--tunnel-capacity")) {
			r = number(name, v, 1u << 22, &x->tunnel_capacity);
		} else if (mod && !strcmp(name, "--inner-capacity")) {
			r = number(name, v, 1u << 22, &x->inner_capacity);
		} else if (tun && !strcmp(name, "--top")) {
			r = number(name, v, 10000, &x->top);
		} else if (tun && !strcmp(name, "--interval")) {
			char *end;

			x->interval = v ? strtod(v, &end) : -1;
			if (!v || *end || x->interval < 0 || x->interval > 60)
				r = bad(name, v, "a number of seconds (0..60)");
		} else {
			argv[out++] = a;
			continue;
		}
		if (used == 2)
			i++;
	}
	if (r >= 0)
		return r;
	*argc = out;
	argv[out] = NULL;
	return -1;
}
