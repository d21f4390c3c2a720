// SPDX-License-Identifier: Apache-2.0
/*
 * The agent's log: one line per event on stderr with its level. Under journald
 * (JOURNAL_STREAM set) lines carry a <N> syslog priority prefix instead of a timestamp.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

static atomic_int log_level = LOG_INFO;
static const char *const level_names[] = {"error", "warn", "info", "debug"};
static const int syslog_prio[] = {3, 4, 6, 7};

int log_parse_level(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (!strcmp(name, level_names[i]))
			return i;
	if (!strcmp(name, "warning"))
		return LOG_WARN;
	return -1;
}

void log_set_level(int level)
{
	atomic_store(&log_level, level);
}

void log_msg(int level, const char *fmt, ...)
{
	char line[2048];
	int n = 0;
	va_list ap;

	if (level > atomic_load(&log_level))
		return;
	if (getenv("JOURNAL_STREAM")) {
		n = snprintf(line, sizeof(line), "<%d>%s: ", syslog_prio[level],
			     level_names[level]);
	} else {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = (int)strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		n += snprintf(line + n, sizeof(line) - (size_t)n,
			      ".%03ldZ %s: ", ts.tv_nsec / 1000000, level_names[level]);
	}
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* One event, one line: fold embedded newlines. */
	for (char *p = line + n; *p; p++)
		if (*p == '\n')
			*p = ' ';
	fprintf(stderr, "%s\n", line);
}
