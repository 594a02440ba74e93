/*
 * test_req: requests and their jobs (gateway/gw_req).
 *
 * The pool is driven without a broker: submits come from gw_cmsg_parse,
 * the client is one gw_req_owner_t whose frames land in a record, and the
 * workers are plain functions behind gw_workers_ops_t (one worker that
 * runs "sum" with a fixed credit). Worker events are called as gw_workers
 * would. Single threaded, like the lws service thread.
 */
#include "sl_test.h" /* std headers, then <cmocka.h>: 1.1.5 needs them first */

#include "fake_workers.h"
#include "gw_req.h"
#include "sl_clock.h"
#include "sl_err.h"
#include "sl_log.h"

/* One frame the client got. */
typedef struct frame {
	gw_out_type_t type;
	char id[16];
	uint32_t seq;
	char code[40];
	size_t ok, failed, cancelled;
	char resume[40]; /* accepted's token */
	void *to;        /* the owner's user: which client got it */
} frame_t;

typedef struct fixture {
	gw_req_pool_t *pool;
	gw_notify_t *notify;
	gw_req_owner_t owner;
	size_t open; /* the owner's share */
	fake_workers_t w;
	gw_workers_events_t ev;
	frame_t got[MAX_REC];
	size_t n_got;
} fixture_t;

/* Take the job held in slot i back from the fake worker. */
static gw_workers_job_t *
s_unhold(fixture_t *f, size_t i)
{
	return s_w_unhold(&f->w, i);
}

/* The worker answers the job in slot i: ok, or failed with code. */
static void
s_answer(fixture_t *f, size_t i, const char *code)
{
	static const msgpack_object one
	    = { .type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = 1 };
	gw_workers_result_t res
	    = { !code, &one, code ? code : "", "", { 1, 2, -1, -1 }, false };

	f->ev.result(f->ev.ctx, s_unhold(f, i), &res);
}

static int
s_send(void *ctx, void *user, const gw_out_t *frame)
{
	fixture_t *f = ctx;
	frame_t *g;

	assert_true(f->n_got < MAX_REC);
	g = &f->got[f->n_got++];
	memset(g, 0, sizeof *g);
	g->type = frame->type;
	snprintf(g->id, sizeof g->id, "%s", frame->id ? frame->id : "");
	snprintf(
	    g->code, sizeof g->code, "%s", frame->code ? frame->code : "");
	g->seq = frame->seq;
	g->ok = frame->ok;
	g->failed = frame->failed;
	g->cancelled = frame->cancelled;
	snprintf(g->resume, sizeof g->resume, "%s",
	    frame->resume ? frame->resume : "");
	g->to = user;
	return 0;
}

static int
s_no_send(void *ctx, void *client, const gw_out_t *frame)
{
	(void) ctx;
	(void) client;
	(void) frame;
	return 0;
}

static void
s_no_error(void *ctx, void *client, const gw_cmsg_err_t *err)
{
	(void) ctx;
	(void) client;
	(void) err;
}

static int
s_setup(void **state, const gw_req_limits_t *lim)
{
	fixture_t *f = calloc(1, sizeof *f);

	if (!f)
		return -1;
	f->w.cap = 2;
	f->notify = gw_notify_new(
	    &(gw_notify_ops_t) { s_no_send, s_no_error, NULL }, 4);
	f->pool = gw_req_pool_new(lim, f->notify);
	if (!f->notify || !f->pool)
		return -1;
	gw_req_use_workers(f->pool, &s_ops, (gw_workers_t *) (void *) &f->w);
	gw_req_workers_events(f->pool, &f->ev);
	gw_req_owner_init(f->pool, &f->owner, s_send, f, NULL, &f->open);
	*state = f;
	return 0;
}

static int
setup(void **state)
{
	static const gw_req_limits_t lim = { .max_item_bytes = 0 };

	return s_setup(state, &lim);
}

/* Requests may be resumed for a second; their logs share 1 KiB (a
 * dozen small results). */
static int
setup_resume(void **state)
{
	static const gw_req_limits_t lim
	    = { .resume_us = 1000000, .max_resume_bytes = 1024 };

	return s_setup(state, &lim);
}

static int
teardown(void **state)
{
	fixture_t *f = *state;

	gw_req_owner_fini(f->pool, &f->owner);
	/* the worker leaves: what it holds comes back (and is freed) */
	while (f->w.n_held)
		f->ev.lost(f->ev.ctx, s_unhold(f, f->w.n_held - 1), false);
	gw_req_pool_destroy(&f->pool);
	gw_notify_destroy(&f->notify);
	free(f);
	return 0;
}

/* Submit the JSON frame text, parsed as a client's would be. */
static void
s_submit_text(fixture_t *f, const char *text)
{
	gw_cmsg_err_t err;
	gw_cmsg_t m;
	char why[160];

	assert_int_equal(gw_cmsg_parse(text, strlen(text), 100, &m, &err), 0);
	assert_int_equal(
	    gw_req_submit(f->pool, &f->owner, &m, 1, why, sizeof why), 0);
	gw_cmsg_clear(&m);
}

/* submit of id with n items, parsed as a client's would be. */
static void
s_submit(fixture_t *f, const char *id, int n, int timeout_ms)
{
	char text[256], items[64] = "[1";

	for (int i = 1; i < n; i++)
		strcat(items, ",1");
	strcat(items, "]");
	if (timeout_ms)
		snprintf(text, sizeof text,
		    "{\"type\":\"submit\",\"id\":\"%s\",\"task\":\"sum\","
		    "\"items\":%s,\"timeout_ms\":%d}",
		    id, items, timeout_ms);
	else
		snprintf(text, sizeof text,
		    "{\"type\":\"submit\",\"id\":\"%s\",\"task\":\"sum\","
		    "\"items\":%s}",
		    id, items);
	s_submit_text(f, text);
}

static gw_req_stats_t
s_stats(fixture_t *f)
{
	gw_req_stats_t st;

	gw_req_stats(f->pool, &st);
	return st;
}

static void
test_req_submit_is_accepted_and_fills_the_credit(void **state)
{
	fixture_t *f = *state;

	s_submit(f, "r1", 3, 0);
	assert_int_equal(f->n_got, 1);
	assert_int_equal(f->got[0].type, GW_OUT_ACCEPTED);
	assert_string_equal(f->got[0].id, "r1");
	assert_int_equal(f->w.n_held, 2);
	assert_int_equal(s_stats(f).running, 2);
	assert_int_equal(s_stats(f).queued, 1);
	assert_int_equal(f->open, 3);
	assert_non_null(gw_req_find(&f->owner, "r1"));
	assert_null(gw_req_find(&f->owner, "r2"));
	assert_true(gw_req_can_progress(f->pool));
}

static void
test_req_results_come_with_their_seq_and_done_follows(void **state)
{
	fixture_t *f = *state;

	s_submit(f, "r1", 3, 0);
	s_answer(f, 0, NULL);     /* seq 0 */
	f->ev.changed(f->ev.ctx); /* credit: seq 2 goes */
	s_answer(f, 0, "boom");   /* seq 1 */
	s_answer(f, 0, NULL);     /* seq 2 */
	assert_int_equal(f->n_got, 5);
	assert_int_equal(f->got[1].type, GW_OUT_RESULT);
	assert_int_equal(f->got[1].seq, 0);
	assert_int_equal(f->got[2].type, GW_OUT_ITEM_ERROR);
	assert_int_equal(f->got[2].seq, 1);
	assert_string_equal(f->got[2].code, "boom");
	assert_int_equal(f->got[3].type, GW_OUT_RESULT);
	assert_int_equal(f->got[3].seq, 2);
	assert_int_equal(f->got[4].type, GW_OUT_DONE);
	assert_int_equal(f->got[4].ok, 2);
	assert_int_equal(f->got[4].failed, 1);
	assert_int_equal(f->open, 0);
	assert_int_equal(s_stats(f).requests, 0);
	assert_int_equal(s_stats(f).items_ok, 2);
	assert_int_equal(s_stats(f).items_failed, 1);
	assert_false(gw_req_can_progress(f->pool));
}

static void
test_req_a_job_lost_twice_by_crashing_workers_ends_as_worker_lost(void **state)
{
	fixture_t *f = *state;

	s_submit(f, "r1", 1, 0);
	f->ev.lost(f->ev.ctx, s_unhold(f, 0), true);
	assert_int_equal(s_stats(f).requeued, 1);
	f->ev.changed(f->ev.ctx);
	assert_int_equal(f->w.n_held, 1); /* sent again */
	f->ev.lost(f->ev.ctx, s_unhold(f, 0), true);
	assert_int_equal(f->got[1].type, GW_OUT_ITEM_ERROR);
	assert_string_equal(f->got[1].code, "worker_lost");
	assert_int_equal(f->got[2].type, GW_OUT_DONE);
	assert_int_equal(s_stats(f).poisoned, 1);
}

static void
test_req_cancel_tells_the_workers_and_drops_late_results(void **state)
{
	fixture_t *f = *state;

	s_submit(f, "r1", 3, 0);
	gw_req_cancel(f->pool, gw_req_find(&f->owner, "r1"));
	assert_int_equal(f->w.n_cancels, 2);
	assert_int_equal(f->got[1].type, GW_OUT_DONE);
	assert_int_equal(f->got[1].cancelled, 3);
	assert_int_equal(s_stats(f).cancelled, 3);
	assert_int_equal(f->open, 0);
	s_answer(f, 0, NULL); /* late: dropped */
	assert_int_equal(f->n_got, 2);
	assert_int_equal(s_stats(f).stale, 1);
}

static void
test_req_timeout_ends_every_open_item_as_an_error(void **state)
{
	fixture_t *f = *state;

	s_submit(f, "r1", 3, 50);
	gw_req_tick(f->pool, sl_clock_mono_us() + 100000);
	assert_int_equal(f->n_got, 5);
	for (size_t i = 1; i < 4; i++) {
		assert_int_equal(f->got[i].type, GW_OUT_ITEM_ERROR);
		assert_string_equal(f->got[i].code, "timeout");
	}
	assert_int_equal(f->got[4].type, GW_OUT_DONE);
	assert_int_equal(f->got[4].failed, 3);
	assert_int_equal(s_stats(f).timeouts, 3);
	assert_int_equal(f->w.n_cancels, 2);
}

static void
test_req_a_paused_owner_gets_no_jobs_until_it_resumes(void **state)
{
	fixture_t *f = *state;

	f->owner.paused = true;
	s_submit(f, "r1", 1, 0);
	assert_int_equal(f->w.n_held, 0);
	f->owner.paused = false;
	gw_req_dispatch(f->pool);
	assert_int_equal(f->w.n_held, 1);
}

/* The frames of client to since index from, of type t. */
static size_t
s_count(fixture_t *f, size_t from, void *to, gw_out_type_t t)
{
	size_t n = 0;

	for (size_t i = from; i < f->n_got; i++)
		n += f->got[i].to == to && f->got[i].type == t;
	return n;
}

static void
test_req_accepted_carries_a_token_that_finds_the_request(void **state)
{
	fixture_t *f = *state;
	const char *tok;

	s_submit(f, "r1", 3, 0);
	tok = f->got[0].resume;
	assert_int_equal(strlen(tok), GW_RESUME_TOKEN_LEN);
	assert_ptr_equal(gw_req_find_token(f->pool, "r1", tok, strlen(tok)),
	    gw_req_find(&f->owner, "r1"));
	assert_null(gw_req_find_token(f->pool, "r2", tok, strlen(tok)));
	assert_null(gw_req_find_token(f->pool, "r1", tok, strlen(tok) - 1));
	assert_null(gw_req_find_token(f->pool, "r1", "0123", 4));
}

static void
test_req_a_detached_request_runs_on_and_a_resume_gets_the_rest(void **state)
{
	fixture_t *f = *state;
	gw_req_owner_t o2;
	size_t open2 = 0, mark;
	char tok[40];
	uint32_t have[] = { 0 };
	gw_req_t *r;

	s_submit(f, "r1", 4, 0);
	snprintf(tok, sizeof tok, "%s", f->got[0].resume);
	s_answer(f, 0, NULL); /* seq 0: the client got it */
	s_answer(f, 0, NULL); /* seq 1: sent, lost with the connection */
	gw_req_owner_detach(f->pool, &f->owner);
	assert_int_equal(s_stats(f).detached, 1);
	f->ev.changed(f->ev.ctx); /* detached: still dispatched */
	assert_int_equal(f->w.n_held, 2);
	s_answer(f, 0, "boom"); /* seq 2, while nobody listens */
	mark = f->n_got;
	gw_req_owner_init(f->pool, &o2, s_send, f, &o2, &open2);
	r = gw_req_find_token(f->pool, "r1", tok, strlen(tok));
	assert_non_null(r);
	assert_int_equal(gw_req_open(r), 1);
	gw_req_resume(f->pool, r, &o2, have, 1);
	/* seqs 1 and 2 again (not 0), then seq 3 as it ends, then done */
	assert_int_equal(f->n_got - mark, 2);
	assert_int_equal(f->got[mark].seq, 1);
	assert_int_equal(f->got[mark + 1].type, GW_OUT_ITEM_ERROR);
	assert_int_equal(open2, 1);
	assert_int_equal(f->open, 0);
	assert_int_equal(f->owner.n_requests, 0);
	s_answer(f, 0, NULL);
	assert_int_equal(s_count(f, mark, &o2, GW_OUT_RESULT), 2);
	assert_int_equal(s_count(f, mark, &o2, GW_OUT_DONE), 1);
	assert_int_equal(s_stats(f).resumed, 1);
	assert_int_equal(s_stats(f).detached, 0);
	assert_int_equal(s_stats(f).resume_bytes, 0); /* freed with it */
	gw_req_owner_fini(f->pool, &o2);
}

static void
test_req_a_request_that_finished_detached_waits_with_its_done(void **state)
{
	fixture_t *f = *state;
	gw_req_owner_t o2;
	size_t open2 = 0, mark;
	char tok[40];

	s_submit(f, "r1", 1, 0);
	snprintf(tok, sizeof tok, "%s", f->got[0].resume);
	gw_req_owner_detach(f->pool, &f->owner);
	s_answer(f, 0, NULL);
	assert_int_equal(f->owner.n_requests, 1); /* kept for its resume */
	gw_req_tick(f->pool, sl_clock_mono_us());
	mark = f->n_got;
	gw_req_owner_init(f->pool, &o2, s_send, f, &o2, &open2);
	gw_req_resume(f->pool,
	    gw_req_find_token(f->pool, "r1", tok, strlen(tok)), &o2, NULL, 0);
	assert_int_equal(s_count(f, mark, &o2, GW_OUT_RESULT), 1);
	assert_int_equal(s_count(f, mark, &o2, GW_OUT_DONE), 1);
	assert_int_equal(o2.n_requests, 0);
	gw_req_owner_fini(f->pool, &o2);
}

static void
test_req_nobody_resumes_it_expires_and_frees_its_workers(void **state)
{
	fixture_t *f = *state;
	char tok[40];

	s_submit(f, "r1", 3, 0);
	snprintf(tok, sizeof tok, "%s", f->got[0].resume);
	gw_req_owner_detach(f->pool, &f->owner);
	gw_req_tick(f->pool, sl_clock_mono_us() + 500000);
	assert_int_equal(f->owner.n_requests, 1);
	assert_int_equal(f->w.n_cancels, 0);
	gw_req_tick(f->pool, sl_clock_mono_us() + 1100000);
	assert_int_equal(f->owner.n_requests, 0);
	assert_int_equal(f->w.n_cancels, 2);
	assert_int_equal(s_stats(f).resume_expired, 1);
	assert_int_equal(s_stats(f).cancelled, 3);
	assert_null(gw_req_find_token(f->pool, "r1", tok, strlen(tok)));
}

static void
test_req_a_resume_takes_over_from_a_live_client(void **state)
{
	fixture_t *f = *state;
	gw_req_owner_t o2;
	size_t open2 = 0, mark;
	char tok[40];

	s_submit(f, "r1", 2, 0);
	snprintf(tok, sizeof tok, "%s", f->got[0].resume);
	gw_req_owner_init(f->pool, &o2, s_send, f, &o2, &open2);
	gw_req_resume(f->pool,
	    gw_req_find_token(f->pool, "r1", tok, strlen(tok)), &o2, NULL, 0);
	mark = f->n_got;
	s_answer(f, 0, NULL);
	s_answer(f, 0, NULL);
	assert_int_equal(s_count(f, mark, NULL, GW_OUT_RESULT), 0);
	assert_int_equal(s_count(f, mark, &o2, GW_OUT_RESULT), 2);
	assert_int_equal(s_count(f, mark, &o2, GW_OUT_DONE), 1);
	assert_int_equal(f->open, 0);
	gw_req_owner_fini(f->pool, &o2);
}

static void
test_req_over_the_resume_budget_a_request_loses_its_token(void **state)
{
	fixture_t *f = *state;
	char tok[40];

	s_submit(f, "r1", 20, 0);
	snprintf(tok, sizeof tok, "%s", f->got[0].resume);
	s_answer(f, 0, NULL);
	assert_true(s_stats(f).resume_bytes > 0);
	assert_non_null(gw_req_find_token(f->pool, "r1", tok, strlen(tok)));
	while (f->w.n_held) {
		s_answer(f, 0, NULL);
		f->ev.changed(f->ev.ctx);
	}
	/* its client got everything; its log went at the first refusal */
	assert_int_equal(s_count(f, 0, NULL, GW_OUT_RESULT), 20);
	assert_int_equal(s_count(f, 0, NULL, GW_OUT_DONE), 1);
	assert_int_equal(s_stats(f).resume_full, 1);
	assert_int_equal(s_stats(f).resume_bytes, 0);
}

static void
test_req_a_detached_request_over_the_budget_is_cancelled(void **state)
{
	fixture_t *f = *state;

	s_submit(f, "r1", 20, 0);
	gw_req_owner_detach(f->pool, &f->owner);
	while (f->w.n_held && !s_stats(f).resume_full) {
		s_answer(f, 0, NULL);
		f->ev.changed(f->ev.ctx);
	}
	assert_int_equal(s_stats(f).resume_full, 1);
	gw_req_tick(f->pool, sl_clock_mono_us());
	assert_int_equal(f->owner.n_requests, 0);
	assert_int_equal(s_stats(f).resume_expired, 1);
	assert_true(f->w.n_cancels > 0);
}

/* The client's frame i is of type, for seq, with code ("": none). */
static void
s_assert_got(
    fixture_t *f, size_t i, gw_out_type_t type, uint32_t seq, const char *code)
{
	assert_int_equal(f->got[i].type, type);
	assert_int_equal(f->got[i].seq, seq);
	assert_string_equal(f->got[i].code, code);
}

/* With seqs, every result and item error carries the client's seq for
 * its item instead of the item's index; done counts items as before. */
static void
test_req_results_and_item_errors_carry_the_seqs_given(void **state)
{
	fixture_t *f = *state;

	s_submit_text(f,
	    "{\"type\":\"submit\",\"id\":\"r1\",\"task\":\"sum\","
	    "\"items\":[1,1,1],\"seqs\":[5,9,2]}");
	assert_int_equal(f->got[0].type, GW_OUT_ACCEPTED);
	s_answer(f, 0, NULL);                        /* item 0: seq 5 */
	f->ev.changed(f->ev.ctx);                    /* credit: item 2 goes */
	s_answer(f, 0, "boom");                      /* item 1: seq 9 */
	f->ev.lost(f->ev.ctx, s_unhold(f, 0), true); /* item 2, crashed */
	f->ev.changed(f->ev.ctx);
	f->ev.lost(f->ev.ctx, s_unhold(f, 0), true); /* twice: poison */
	assert_int_equal(f->n_got, 5);
	s_assert_got(f, 1, GW_OUT_RESULT, 5, "");
	s_assert_got(f, 2, GW_OUT_ITEM_ERROR, 9, "boom");
	s_assert_got(f, 3, GW_OUT_ITEM_ERROR, 2, "worker_lost");
	assert_int_equal(f->got[4].type, GW_OUT_DONE);
	assert_int_equal(f->got[4].ok, 1);
	assert_int_equal(f->got[4].failed, 2);
	assert_int_equal(f->got[4].cancelled, 0);
	assert_int_equal(f->open, 0);
	assert_int_equal(s_stats(f).requests, 0);
}

/* Items ended by the gateway (timeout: queued and running alike) carry
 * their seqs too, each exactly once. */
static void
test_req_timed_out_items_carry_the_seqs_given(void **state)
{
	fixture_t *f = *state;
	bool seen[3] = { false };

	s_submit_text(f,
	    "{\"type\":\"submit\",\"id\":\"r1\",\"task\":\"sum\","
	    "\"items\":[1,1,1],\"seqs\":[4000000000,0,77],"
	    "\"timeout_ms\":50}");
	assert_int_equal(f->w.n_held, 2);
	gw_req_tick(f->pool, sl_clock_mono_us() + 100000);
	assert_int_equal(f->n_got, 5);
	for (size_t i = 1; i < 4; i++) {
		uint32_t seq = f->got[i].seq;
		size_t k = seq == 4000000000u ? 0 : seq == 0 ? 1 : 2;

		assert_int_equal(f->got[i].type, GW_OUT_ITEM_ERROR);
		assert_string_equal(f->got[i].code, "timeout");
		assert_true(seq == 4000000000u || seq == 0 || seq == 77);
		assert_false(seen[k]);
		seen[k] = true;
	}
	assert_int_equal(f->got[4].type, GW_OUT_DONE);
	assert_int_equal(f->got[4].failed, 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_req_submit_is_accepted_and_fills_the_credit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_req_results_come_with_their_seq_and_done_follows,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_req_a_job_lost_twice_by_crashing_workers_ends_as_worker_lost,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_req_cancel_tells_the_workers_and_drops_late_results,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_req_timeout_ends_every_open_item_as_an_error, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_req_a_paused_owner_gets_no_jobs_until_it_resumes,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_req_results_and_item_errors_carry_the_seqs_given,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_req_timed_out_items_carry_the_seqs_given, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_req_accepted_carries_a_token_that_finds_the_request,
		    setup_resume, teardown),
		cmocka_unit_test_setup_teardown(
		    test_req_a_detached_request_runs_on_and_a_resume_gets_the_rest,
		    setup_resume, teardown),
		cmocka_unit_test_setup_teardown(
		    test_req_a_request_that_finished_detached_waits_with_its_done,
		    setup_resume, teardown),
		cmocka_unit_test_setup_teardown(
		    test_req_nobody_resumes_it_expires_and_frees_its_workers,
		    setup_resume, teardown),
		cmocka_unit_test_setup_teardown(
		    test_req_a_resume_takes_over_from_a_live_client,
		    setup_resume, teardown),
		cmocka_unit_test_setup_teardown(
		    test_req_over_the_resume_budget_a_request_loses_its_token,
		    setup_resume, teardown),
		cmocka_unit_test_setup_teardown(
		    test_req_a_detached_request_over_the_budget_is_cancelled,
		    setup_resume, teardown),
	};

	sl_log_setup("test", SL_LOG_DEBUG);
	return cmocka_run_group_tests_name("req", tests, NULL, NULL);
}
