/*
 * gw_metrics: histograms and exposition helpers (see gw_metrics.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "gw_metrics.h"

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

void
gw_metrics_put(char **p, const char *end, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*p >= end)
		return;
	va_start(ap, fmt);
	n = vsnprintf(*p, (size_t) (end - *p), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	*p += (size_t) n < (size_t) (end - *p) ? (size_t) n
	                                       : (size_t) (end - *p);
}

void
gw_metrics_value(char **p, const char *end, const char *name, const char *type,
    const char *help, double value)
{
	gw_metrics_put(p, end, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name,
	    help, name, type, name, value);
}

void
gw_metrics_hist(char **p, const char *end, const char *name, const char *help,
    const gw_hist_t *h)
{
	uint64_t cum = 0;

	gw_metrics_put(
	    p, end, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (size_t i = 0; i < h->n_bounds; i++) {
		cum += h->counts[i];
		gw_metrics_put(p, end, "%s_bucket{le=\"%g\"} %llu\n", name,
		    h->bounds[i], (unsigned long long) cum);
	}
	gw_metrics_put(p, end,
	    "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9g\n%s_count %llu\n", name,
	    (unsigned long long) h->count, name, h->sum, name,
	    (unsigned long long) h->count);
}
