/*
 * gw_metrics: Prometheus histograms and the /metrics text exposition.
 *
 * A histogram is a fixed array of cumulative-by-render buckets; observing
 * costs a short linear scan and no allocation. Rendering writes the whole
 * exposition into a caller's buffer from the broker's and the connections'
 * counters. lws service thread only.
 */
#ifndef GW_METRICS_H
#define GW_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define GW_HIST_MAX_BUCKETS 16

typedef struct gw_hist {
	size_t n_bounds;                      /* finite upper bounds used */
	const double *bounds;                 /* seconds, ascending; static */
	uint64_t counts[GW_HIST_MAX_BUCKETS]; /* per bucket, not cumulative */
	uint64_t inf;                         /* above the last bound */
	double sum;                           /* seconds */
	uint64_t count;
} gw_hist_t;

/* Buckets for the forward delay (µs scale) and item latency (s scale). */
void gw_hist_init_forward(gw_hist_t *h);
void gw_hist_init_latency(gw_hist_t *h);

/* Record one observation of us microseconds. */
void gw_hist_observe_us(gw_hist_t *h, int64_t us);

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
