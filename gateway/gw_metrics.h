/*
 * gw_metrics: writers of the Prometheus text exposition (version 0.0.4):
 * one counter or gauge, a histogram (gw_hist), any formatted line, into
 * a caller's buffer that is cut, never overrun, when full. No state; any
 * thread (the gateway calls it from the lws service thread).
 */
#ifndef GW_METRICS_H
#define GW_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "gw_hist.h"

/* snprintf at *p, advancing it; output past end is cut, never overrun. */
void gw_metrics_put(char **p, const char *end, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Append a histogram in exposition format. */
void gw_metrics_hist(char **p, const char *end, const char *name,
    const char *help, const gw_hist_t *h);

/* Append "# HELP", "# TYPE" and one sample; type: "counter" or "gauge". */
void gw_metrics_value(char **p, const char *end, const char *name,
    const char *type, const char *help, double value);

#endif
