/*
 * gw_metrics: exposition writers (see gw_metrics.h).
 */
#include <stdarg.h>
#include <stdio.h>

#include "gw_metrics.h"

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
