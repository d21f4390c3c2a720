/* SPDX-License-Identifier: Apache-2.0 */
/* Prometheus metrics on --metrics HOST:PORT (metrics.c). */
#ifndef IOFENCE_IOFENCED_METRICS_H
#define IOFENCE_IOFENCED_METRICS_H

#include <stddef.h>

struct agent;

/* Nothing to do without --metrics. Needs a->engine and a->flows. */
int metrics_start(struct agent *a, char *err, size_t err_len);
void metrics_stop(struct agent *a);

#endif /* IOFENCE_IOFENCED_METRICS_H */
