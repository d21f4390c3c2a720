/* SPDX-License-Identifier: Apache-2.0 */
/* How long this process has existed (proc_start.c): the start-up figures of the log lines. */
#ifndef IOFENCE_IOFENCED_PROC_START_H
#define IOFENCE_IOFENCED_PROC_START_H

/* Milliseconds since the process was created (an exec keeps it), -1 if unknown. */
long proc_ms_since_start(void);

#endif /* IOFENCE_IOFENCED_PROC_START_H */
