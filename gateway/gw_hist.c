/*
 * gw_hist: bucket bounds and observations (see gw_hist.h).
 */
#include <string.h>

#include "gw_hist.h"

/* Forward delay should be microseconds; anything near a second is a bug
 * or a starved machine, and the buckets say which. */
static const double s_forward[] = { 0.00001, 0.000025, 0.00005, 0.0001,
	0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1.0 };
static const double s_latency[] = { 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5,
	1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0 };

static void
s_init(gw_hist_t *h, const double *bounds, size_t n)
{
	memset(h, 0, sizeof *h);
	h->bounds = bounds;
	h->n_bounds = n;
}

void
gw_hist_init_forward(gw_hist_t *h)
{
	s_init(h, s_forward, sizeof s_forward / sizeof s_forward[0]);
}

void
gw_hist_init_latency(gw_hist_t *h)
{
	s_init(h, s_latency, sizeof s_latency / sizeof s_latency[0]);
}

void
gw_hist_observe_us(gw_hist_t *h, int64_t us)
{
	double s = (double) (us < 0 ? 0 : us) / 1e6;
	size_t i;

	for (i = 0; i < h->n_bounds && s > h->bounds[i]; i++)
		;
	if (i < h->n_bounds)
		h->counts[i]++;
	else
		h->inf++;
	h->sum += s;
	h->count++;
}
