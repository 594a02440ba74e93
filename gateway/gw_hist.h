/*
 * gw_hist: a latency histogram with fixed Prometheus buckets.
 *
 * A fixed array of per-bucket counts (made cumulative when rendered, by
 * gw_metrics_hist); observing costs a short linear scan and no
 * allocation. Plain data: the owner embeds it and copies it into its
 * stats. lws service thread only.
 */
#ifndef GW_HIST_H
#define GW_HIST_H

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

/* Record one observation of us microseconds (negative counts as 0). */
void gw_hist_observe_us(gw_hist_t *h, int64_t us);

#endif
