/*
 * metrics.h: vmctl metrics, vm.stats_all in Prometheus' text format (metrics.c).
 */
#ifndef VMCTL_METRICS_H
#define VMCTL_METRICS_H

#include <jansson.h>

#include "cmd.h"

/* The (empty) params; with --http, after reading the scrape's request (NULL: not a GET,
 * answered 405, or a usage error). */
json_t *params_metrics(const struct args *a);
/* The exposition on stdout, into --output FILE (renamed into place) or as an HTTP answer. */
int print_metrics(const struct args *a, json_t *result);

#endif
