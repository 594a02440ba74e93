/*
 * bn_client: the bench's connections and its control timer (see
 * bn_client.h). lws service thread only (the process has no other).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <msgpack.h>

#include "bn_client.h"
#include "bn_proc.h"
#include "bn_push.h"
#include "sl_clock.h"
#include "sl_err.h"
#include "sl_json.h"
#include "sl_log.h"

#define BN_CTL_US 5000           /* control timer period */
#define BN_PARK_CTL_US 100000    /* ... while parked */
#define BN_RSS_EVERY_US 100000   /* gateway RSS sample period */
#define BN_CLOSE_WAIT_US 3000000 /* polite closes, then lws drops the rest */
#define BN_WRITE_BATCH 64        /* frames written per WRITEABLE */
#define BN_LATE_US 1000          /* a submit this late counts as late */

enum { BN_C_NEW = 0, BN_C_CONNECTING, BN_C_OPEN, BN_C_CLOSED, BN_C_FAILED };

struct bn_req {
	uint64_t n;          /* request number on its connection */
	int active;          /* submitted, no done or refusal yet */
	size_t got;          /* results + item errors */
	int64_t t_submit_us; /* monotonic */
	bn_arrival_t *arr;   /* owned: results, for the bunching index */
	size_t n_arr;
};

/* ---- setup ---------------------------------------------------------------
 */

/* The msgpack form of s_submit_tail: task, timing and items packed after
 * a map header of 5 and the type and id pairs (s_send_submit). */
static char *
s_submit_tail_mp(const bn_plan_t *p, size_t k, size_t *len)
{
	json_t *item = json_loads(p->item_json, JSON_DECODE_ANY, NULL);
	msgpack_sbuffer sb;
	msgpack_packer pk;
	char *t = NULL;
	int bad;

	if (!item)
		return NULL;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	bad = msgpack_pack_str_with_body(&pk, "task", 4)
	    || msgpack_pack_str_with_body(&pk, p->task, strlen(p->task))
	    || msgpack_pack_str_with_body(&pk, "timing", 6)
	    || msgpack_pack_true(&pk)
	    || msgpack_pack_str_with_body(&pk, "items", 5)
	    || msgpack_pack_array(&pk, (uint32_t) k);
	for (size_t i = 0; !bad && i < k; i++)
		bad = sl_json_to_mp(item, &pk, 12) != 0;
	if (!bad && (t = malloc(sb.size))) {
		memcpy(t, sb.data, sb.size);
		*len = sb.size;
	}
	msgpack_sbuffer_destroy(&sb);
	json_decref(item);
	return t;
}

/* `","task":"T","timing":true,"items":[I,I,...]}`: all of a submit frame
 * after the id, built once per connection. */
static char *
s_submit_tail(const bn_plan_t *p, size_t k, size_t *len)
{
	if (p->msgpack)
		return s_submit_tail_mp(p, k, len);
	size_t il = strlen(p->item_json);
	size_t cap = strlen(p->task) + 64 + k * (il + 1);
	char *t = malloc(cap), *o;

	if (!t)
		return NULL;
	o = t
	    + snprintf(t, cap,
	        "\",\"task\":\"%s\",\"timing\":true,\"items\":[", p->task);
	for (size_t i = 0; i < k; i++) {
		if (i)
			*o++ = ',';
		memcpy(o, p->item_json, il);
		o += il;
	}
	*o++ = ']';
	*o++ = '}';
	*len = (size_t) (o - t);
	return t;
}

int
bn_client_init(bn_run_t *run, const bn_plan_t *plan, char *err, size_t errlen)
{
	memset(run, 0, sizeof *run);
	run->plan = *plan;
	bn_samples_init(&run->fwd);
	bn_samples_init(&run->e2e);
	bn_samples_init(&run->req);
	bn_samples_init(&run->rtt);
	run->n_conns = plan->conns + plan->idle;
	run->conns = calloc((size_t) run->n_conns, sizeof *run->conns);
	if (!run->conns)
		goto nomem;
	for (int i = 0; i < run->n_conns; i++) {
		bn_conn_t *c = &run->conns[i];
		uint64_t share;

		c->run = run;
		c->index = i;
		c->idle = i >= plan->conns;
		if (c->idle)
			continue;
		c->items = plan->items[i % plan->n_items];
		/* --requests is a total: connection i gets its share. */
		share = plan->requests / (uint64_t) plan->conns
		    + ((uint64_t) i < plan->requests % (uint64_t) plan->conns);
		c->quota = plan->requests ? share : UINT64_MAX;
		c->reqs = calloc((size_t) plan->inflight, sizeof *c->reqs);
		if (!c->reqs)
			goto nomem;
		for (int s = 0; s < plan->inflight; s++) {
			c->reqs[s].arr
			    = malloc(c->items * sizeof(bn_arrival_t));
			if (!c->reqs[s].arr)
				goto nomem;
		}
		c->submit_tail
		    = s_submit_tail(plan, c->items, &c->submit_tail_len);
		c->tx_cap = LWS_PRE + c->submit_tail_len + 128;
		c->tx = malloc(c->tx_cap);
		if (!c->submit_tail || !c->tx)
			goto nomem;
	}
	return 0;
nomem:
	snprintf(err, errlen, "out of memory preparing %d connections",
	    run->n_conns);
	bn_client_fini(run);
	return SL_ENOMEM;
}

void
bn_client_fini(bn_run_t *run)
{
	for (int i = 0; run->conns && i < run->n_conns; i++) {
		bn_conn_t *c = &run->conns[i];

		for (int s = 0; c->reqs && s < run->plan.inflight; s++)
			free(c->reqs[s].arr);
		free(c->reqs);
		free(c->rx);
		free(c->tx);
		free(c->submit_tail);
	}
	free(run->conns);
	run->conns = NULL;
	bn_samples_free(&run->fwd);
	bn_samples_free(&run->e2e);
	bn_samples_free(&run->req);
	bn_samples_free(&run->rtt);
}

/* ---- connecting ----------------------------------------------------------
 */

static void
s_open_more(bn_run_t *run)
{
	while (run->phase == BN_PH_CONNECT && run->next_connect < run->n_conns
	    && run->connecting < run->plan.connect_parallel) {
		bn_conn_t *c = &run->conns[run->next_connect++];
		struct lws_client_connect_info ci;

		memset(&ci, 0, sizeof ci);
		ci.context = run->ctx;
		ci.address = run->plan.host;
		ci.port = run->plan.port;
		ci.path = run->plan.path;
		ci.host = run->plan.host;
		ci.origin = run->plan.host;
		ci.local_protocol_name = BN_CLIENT_PROTOCOL;
		/* the subprotocol asked of the gateway (none: JSON) */
		ci.protocol = run->plan.msgpack ? "sluice.msgpack.v1" : NULL;
		ci.userdata = c;
		ci.opaque_user_data = c;
		ci.pwsi = &c->wsi;
		c->state = BN_C_CONNECTING;
		run->connecting++;
		if (!lws_client_connect_via_info(&ci)) {
			/* Failed before any callback: no event will come. */
			run->connecting--;
			c->state = BN_C_FAILED;
			c->wsi = NULL;
			if (c->idle)
				run->c.idle_failed++;
			else
				run->c.conns_failed++;
		}
	}
}

/* ---- sending -------------------------------------------------------------
 */

/* When request number k of c is due (rate mode), monotonic µs. Connections
 * are spread evenly over one period so their submits do not coincide. */
static int64_t
s_due_us(const bn_conn_t *c, uint64_t k)
{
	const bn_plan_t *p = &c->run->plan;
	double period = 1e6 / p->rate;
	double phase = period * c->index / p->conns;

	return c->t_begin_us + (int64_t) (phase + period * (double) k);
}

static void
s_submit_timer(lws_sorted_usec_list_t *sul)
{
	bn_conn_t *c = lws_container_of(sul, bn_conn_t, sul_submit);

	if (c->wsi && c->state == BN_C_OPEN)
		lws_callback_on_writable(c->wsi);
}

/*
 * May c submit now? If the only obstacle is time (rate mode, or its
 * stagger), arm the submit timer for when it may.
 */
static int
s_may_submit(bn_conn_t *c, int64_t now, int64_t *due)
{
	bn_run_t *run = c->run;
	int64_t at;

	if (run->phase != BN_PH_RUN || c->closing || c->next_req >= c->quota
	    || c->inflight >= run->plan.inflight || now >= run->t_end_submit)
		return 0;
	at = run->plan.rate > 0 ? s_due_us(c, c->next_req) : c->t_begin_us;
	if (now < at) {
		lws_sul_schedule(
		    run->ctx, 0, &c->sul_submit, s_submit_timer, at - now);
		return 0;
	}
	*due = at;
	return 1;
}

static int
s_write(bn_conn_t *c, size_t len)
{
	if (lws_write(c->wsi, c->tx + LWS_PRE, len,
	        c->run->plan.msgpack ? LWS_WRITE_BINARY : LWS_WRITE_TEXT)
	    < (int) len)
		return -1;
	return 0;
}

static int
s_send_submit(bn_conn_t *c, int64_t now)
{
	bn_run_t *run = c->run;
	uint64_t n = c->next_req;
	char *o = (char *) c->tx + LWS_PRE;
	bn_req_t *r = NULL;
	int head, slot;

	/* Requests end in any order: take any free slot; the id names it. */
	for (slot = 0; slot < run->plan.inflight; slot++)
		if (!c->reqs[slot].active) {
			r = &c->reqs[slot];
			break;
		}
	if (!r)
		return 0; /* cannot happen: s_may_submit checked inflight */
	if (run->plan.msgpack) {
		/* fixmap 5, "type": "submit", "id": fixstr (ids < 32 bytes) */
		char id[32];
		int il = snprintf(
		    id, sizeof id, "c%d-%d-%" PRIu64, c->index, slot, n);

		memcpy(o, "\x85\xa4type\xa6submit\xa2id", 16);
		head = 16;
		o[head++] = (char) (0xa0 | il);
		memcpy(o + head, id, (size_t) il);
		head += il;
	} else {
		head = snprintf(o, 96,
		    "{\"type\":\"submit\",\"id\":\"c%d-%d-%" PRIu64, c->index,
		    slot, n);
	}
	memcpy(o + head, c->submit_tail, c->submit_tail_len);
	r->n = n;
	r->active = 1;
	r->got = 0;
	r->n_arr = 0;
	r->t_submit_us = now;
	if (s_write(c, (size_t) head + c->submit_tail_len))
		return -1;
	c->next_req++;
	c->inflight++;
	if (!c->first_submit_us)
		c->first_submit_us = now;
	if (!run->t_first_submit)
		run->t_first_submit = now;
	run->c.req_submitted++;
	run->c.items_submitted += c->items;
	return 0;
}

static int
s_send_ping(bn_conn_t *c, int64_t now)
{
	uint64_t n = ++c->ping_seq;
	int len;

	if (c->run->plan.msgpack) {
		/* {"type": "ping", "data": uint64 n} */
		uint8_t *o = c->tx + LWS_PRE;

		memcpy(o,
		    "\x82\xa4type\xa4ping\xa4"
		    "data\xcf",
		    17);
		for (int i = 0; i < 8; i++)
			o[17 + i] = (uint8_t) (n >> (56 - 8 * i));
		len = 25;
	} else {
		len = snprintf((char *) c->tx + LWS_PRE, 64,
		    "{\"type\":\"ping\",\"data\":%" PRIu64 "}", n);
	}

	c->ping_sent[n % BN_PING_SLOTS] = now;
	c->run->c.pings_sent++;
	return s_write(c, (size_t) len);
}

static int
s_writeable(bn_conn_t *c)
{
	int64_t now = sl_clock_mono_us(), due;
	int i = 0;

	if (c->closing) {
		lws_close_reason(c->wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
		return -1;
	}
	if (c->run->plan.push) {
		if (c->push_started || c->run->phase != BN_PH_RUN)
			return 0;
		return bn_push_send_start(c);
	}
	/* Pings first: they measure how soon the gateway answers, so they
	 * must not wait behind our own submits. */
	for (; c->pings_due && i < BN_WRITE_BATCH; i++, c->pings_due--) {
		if (i && lws_send_pipe_choked(c->wsi))
			break;
		if (s_send_ping(c, now))
			return -1;
	}
	for (; i < BN_WRITE_BATCH && s_may_submit(c, now, &due); i++) {
		if (i && lws_send_pipe_choked(c->wsi)) {
			lws_callback_on_writable(c->wsi);
			break;
		}
		if (s_send_submit(c, now))
			return -1;
		if (c->run->plan.rate > 0 && now - due > BN_LATE_US)
			c->run->c.late_submits++;
		now = sl_clock_mono_us();
	}
	if (i == BN_WRITE_BATCH || c->pings_due)
		lws_callback_on_writable(c->wsi);
	return 0;
}

static void
s_ping_timer(lws_sorted_usec_list_t *sul)
{
	bn_conn_t *c = lws_container_of(sul, bn_conn_t, sul_ping);
	bn_run_t *run = c->run;

	/* Through the drain too: a CPU-bound run is mostly drain. */
	if (run->phase < BN_PH_RUN || run->phase > BN_PH_DRAIN || !c->wsi
	    || c->state != BN_C_OPEN)
		return;
	c->pings_due++;
	lws_callback_on_writable(c->wsi);
	lws_sul_schedule(
	    run->ctx, 0, &c->sul_ping, s_ping_timer, run->plan.ping_us);
}

/* ---- receiving -----------------------------------------------------------
 */

/* The open request that id ("c<conn>-<slot>-<n>") names, or NULL. */
static bn_req_t *
s_find(bn_conn_t *c, const char *id)
{
	const char *dash = strchr(id, '-');
	unsigned long slot;
	uint64_t n;
	char *end;
	bn_req_t *r;

	if (!dash || !c->reqs)
		return NULL;
	slot = strtoul(dash + 1, &end, 10);
	if (*end != '-' || slot >= (unsigned long) c->run->plan.inflight)
		return NULL;
	n = strtoull(end + 1, &end, 10);
	if (*end)
		return NULL;
	r = &c->reqs[slot];
	return r->active && r->n == n ? r : NULL;
}

/* r ended (done, or refused): free its slot and let c submit again. */
static void
s_req_end(bn_conn_t *c, bn_req_t *r, int64_t now)
{
	r->active = 0;
	c->inflight--;
	c->last_done_us = now;
	if (c->wsi)
		lws_callback_on_writable(c->wsi);
}

static void
s_on_frame(
    bn_conn_t *c, const char *text, size_t len, int64_t now, int64_t wall)
{
	bn_run_t *run = c->run;
	bn_frame_t f;
	bn_req_t *r;
	int64_t us;

	run->c.frames++;
	run->c.frame_bytes += len;
	if (run->plan.msgpack) {
		if (bn_frame_parse_mp(text, len, &f)) {
			run->c.unparsed++;
			return;
		}
	} else if (run->plan.parser == BN_PARSER_JANSSON
	    || bn_frame_scan(text, len, &f)) {
		if (run->plan.parser == BN_PARSER_FAST)
			run->c.fallback_parses++;
		if (bn_frame_parse_jansson(text, len, &f)) {
			run->c.unparsed++;
			return;
		}
	}
	if (f.type == BN_F_PONG) {
		if (f.has_data && c->ping_sent[f.data % BN_PING_SLOTS]) {
			bn_samples_add(&run->rtt,
			    now - c->ping_sent[f.data % BN_PING_SLOTS]);
			c->ping_sent[f.data % BN_PING_SLOTS] = 0;
			run->c.pongs++;
		}
		return;
	}
	if (run->plan.push) {
		bn_push_on_frame(c, &f, text, len, now, wall);
		return;
	}
	if (f.type == BN_F_ACCEPTED || f.type == BN_F_OTHER)
		return;
	r = s_find(c, f.id);
	if (!r) {
		run->c.unknown_id++;
		return;
	}
	switch (f.type) {
	case BN_F_RESULT:
		r->got++;
		run->c.results++;
		run->c.result_bytes += len;
		run->t_last_result = now;
		bn_samples_add(&run->e2e, now - r->t_submit_us);
		if (!f.has_t_done) {
			run->c.no_timing++;
			break;
		}
		bn_samples_add(&run->fwd, wall - f.t_done_us);
		if (r->n_arr < c->items)
			r->arr[r->n_arr++]
			    = (bn_arrival_t) { f.t_done_us, wall };
		break;
	case BN_F_ERROR:
		if (f.has_seq) {
			r->got++;
			run->c.item_errors++;
			break;
		}
		SL_WARN("REQ-REFUSED", "conn=%d id=%s code=%s", c->index, f.id,
		    f.code);
		run->c.req_refused++;
		run->c.refused_items += c->items;
		s_req_end(c, r, now);
		break;
	case BN_F_DONE:
		us = now - r->t_submit_us;
		bn_samples_add(&run->req, us);
		if (us > c->max_req_us)
			c->max_req_us = us;
		bn_stats_bunching(&run->bunch, r->arr, r->n_arr);
		run->c.req_done++;
		c->done++;
		s_req_end(c, r, now);
		break;
	default:
		break;
	}
}

static int
s_receive(bn_conn_t *c, const char *in, size_t len)
{
	int64_t now = sl_clock_mono_us(), wall = sl_clock_wall_us();
	int last = lws_is_final_fragment(c->wsi)
	    && !lws_remaining_packet_payload(c->wsi);

	/* The common case, a whole message in one piece: no copy. */
	if (last && !c->rx_len) {
		s_on_frame(c, in, len, now, wall);
		return 0;
	}
	if (c->rx_len + len > c->rx_cap) {
		size_t cap = c->rx_cap ? c->rx_cap : 4096;
		char *p;

		while (cap < c->rx_len + len)
			cap *= 2;
		p = realloc(c->rx, cap);
		if (!p)
			return -1;
		c->rx = p;
		c->rx_cap = cap;
	}
	memcpy(c->rx + c->rx_len, in, len);
	c->rx_len += len;
	if (last) {
		s_on_frame(c, c->rx, c->rx_len, now, wall);
		c->rx_len = 0;
	}
	return 0;
}

/* ---- the control timer ---------------------------------------------------
 */

static int s_inflight(const bn_run_t *run);

static void
s_enter(bn_run_t *run, bn_phase_t ph, int64_t now)
{
	static const char *const names[]
	    = { "connect", "hold", "run", "drain", "park", "close", "done" };

	SL_INFO("BN-PHASE", "phase=%s open=%d inflight=%d", names[ph],
	    run->open, run->phase >= BN_PH_RUN ? s_inflight(run) : 0);
	run->phase = ph;
	run->t_phase_us = now;
}

static void
s_watch_cpu(const bn_plan_t *p, int64_t *gw, int64_t *wk)
{
	int64_t v;

	*gw = *wk = 0;
	if (p->gw_pid && !bn_proc_cpu_us(p->gw_pid, &v))
		*gw = v;
	for (int i = 0; i < p->n_worker_pids; i++)
		if (!bn_proc_cpu_us(p->worker_pids[i], &v))
			*wk += v;
}

static void
s_sample_rss(bn_run_t *run, int64_t now)
{
	int64_t kib;

	run->t_last_rss = now;
	if (!run->plan.gw_pid || bn_proc_rss_kib(run->plan.gw_pid, &kib))
		return;
	if (!run->rss_start_kib)
		run->rss_start_kib = kib;
	if (kib > run->rss_peak_kib)
		run->rss_peak_kib = kib;
	run->rss_end_kib = kib;
}

static void
s_start_run(bn_run_t *run, int64_t now)
{
	const bn_plan_t *p = &run->plan;

	s_enter(run, BN_PH_RUN, now);
	run->t_run_us = now;
	run->t_end_submit = p->duration_us ? now + p->duration_us : INT64_MAX;
	run->cpu0_us = bn_proc_self_cpu_us();
	s_watch_cpu(p, &run->gw_cpu0, &run->wk_cpu0);
	bn_proc_machine_busy_us(&run->sys_busy0);
	s_sample_rss(run, now);
	for (int i = 0; i < p->conns; i++) {
		bn_conn_t *c = &run->conns[i];

		if (c->state != BN_C_OPEN)
			continue;
		c->t_begin_us = now + (int64_t) i * p->stagger_us;
		if (p->push) {
			/* one "request": the stream until its done line */
			c->inflight = 1;
			c->first_submit_us = now;
			run->t_first_submit = now;
			run->c.req_submitted++;
		}
		lws_callback_on_writable(c->wsi);
		if (p->ping_us)
			lws_sul_schedule(run->ctx, 0, &c->sul_ping,
			    s_ping_timer, p->ping_us);
	}
}

/* Every loaded connection has submitted all it may. */
static int
s_all_submitted(const bn_run_t *run, int64_t now)
{
	if (now >= run->t_end_submit)
		return 1;
	if (run->plan.push)
		return !s_inflight(run);
	for (int i = 0; i < run->plan.conns; i++) {
		const bn_conn_t *c = &run->conns[i];

		if (c->state == BN_C_OPEN && c->next_req < c->quota)
			return 0;
	}
	return 1;
}

static int
s_inflight(const bn_run_t *run)
{
	int n = 0;

	for (int i = 0; i < run->plan.conns; i++)
		if (run->conns[i].state == BN_C_OPEN)
			n += run->conns[i].inflight;
	return n;
}

static void
s_close_all(bn_run_t *run)
{
	for (int i = 0; i < run->n_conns; i++) {
		bn_conn_t *c = &run->conns[i];

		lws_sul_cancel(&c->sul_submit);
		lws_sul_cancel(&c->sul_ping);
		if (c->state == BN_C_OPEN && c->wsi) {
			c->closing = 1;
			lws_callback_on_writable(c->wsi);
		}
	}
}

/* Parked: say so in the ready file (written whole, then renamed, so a
 * reader never sees it half written). */
static void
s_parked(bn_run_t *run)
{
	const char *path = run->plan.ready_file;
	char tmp[4096];
	FILE *f;
	int bad;

	if (!path)
		return;
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f) {
		SL_ERR("BN-READY", "cannot write %s", tmp);
		return;
	}
	bad = fprintf(f, "parked open=%d rss_kib=%" PRId64 "\n", run->open,
	          run->rss_end_kib)
	    < 0;
	bad |= fclose(f) != 0;
	if (bad || rename(tmp, path))
		SL_ERR("BN-READY", "cannot write %s", path);
}

static void
s_ctl(lws_sorted_usec_list_t *sul)
{
	bn_run_t *run = lws_container_of(sul, bn_run_t, ctl);
	const bn_plan_t *p = &run->plan;
	int64_t now = sl_clock_mono_us();

	if (*run->stop && run->phase < BN_PH_DRAIN) {
		if (run->phase < BN_PH_RUN)
			run->failed = 1;
		s_enter(run, BN_PH_DRAIN, now);
	}
	if (run->t_last_rss + BN_RSS_EVERY_US <= now
	    && run->phase >= BN_PH_HOLD && run->phase <= BN_PH_DRAIN)
		s_sample_rss(run, now);
	switch (run->phase) {
	case BN_PH_CONNECT:
		s_open_more(run);
		if (run->connecting || run->next_connect < run->n_conns) {
			if (now - run->t_phase_us < p->connect_timeout_us)
				break;
			SL_ERR("BN-CONNECT",
			    "%d handshakes still pending after %" PRId64
			    " ms; giving up",
			    run->connecting, p->connect_timeout_us / 1000);
			run->failed = 1;
			s_enter(run, BN_PH_CLOSE, now);
			s_close_all(run);
			break;
		}
		if (!run->c.conns_ok && !run->c.idle_ok) {
			SL_ERR("BN-CONNECT", "no connection to %s:%d", p->host,
			    p->port);
			run->failed = 1;
			s_enter(run, BN_PH_DONE, now);
			break;
		}
		s_enter(run, BN_PH_HOLD, now);
		s_sample_rss(run, now);
		break;
	case BN_PH_HOLD:
		if (now - run->t_phase_us >= (p->idle ? p->idle_hold_us : 0))
			s_start_run(run, now);
		break;
	case BN_PH_RUN:
		if (s_all_submitted(run, now))
			s_enter(run, BN_PH_DRAIN, now);
		break;
	case BN_PH_DRAIN:
		if (s_inflight(run) && now - run->t_phase_us < p->drain_us)
			break;
		run->t_run_end_us = now;
		run->cpu1_us = bn_proc_self_cpu_us();
		s_watch_cpu(p, &run->gw_cpu1, &run->wk_cpu1);
		if (p->push)
			bn_push_finish(run);
		bn_proc_machine_busy_us(&run->sys_busy1);
		s_sample_rss(run, now); /* idle connections still open */
		if (p->park) {
			s_enter(run, BN_PH_PARK, now);
			if (run->on_park)
				run->on_park(run);
			s_parked(run);
			break;
		}
		s_enter(run, BN_PH_CLOSE, now);
		s_close_all(run);
		break;
	case BN_PH_PARK:
		if (!*run->stop)
			break;
		s_enter(run, BN_PH_CLOSE, now);
		s_close_all(run);
		break;
	case BN_PH_CLOSE:
		if (run->open && now - run->t_phase_us < BN_CLOSE_WAIT_US)
			break;
		s_enter(run, BN_PH_DONE, now);
		break;
	case BN_PH_DONE:
		break; /* keeps the loop waking until main sees DONE */
	}
	/* Parked with many idle connections, each wake-up polls them all:
	 * wake seldom, so the holder takes no CPU from the run beside it. */
	lws_sul_schedule(run->ctx, 0, &run->ctl, s_ctl,
	    run->phase == BN_PH_PARK ? BN_PARK_CTL_US : BN_CTL_US);
}

void
bn_client_start(bn_run_t *run, struct lws_context *ctx)
{
	int64_t now = sl_clock_mono_us();

	run->ctx = ctx;
	if (run->plan.gw_pid)
		bn_proc_rss_kib(run->plan.gw_pid, &run->rss_before_kib);
	s_enter(run, BN_PH_CONNECT, now);
	s_open_more(run);
	lws_sul_schedule(ctx, 0, &run->ctl, s_ctl, BN_CTL_US);
}

/* ---- the lws callback ----------------------------------------------------
 */

static void
s_on_closed(bn_conn_t *c)
{
	bn_run_t *run = c->run;

	lws_sul_cancel(&c->sul_submit);
	lws_sul_cancel(&c->sul_ping);
	c->wsi = NULL;
	if (c->state != BN_C_OPEN)
		return;
	c->state = BN_C_CLOSED;
	run->open--;
	if (run->phase < BN_PH_CLOSE) {
		SL_WARN("BN-CLOSED",
		    "conn=%d closed by the peer during the "
		    "run",
		    c->index);
		if (c->idle)
			run->c.idle_lost++;
		else
			run->c.conns_lost++;
	}
}

int
bn_client_callback(struct lws *wsi, enum lws_callback_reasons reason,
    void *user, void *in, size_t len)
{
	bn_conn_t *c = lws_get_opaque_user_data(wsi);

	(void) user;
	if (!c)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		c->run->connecting--;
		c->run->open++;
		c->state = BN_C_OPEN;
		if (c->idle)
			c->run->c.idle_ok++;
		else
			c->run->c.conns_ok++;
		s_open_more(c->run);
		if (c->run->phase == BN_PH_RUN && !c->idle)
			lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		SL_WARN("BN-CONNECT", "conn=%d: %s", c->index,
		    in ? (const char *) in : "connection failed");
		if (c->state == BN_C_CONNECTING) {
			c->run->connecting--;
			if (c->idle)
				c->run->c.idle_failed++;
			else
				c->run->c.conns_failed++;
		}
		c->state = BN_C_FAILED;
		c->wsi = NULL;
		s_open_more(c->run);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		return s_receive(c, in, len);
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return s_writeable(c);
	case LWS_CALLBACK_CLIENT_CLOSED:
		s_on_closed(c);
		return 0;
	default:
		return 0;
	}
}
