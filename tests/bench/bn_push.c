/*
 * bn_push: the push mode's frames (see bn_push.h). lws service thread.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "bn_push.h"
#include "sl_log.h"

int
bn_push_send_start(bn_conn_t *c)
{
	const bn_plan_t *p = &c->run->plan;
	char *o = (char *) c->tx + LWS_PRE;
	int n = snprintf(o, c->tx_cap - LWS_PRE,
	    "{\"type\":\"push\",\"rate\":%.0f,\"burst\":%zu,\"ms\":%" PRId64
	    ",\"bytes\":%zu}",
	    p->rate, c->items, p->duration_us / 1000, strlen(p->item_json));

	if (n < 0 || (size_t) n >= c->tx_cap - LWS_PRE)
		return -1;
	c->push_started = 1;
	return lws_write(
	           c->wsi, (unsigned char *) o, (size_t) n, LWS_WRITE_TEXT)
	        < n
	    ? -1
	    : 0;
}

/* The integer at key in a done line, or 0 (one line per connection:
 * jansson's cost does not matter here). */
static int64_t
s_done_field(const char *text, size_t len, const char *key)
{
	json_t *root = json_loadb(text, len, 0, NULL);
	int64_t v = json_integer_value(json_object_get(root, key));

	json_decref(root);
	return v;
}

void
bn_push_on_frame(bn_conn_t *c, const bn_frame_t *f, const char *text,
    size_t len, int64_t now, int64_t wall)
{
	bn_run_t *run = c->run;

	switch (f->type) {
	case BN_F_RESULT:
		if (!f->has_seq || f->seq != c->push_next_seq) {
			if (!run->c.push_misordered++)
				SL_WARN("BN-PUSH-SEQ",
				    "conn=%d seq %" PRId64 ", want %" PRId64,
				    c->index, f->seq, c->push_next_seq);
		}
		c->push_next_seq = f->seq + 1;
		run->c.results++;
		run->c.result_bytes += len;
		run->t_last_result = now;
		if (!f->has_t_done)
			run->c.no_timing++;
		else
			bn_samples_add(&run->fwd, wall - f->t_done_us);
		break;
	case BN_F_DONE:
		if (!c->inflight)
			break; /* a second done line: ignored */
		run->c.items_submitted
		    += (uint64_t) s_done_field(text, len, "ok");
		run->push_cpu_us += s_done_field(text, len, "cpu_us");
		run->c.req_done++;
		c->done++;
		c->inflight = 0;
		c->last_done_us = now;
		break;
	case BN_F_ERROR:
		/* the ticker refused our start frame */
		SL_WARN("BN-PUSH-REFUSED", "conn=%d %.*s", c->index, (int) len,
		    text);
		run->c.req_refused++;
		c->inflight = 0;
		break;
	default:
		run->c.unknown_id++;
		break;
	}
}

void
bn_push_finish(bn_run_t *run)
{
	for (int i = 0; i < run->plan.conns; i++) {
		bn_conn_t *c = &run->conns[i];

		if (!c->inflight)
			continue;
		run->c.push_open++;
		run->c.items_submitted += (uint64_t) c->push_next_seq;
		c->inflight = 0;
	}
	run->wk_cpu1 += run->push_cpu_us;
}
