/* SPDX-License-Identifier: Apache-2.0 */
/* Prometheus metrics on --metrics HOST:PORT (metrics.c). */
#ifndef IOFENCE_IOFENCED_METRICS_H
#define IOFENCE_IOFENCED_METRICS_H

#include <stddef.h>
#include <stdio.h>

struct agent;
struct datapath;
struct snapshot;

/* Nothing to do without --metrics. Needs a->engine and a->flows. */
int metrics_start(struct agent *a, char *err, size_t err_len);
void metrics_stop(struct agent *a);

/* Counters, drops and map fill of dp for the image of s (metrics_counters.c). */
void metrics_write_counters(struct datapath *dp, FILE *f, struct snapshot *s);
/* s as a label value (quotes, backslashes and newlines escaped). */
void metrics_escape_label(FILE *f, const char *s);

#endif /* IOFENCE_IOFENCED_METRICS_H */
