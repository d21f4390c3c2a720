/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's log (log.c): leveled lines on stderr, syslog priorities under journald. */
#ifndef IOFENCE_IOFENCED_LOG_H
#define IOFENCE_IOFENCED_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

int log_parse_level(const char *name); /* -1 if unknown */
void log_set_level(int level);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif /* IOFENCE_IOFENCED_LOG_H */
