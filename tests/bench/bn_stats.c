/*
 * bn_stats: exact percentiles over kept samples, and the bunching index
 * (see bn_stats.h). The bench's single thread.
 */
#include <stdlib.h>

#include "bn_stats.h"

#define BN_GAP_MIN_US 1000 /* finish times closer than 1 ms are no gap */

void
bn_samples_init(bn_samples_t *s)
{
	s->v = NULL;
	s->n = s->cap = 0;
	s->failed = 0;
}

void
bn_samples_free(bn_samples_t *s)
{
	free(s->v);
	bn_samples_init(s);
}

void
bn_samples_add(bn_samples_t *s, int64_t v)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		int64_t *p = realloc(s->v, cap * sizeof *p);

		if (!p) {
			s->failed = 1;
			return;
		}
		s->v = p;
		s->cap = cap;
	}
	s->v[s->n++] = v;
}

static int
s_cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v: the smallest value with at least
 * q of the samples at or below it. */
static int64_t
s_rank(const int64_t *v, size_t n, double q)
{
	size_t k = (size_t) (q * (double) n + 0.999999);

	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1];
}

void
bn_samples_summarise(bn_samples_t *s, bn_summary_t *out)
{
	double sum = 0;

	*out = (bn_summary_t) { 0 };
	if (!s->n)
		return;
	qsort(s->v, s->n, sizeof *s->v, s_cmp_i64);
	for (size_t i = 0; i < s->n; i++)
		sum += (double) s->v[i];
	out->n = s->n;
	out->min = s->v[0];
	out->max = s->v[s->n - 1];
	out->p50 = s_rank(s->v, s->n, 0.50);
	out->p90 = s_rank(s->v, s->n, 0.90);
	out->p99 = s_rank(s->v, s->n, 0.99);
	out->p999 = s_rank(s->v, s->n, 0.999);
	out->mean = sum / (double) s->n;
}

static int
s_cmp_done(const void *a, const void *b)
{
	int64_t x = ((const bn_arrival_t *) a)->t_done_us;
	int64_t y = ((const bn_arrival_t *) b)->t_done_us;

	return (x > y) - (x < y);
}

void
bn_stats_bunching(bn_bunching_t *b, bn_arrival_t *a, size_t n)
{
	if (n < 2)
		return;
	qsort(a, n, sizeof *a, s_cmp_done);
	for (size_t i = 1; i < n; i++) {
		int64_t gap = a[i].t_done_us - a[i - 1].t_done_us;
		int64_t apart = a[i].t_recv_us - a[i - 1].t_recv_us;

		if (gap < BN_GAP_MIN_US)
			continue;
		b->gaps++;
		/* Arrival order may differ from finish order: compare the
		 * distance, not the signed difference. */
		if (apart < 0)
			apart = -apart;
		if (apart * 10 < gap)
			b->bunched++;
	}
}
