// SPDX-License-Identifier: Apache-2.0
/*
 * The process's age from its start time in /proc/self/stat (clock ticks since boot, so a
 * resolution of 1/CLK_TCK s): the start-up log lines measure from the exec, not from main().
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proc_start.h"

long proc_ms_since_start(void)
{
	char buf[1024], *p;
	unsigned long long start = 0;
	struct timespec now;
	FILE *f = fopen("/proc/self/stat", "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')'); /* the command may hold spaces */
	/* field 22, starttime: the 20th after the command's closing parenthesis */
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%llu", &start) != 1)
		return -1;
	clock_gettime(CLOCK_BOOTTIME, &now);
	return (long)((double)now.tv_sec * 1000.0 + (double)now.tv_nsec / 1e6 -
		      (double)start * 1000.0 / (double)sysconf(_SC_CLK_TCK));
}
