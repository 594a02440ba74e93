/*
 * bn_report: table and JSON output (see bn_report.h). Main thread.
 */
#include <inttypes.h>
#include <string.h>

#include <jansson.h>

#include "bn_report.h"

#define BN_DETAIL_MAX 8 /* connections listed one by one, at most */

/* Everything derived from the raw counters, in one place. */
typedef struct bn_derived {
	bn_summary_t fwd, e2e, req, rtt;
	double window_s; /* first submit to last result */
	double run_s;    /* run start to end of drain (CPU window) */
	double results_per_s;
	double offered_per_s; /* rate mode: what the schedule asked for */
	double frame_bytes;   /* mean result frame */
	double bunching;      /* bunched / gaps; -1: no gaps */
	double bench_cpu_pct, bench_us_per_result, bench_ceiling;
	double gw_cpu_pct, wk_cpu_pct;
	double others_cpu_pct; /* machine busy minus bench, gateway, workers */
	double makespan_ms;    /* first submit to last done */
	uint64_t lost;
} bn_derived_t;

uint64_t
bn_report_lost(const bn_run_t *run)
{
	const bn_counts_t *c = &run->c;
	uint64_t ended = c->results + c->item_errors + c->refused_items;

	return c->items_submitted > ended ? c->items_submitted - ended : 0;
}

int
bn_report_ok(const bn_run_t *run)
{
	const bn_counts_t *c = &run->c;

	return !run->failed && !bn_report_lost(run) && !c->req_refused
	    && !c->item_errors && !c->conns_failed && !c->conns_lost
	    && !c->idle_failed && !c->idle_lost && !c->unparsed
	    && !c->unknown_id && !c->push_open && !c->push_misordered
	    && (c->results || !run->plan.conns);
}

static void
s_derive(bn_run_t *run, bn_derived_t *d)
{
	const bn_counts_t *c = &run->c;
	int64_t first = 0, last = 0;
	double cpu_s;

	memset(d, 0, sizeof *d);
	bn_samples_summarise(&run->fwd, &d->fwd);
	bn_samples_summarise(&run->e2e, &d->e2e);
	bn_samples_summarise(&run->req, &d->req);
	bn_samples_summarise(&run->rtt, &d->rtt);
	if (run->t_first_submit && run->t_last_result > run->t_first_submit)
		d->window_s
		    = (double) (run->t_last_result - run->t_first_submit)
		    / 1e6;
	if (run->t_run_end_us > run->t_run_us)
		d->run_s = (double) (run->t_run_end_us - run->t_run_us) / 1e6;
	if (d->window_s > 0)
		d->results_per_s = (double) c->results / d->window_s;
	if (run->plan.rate > 0)
		d->offered_per_s = run->plan.rate * run->plan.conns
		    * (double) run->conns[0].items;
	if (c->results)
		d->frame_bytes
		    = (double) c->result_bytes / (double) c->results;
	d->bunching = run->bunch.gaps
	    ? (double) run->bunch.bunched / (double) run->bunch.gaps
	    : -1;
	cpu_s = (double) (run->cpu1_us - run->cpu0_us) / 1e6;
	if (d->run_s > 0) {
		d->bench_cpu_pct = 100 * cpu_s / d->run_s;
		d->gw_cpu_pct = 100 * (double) (run->gw_cpu1 - run->gw_cpu0)
		    / 1e6 / d->run_s;
		d->wk_cpu_pct = 100 * (double) (run->wk_cpu1 - run->wk_cpu0)
		    / 1e6 / d->run_s;
		d->others_cpu_pct = 100
		        * (double) (run->sys_busy1 - run->sys_busy0) / 1e6
		        / d->run_s
		    - d->bench_cpu_pct - d->gw_cpu_pct - d->wk_cpu_pct;
		if (d->others_cpu_pct < 0)
			d->others_cpu_pct = 0; /* tick rounding */
	}
	if (c->results && cpu_s > 0) {
		d->bench_us_per_result = cpu_s * 1e6 / (double) c->results;
		d->bench_ceiling = (double) c->results / cpu_s;
	}
	for (int i = 0; i < run->plan.conns; i++) {
		const bn_conn_t *cn = &run->conns[i];

		if (cn->first_submit_us
		    && (!first || cn->first_submit_us < first))
			first = cn->first_submit_us;
		if (cn->last_done_us > last)
			last = cn->last_done_us;
	}
	if (first && last > first)
		d->makespan_ms = (double) (last - first) / 1e3;
	d->lost = bn_report_lost(run);
}

static json_t *
s_json_summary(const bn_summary_t *s)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:f}", "n",
	    (json_int_t) s->n, "p50", (json_int_t) s->p50, "p90",
	    (json_int_t) s->p90, "p99", (json_int_t) s->p99, "p99_9",
	    (json_int_t) s->p999, "max", (json_int_t) s->max, "mean", s->mean);
}

static void
s_print_json(const bn_run_t *run, const bn_derived_t *d, FILE *out)
{
	const bn_plan_t *p = &run->plan;
	const bn_counts_t *c = &run->c;
	json_t *o, *conns = json_array();

	for (int i = 0; i < p->conns && i < BN_DETAIL_MAX; i++) {
		const bn_conn_t *cn = &run->conns[i];

		json_array_append_new(conns,
		    json_pack("{s:i, s:I, s:I, s:f, s:f, s:f}", "conn", i,
		        "items_per_request", (json_int_t) cn->items,
		        "requests_done", (json_int_t) cn->done,
		        "first_submit_ms",
		        cn->first_submit_us
		            ? (double) (cn->first_submit_us - run->t_run_us)
		                / 1e3
		            : -1.0,
		        "last_done_ms",
		        cn->last_done_us
		            ? (double) (cn->last_done_us - run->t_run_us) / 1e3
		            : -1.0,
		        "max_request_ms", (double) cn->max_req_us / 1e3));
	}
	o = json_pack("{s:b, s:s, s:s, s:i, s:i, s:f, s:i, s:f, s:f}", "ok",
	    bn_report_ok(run), "task", p->task, "item", p->item_json, "conns",
	    p->conns, "idle", p->idle, "rate_per_conn", p->rate, "inflight",
	    p->inflight, "window_s", d->window_s, "run_s", d->run_s);
	json_object_set_new(o, "connections",
	    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "ok",
	        (json_int_t) c->conns_ok, "failed",
	        (json_int_t) c->conns_failed, "lost",
	        (json_int_t) c->conns_lost, "idle_ok", (json_int_t) c->idle_ok,
	        "idle_failed", (json_int_t) c->idle_failed, "idle_lost",
	        (json_int_t) c->idle_lost));
	json_object_set_new(o, "requests",
	    json_pack("{s:I, s:I, s:I, s:I}", "submitted",
	        (json_int_t) c->req_submitted, "done",
	        (json_int_t) c->req_done, "refused",
	        (json_int_t) c->req_refused, "late",
	        (json_int_t) c->late_submits));
	json_object_set_new(o, "items",
	    json_pack("{s:I, s:I, s:I, s:I, s:I}", "submitted",
	        (json_int_t) c->items_submitted, "results",
	        (json_int_t) c->results, "item_errors",
	        (json_int_t) c->item_errors, "refused",
	        (json_int_t) c->refused_items, "lost", (json_int_t) d->lost));
	json_object_set_new(o, "results_per_s", json_real(d->results_per_s));
	json_object_set_new(o, "offered_per_s", json_real(d->offered_per_s));
	json_object_set_new(
	    o, "result_frame_bytes", json_real(d->frame_bytes));
	json_object_set_new(o, "forward_delay_us", s_json_summary(&d->fwd));
	json_object_set_new(o, "item_latency_us", s_json_summary(&d->e2e));
	json_object_set_new(o, "request_latency_us", s_json_summary(&d->req));
	json_object_set_new(o, "ping_rtt_us", s_json_summary(&d->rtt));
	json_object_set_new(o, "pings",
	    json_pack("{s:I, s:I}", "sent", (json_int_t) c->pings_sent,
	        "answered", (json_int_t) c->pongs));
	json_object_set_new(o, "bunching",
	    json_pack("{s:f, s:I, s:I}", "index", d->bunching, "gaps",
	        (json_int_t) run->bunch.gaps, "bunched",
	        (json_int_t) run->bunch.bunched));
	json_object_set_new(o, "makespan_ms", json_real(d->makespan_ms));
	json_object_set_new(o, "per_connection", conns);
	json_object_set_new(o, "gateway",
	    json_pack("{s:i, s:I, s:I, s:I, s:I, s:f}", "pid", (int) p->gw_pid,
	        "rss_before_kib", (json_int_t) run->rss_before_kib,
	        "rss_start_kib", (json_int_t) run->rss_start_kib,
	        "rss_peak_kib", (json_int_t) run->rss_peak_kib, "rss_end_kib",
	        (json_int_t) run->rss_end_kib, "cpu_pct", d->gw_cpu_pct));
	json_object_set_new(o, "workers_cpu_pct", json_real(d->wk_cpu_pct));
	json_object_set_new(o, "push",
	    json_pack("{s:b, s:I, s:I}", "on", p->push, "open",
	        (json_int_t) c->push_open, "misordered",
	        (json_int_t) c->push_misordered));
	json_object_set_new(
	    o, "other_processes_cpu_pct", json_real(d->others_cpu_pct));
	json_object_set_new(o, "bench",
	    json_pack("{s:f, s:f, s:f, s:s, s:I, s:I}", "cpu_pct",
	        d->bench_cpu_pct, "cpu_us_per_result", d->bench_us_per_result,
	        "ceiling_results_per_cpu_s", d->bench_ceiling, "parser",
	        p->msgpack                        ? "msgpack"
	            : p->parser == BN_PARSER_FAST ? "fast"
	                                          : "jansson",
	        "fallback_parses", (json_int_t) c->fallback_parses, "unparsed",
	        (json_int_t) c->unparsed));
	json_dumpf(o, out, JSON_COMPACT);
	fputc('\n', out);
	json_decref(o);
}

static void
s_row(FILE *out, const char *name, const bn_summary_t *s)
{
	if (!s->n) {
		fprintf(out, "  %-16s %9s\n", name, "-");
		return;
	}
	fprintf(out, "  %-16s %9.3f %9.3f %9.3f %9.3f %9.3f  (n=%zu)\n", name,
	    (double) s->p50 / 1e3, (double) s->p90 / 1e3,
	    (double) s->p99 / 1e3, (double) s->p999 / 1e3,
	    (double) s->max / 1e3, s->n);
}

static void
s_print_table(const bn_run_t *run, const bn_derived_t *d, FILE *out)
{
	const bn_plan_t *p = &run->plan;
	const bn_counts_t *c = &run->c;

	fprintf(out, "sluice-bench: task %s, item %.40s%s, %d conns", p->task,
	    p->item_json, strlen(p->item_json) > 40 ? "..." : "", p->conns);
	if (p->rate > 0)
		fprintf(out, ", %.1f req/s each (cap %d in flight)\n", p->rate,
		    p->inflight);
	else
		fprintf(
		    out, ", closed loop, %d in flight each\n", p->inflight);
	fprintf(out,
	    "  connections      %" PRIu64 " ok, %" PRIu64 " failed, %" PRIu64
	    " closed early; idle %" PRIu64 " ok, %" PRIu64 " failed, %" PRIu64
	    " closed early\n",
	    c->conns_ok, c->conns_failed, c->conns_lost, c->idle_ok,
	    c->idle_failed, c->idle_lost);
	fprintf(out,
	    "  requests         %" PRIu64 " submitted, %" PRIu64
	    " done, %" PRIu64 " refused, %" PRIu64 " sent late\n",
	    c->req_submitted, c->req_done, c->req_refused, c->late_submits);
	fprintf(out,
	    "  items            %" PRIu64 " submitted, %" PRIu64
	    " results, %" PRIu64 " item errors, %" PRIu64 " LOST\n",
	    c->items_submitted, c->results, c->item_errors, d->lost);
	fprintf(out, "  throughput       %.0f results/s over %.3f s",
	    d->results_per_s, d->window_s);
	if (d->offered_per_s > 0)
		fprintf(out, " (offered %.0f/s)", d->offered_per_s);
	fprintf(out, "; result frames %.0f B\n", d->frame_bytes);
	fprintf(out, "  %-16s %9s %9s %9s %9s %9s\n", "(ms)", "p50", "p90",
	    "p99", "p99.9", "max");
	s_row(out, "forward delay", &d->fwd);
	s_row(out, "item latency", &d->e2e);
	s_row(out, "request latency", &d->req);
	s_row(out, "ping rtt", &d->rtt);
	if (c->pings_sent)
		fprintf(out,
		    "  pings            %" PRIu64 " sent, %" PRIu64
		    " answered\n",
		    c->pings_sent, c->pongs);
	if (d->bunching >= 0)
		fprintf(out,
		    "  bunching index   %.3f (%" PRIu64 " of %" PRIu64
		    " gaps >= 1 ms arrived < gap/10 apart)\n",
		    d->bunching, run->bunch.bunched, run->bunch.gaps);
	else
		fprintf(out,
		    "  bunching index   - (no results >= 1 ms apart "
		    "at the worker)\n");
	if (d->makespan_ms > 0)
		fprintf(out,
		    "  makespan         %.1f ms (first submit to last "
		    "done)\n",
		    d->makespan_ms);
	for (int i = 0; p->conns <= BN_DETAIL_MAX && i < p->conns; i++) {
		const bn_conn_t *cn = &run->conns[i];

		if (!cn->first_submit_us) {
			fprintf(out,
			    "  conn %-2d          K=%zu, nothing submitted\n",
			    i, cn->items);
			continue;
		}
		fprintf(out,
		    "  conn %-2d          K=%zu, %" PRIu64 " done, first "
		    "submit %.1f ms, last done %.1f ms, slowest request "
		    "%.1f ms\n",
		    i, cn->items, cn->done,
		    (double) (cn->first_submit_us - run->t_run_us) / 1e3,
		    (double) (cn->last_done_us - run->t_run_us) / 1e3,
		    (double) cn->max_req_us / 1e3);
	}
	if (p->gw_pid)
		fprintf(out,
		    "  server           pid %d: RSS %.1f MiB before we "
		    "connected, %.1f at start, %.1f peak, %.1f at end; CPU "
		    "%.0f%% of a core\n",
		    (int) p->gw_pid, (double) run->rss_before_kib / 1024,
		    (double) run->rss_start_kib / 1024,
		    (double) run->rss_peak_kib / 1024,
		    (double) run->rss_end_kib / 1024, d->gw_cpu_pct);
	if (p->n_worker_pids || p->push)
		fprintf(out, "  workers          CPU %.0f%% of a core%s\n",
		    d->wk_cpu_pct, p->push ? " (the tickers' own count)" : "");
	if (c->push_open || c->push_misordered)
		fprintf(out,
		    "  push             %" PRIu64
		    " connections without a done "
		    "line, %" PRIu64 " results out of order\n",
		    c->push_open, c->push_misordered);
	fprintf(out,
	    "  other processes  CPU %.0f%% of a core (machine busy time "
	    "not accounted to the above)\n",
	    d->others_cpu_pct);
	fprintf(out,
	    "  bench            CPU %.0f%% of a core, %.2f us per result "
	    "(%s parser; ceiling ~%.0f results/s per CPU-second)\n",
	    d->bench_cpu_pct, d->bench_us_per_result,
	    p->msgpack                        ? "msgpack"
	        : p->parser == BN_PARSER_FAST ? "fast"
	                                      : "jansson",
	    d->bench_ceiling);
	if (c->fallback_parses || c->unparsed || c->unknown_id || c->no_timing)
		fprintf(out,
		    "  frames           %" PRIu64
		    " via jansson fallback, %" PRIu64 " unparsed, %" PRIu64
		    " for unknown ids, %" PRIu64
		    " results without t_done_us\n",
		    c->fallback_parses, c->unparsed, c->unknown_id,
		    c->no_timing);
	fprintf(out, "  verdict          %s\n",
	    bn_report_ok(run) ? "ok" : "FAILED (see above)");
}

void
bn_report_print(bn_run_t *run, int json, FILE *out)
{
	bn_derived_t d;

	s_derive(run, &d);
	if (json)
		s_print_json(run, &d, out);
	else
		s_print_table(run, &d, out);
}
