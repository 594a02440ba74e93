/*
 * bn_stats: samples and their summary for sluice-bench.
 *
 * A sample set keeps every value (int64 µs) so that percentiles are exact
 * rather than bucketed: 10 s at 250,000 results/s is 2.5 M samples, 20 MB
 * per set. The bunching counter holds the per-request pairs described in
 * bn_stats_bunching(). Single thread (the bench's lws loop), no locks.
 */
#ifndef BN_STATS_H
#define BN_STATS_H

#include <stddef.h>
#include <stdint.h>

typedef struct bn_samples {
	int64_t *v; /* owned; grown by doubling */
	size_t n, cap;
	int failed; /* an allocation failed: later samples were dropped */
} bn_samples_t;

typedef struct bn_summary {
	size_t n;
	int64_t p50, p90, p99, p999, max, min;
	double mean;
} bn_summary_t;

/* Results of one request, in the order they arrived, for bunching. */
typedef struct bn_arrival {
	int64_t t_done_us; /* the worker's wall clock when the item finished */
	int64_t t_recv_us; /* our wall clock when its frame arrived */
} bn_arrival_t;

typedef struct bn_bunching {
	uint64_t gaps;    /* consecutive results >= 1 ms apart at the worker */
	uint64_t bunched; /* ... of which arrived < gap/10 apart here */
} bn_bunching_t;

void bn_samples_init(bn_samples_t *s);
void bn_samples_free(bn_samples_t *s);

/* Append one value; on allocation failure sets s->failed and drops it. */
void bn_samples_add(bn_samples_t *s, int64_t v);

/* Sort s in place and fill out (all zero when s is empty). */
void bn_samples_summarise(bn_samples_t *s, bn_summary_t *out);

/*
 * Add one request's results to b: sort a by t_done_us, then every pair of
 * consecutive results whose finish times differ by >= 1 ms is a gap; it is
 * bunched if the two frames arrived less than a tenth of that gap apart.
 * Reorders a.
 */
void bn_stats_bunching(bn_bunching_t *b, bn_arrival_t *a, size_t n);

#endif
