/*
 * test_jobs: jobs, their queues and the turns of requests
 * (gateway/gw_jobs), against the fake workers of fake_workers.h.
 * Single threaded, like the lws service thread.
 */
#include "sl_test.h" /* std headers, then <cmocka.h>: 1.1.5 needs them first */

#include "fake_workers.h"
#include "gw_jobs.h"
#include "sl_log.h"
#include "sl_clock.h"
#include "sl_trace.h"

#include <time.h>

typedef struct fixture {
	gw_jobs_t *jobs;
	fake_workers_t w;
	gw_workers_events_t ev;
	gw_jobs_req_t a, b;
	bool paused_a, paused_b;
	uint32_t results[MAX_REC]; /* seqs, in order of arrival */
	gw_jobs_req_t *result_of[MAX_REC];
	size_t n_results;
	uint32_t poisoned[MAX_REC];
	size_t n_poisoned;
	uint32_t ended[MAX_REC]; /* seqs given to s_each */
	size_t n_ended;
	gw_out_timing_t tm;       /* the last result's */
	bool restart;             /* the last result's */
	double progress[MAX_REC]; /* progress forwarded, in order */
	size_t n_progress;
	bool partial_restart[MAX_REC]; /* partials forwarded: restart flags */
	size_t n_partials;
} fixture_t;

#define TRACE "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

static void
s_result(void *ctx, gw_jobs_req_t *jr, uint32_t seq,
    const gw_workers_result_t *res, const gw_out_timing_t *tm)
{
	fixture_t *f = ctx;

	f->restart = res->restart;
	f->tm = *tm;
	f->result_of[f->n_results] = jr;
	f->results[f->n_results++] = seq;
}

static void
s_progress(void *ctx, gw_jobs_req_t *jr, uint32_t seq, double progress,
    const char *text)
{
	fixture_t *f = ctx;

	(void) jr;
	(void) seq;
	(void) text;
	f->progress[f->n_progress++] = progress;
}

static void
s_partial(void *ctx, gw_jobs_req_t *jr, uint32_t seq, uint32_t index,
    const msgpack_object *value, bool restart)
{
	fixture_t *f = ctx;

	(void) jr;
	(void) seq;
	(void) index;
	(void) value;
	f->partial_restart[f->n_partials++] = restart;
}

static void
s_poisoned(void *ctx, gw_jobs_req_t *jr, uint32_t seq)
{
	fixture_t *f = ctx;

	(void) jr;
	f->poisoned[f->n_poisoned++] = seq;
}

static void
s_each(void *arg, uint32_t seq)
{
	fixture_t *f = arg;

	f->ended[f->n_ended++] = seq;
}

static int
setup(void **state)
{
	fixture_t *f = calloc(1, sizeof *f);

	if (!f)
		return -1;
	f->w.cap = 2;
	f->jobs = gw_jobs_new(&(gw_jobs_events_t) { .result = s_result,
	    .progress = s_progress,
	    .partial = s_partial,
	    .poisoned = s_poisoned,
	    .ctx = f });
	if (!f->jobs)
		return -1;
	gw_jobs_use_workers(f->jobs, &s_ops, (gw_workers_t *) (void *) &f->w);
	gw_jobs_workers_events(f->jobs, &f->ev);
	gw_jobs_req_init(&f->a, "a", "sum", &f->paused_a, TRACE);
	gw_jobs_req_init(&f->b, "b", "sum", &f->paused_b, NULL);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture_t *f = *state;

	gw_jobs_drop_queued(f->jobs, &f->a, NULL, NULL);
	gw_jobs_drop_queued(f->jobs, &f->b, NULL, NULL);
	gw_jobs_release(f->jobs, &f->a, NULL, NULL);
	gw_jobs_release(f->jobs, &f->b, NULL, NULL);
	while (f->w.n_held)
		f->ev.lost(f->ev.ctx, s_w_unhold(&f->w, 0), false);
	gw_jobs_destroy(&f->jobs);
	free(f);
	return 0;
}

/* Queue n jobs of jr, seqs first, first + 1, ... */
static void
s_add(fixture_t *f, gw_jobs_req_t *jr, uint32_t first, int n)
{
	for (int i = 0; i < n; i++)
		assert_int_equal(
		    gw_jobs_add(f->jobs, jr, first + (uint32_t) i, "\x01", 1),
		    0);
}

/* The worker answers the job in slot i. */
static void
s_answer(fixture_t *f, size_t i)
{
	static const msgpack_object one
	    = { .type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = 1 };
	gw_workers_result_t res
	    = { true, &one, "", "", { 1, 2, 3, 4 }, false };

	f->ev.result(f->ev.ctx, s_w_unhold(&f->w, i), &res);
}

static void
test_jobs_requests_take_turns_for_credit(void **state)
{
	fixture_t *f = *state;
	gw_jobs_stats_t st;

	s_add(f, &f->a, 0, 4);
	gw_jobs_start(f->jobs, &f->a);
	assert_int_equal(f->w.n_held, 2); /* a0, a1 */
	s_add(f, &f->b, 100, 2);
	gw_jobs_start(f->jobs, &f->b);
	s_answer(f, 0);
	f->ev.changed(f->ev.ctx);
	s_answer(f, 0);
	f->ev.changed(f->ev.ctx);
	/* a's third job and b's first took the two free slots, in turn */
	assert_ptr_equal(f->result_of[0], &f->a);
	assert_int_equal(f->results[0], 0);
	assert_int_equal(f->results[1], 1);
	assert_int_equal(f->a.n_running + f->b.n_running, 2);
	assert_int_equal(f->b.n_running, 1);
	gw_jobs_stats(f->jobs, &st);
	assert_int_equal(st.running, 2);
	assert_int_equal(st.queued, 2);
}

static void
test_jobs_a_paused_request_waits_its_turn(void **state)
{
	fixture_t *f = *state;

	f->paused_a = true;
	s_add(f, &f->a, 0, 2);
	gw_jobs_start(f->jobs, &f->a);
	s_add(f, &f->b, 7, 1);
	gw_jobs_start(f->jobs, &f->b);
	assert_int_equal(f->a.n_running, 0);
	assert_int_equal(f->b.n_running, 1);
	f->paused_a = false;
	gw_jobs_dispatch(f->jobs);
	assert_int_equal(f->a.n_running, 1);
}

static void
test_jobs_a_job_lost_twice_in_a_crash_is_poisoned(void **state)
{
	fixture_t *f = *state;
	gw_jobs_stats_t st;

	s_add(f, &f->a, 42, 1);
	gw_jobs_start(f->jobs, &f->a);
	f->ev.lost(f->ev.ctx, s_w_unhold(&f->w, 0), true);
	assert_true(gw_jobs_queued(&f->a)); /* back, at the front */
	f->ev.changed(f->ev.ctx);
	assert_int_equal(f->w.n_held, 1);
	f->ev.lost(f->ev.ctx, s_w_unhold(&f->w, 0), true);
	assert_int_equal(f->n_poisoned, 1);
	assert_int_equal(f->poisoned[0], 42);
	gw_jobs_stats(f->jobs, &st);
	assert_int_equal(st.requeued, 1);
	assert_int_equal(st.poisoned, 1);
	assert_int_equal(st.running + st.queued, 0);
}

/* Every JOB carries its request's traceparent, the given one or a new
 * one; a result says where the item's time went: the worker's times, its
 * label, the attempts (a crash is one, a RETURN is not) and the time it
 * waited in the queue. */
static void
test_jobs_carry_the_trace_and_time_their_attempts(void **state)
{
	fixture_t *f = *state;
	int64_t t0 = sl_clock_mono_us(), held_us;

	assert_string_equal(f->a.trace, TRACE);
	assert_true(sl_trace_ok(f->b.trace, strlen(f->b.trace), NULL));
	assert_string_not_equal(f->b.trace, TRACE);
	s_add(f, &f->a, 5, 1);
	gw_jobs_start(f->jobs, &f->a);
	assert_string_equal(f->w.last_trace, TRACE);
	f->ev.lost(f->ev.ctx, s_w_unhold(&f->w, 0), GW_WORKERS_RETURNED);
	f->ev.changed(f->ev.ctx);
	f->ev.lost(f->ev.ctx, s_w_unhold(&f->w, 0), GW_WORKERS_CRASHED);
	f->ev.changed(f->ev.ctx);
	held_us = sl_clock_mono_us();
	nanosleep(&(struct timespec) { 0, 2000000 }, NULL);
	held_us = sl_clock_mono_us() - held_us; /* not queue time */
	s_answer(f, 0);
	assert_int_equal(f->n_results, 1);
	assert_int_equal(f->tm.attempts, 2);
	assert_string_equal(f->tm.worker, "w1");
	assert_int_equal(f->tm.cpu_us, 1);
	assert_int_equal(f->tm.t_done_us, 2);
	assert_int_equal(f->tm.start_us, 3);
	assert_int_equal(f->tm.run_us, 4);
	assert_true(f->tm.queue_us >= 0);
	assert_true(f->tm.queue_us <= sl_clock_mono_us() - t0 - held_us);
	s_add(f, &f->b, 0, 1);
	gw_jobs_start(f->jobs, &f->b);
	assert_string_equal(f->w.last_trace, f->b.trace);
}

static void
test_jobs_a_request_lets_go_of_queued_and_running_jobs(void **state)
{
	fixture_t *f = *state;
	gw_jobs_stats_t st;

	s_add(f, &f->a, 10, 3);
	gw_jobs_start(f->jobs, &f->a);
	assert_int_equal(gw_jobs_drop_queued(f->jobs, &f->a, s_each, f), 1);
	assert_int_equal(f->ended[0], 12);
	gw_jobs_release(f->jobs, &f->a, s_each, f);
	assert_int_equal(f->n_ended, 3);
	assert_int_equal(f->w.n_cancels, 2);
	assert_int_equal(f->a.n_running, 0);
	/* late results of the orphans are dropped, counted as stale */
	s_answer(f, 0);
	s_answer(f, 0);
	assert_int_equal(f->n_results, 0);
	gw_jobs_stats(f->jobs, &st);
	assert_int_equal(st.stale, 2);
	assert_int_equal(st.running, 0);
}

/* Progress (revision 7): the first report goes at once, a sooner one
 * waits for the tick (the latest winning), and what is pending when the
 * result comes is dropped: nothing after the result. Off (0): none. */
static void
test_jobs_progress_is_throttled_and_never_follows_the_result(void **state)
{
	fixture_t *f = *state;
	gw_workers_job_t *wj;

	s_add(f, &f->a, 0, 1);
	gw_jobs_start(f->jobs, &f->a);
	wj = f->w.held[0];
	f->ev.progress(f->ev.ctx, wj, 0.1, NULL); /* off: dropped */
	assert_int_equal(f->n_progress, 0);
	gw_jobs_set_progress(f->jobs, 100000);
	f->ev.progress(f->ev.ctx, wj, 0.2, "x");
	f->ev.progress(f->ev.ctx, wj, 0.3, NULL);
	f->ev.progress(f->ev.ctx, wj, 0.4, NULL);
	assert_int_equal(f->n_progress, 1);
	assert_true(f->progress[0] == 0.2);
	gw_jobs_tick(f->jobs, sl_clock_mono_us()); /* not its turn yet */
	assert_int_equal(f->n_progress, 1);
	gw_jobs_tick(f->jobs, sl_clock_mono_us() + 200000);
	assert_int_equal(f->n_progress, 2);
	assert_true(f->progress[1] == 0.4);
	f->ev.progress(f->ev.ctx, wj, 0.5, NULL); /* pending */
	s_answer(f, 0);
	gw_jobs_tick(f->jobs, sl_clock_mono_us() + 10000000);
	assert_int_equal(f->n_progress, 2);
	assert_int_equal(f->n_results, 1);
}

/* A job whose client got partials and whose worker died runs again: its
 * first partial of the new attempt says restart, the next ones do not;
 * without partials before, nothing says restart. */
static void
test_jobs_a_restarted_job_says_so_once(void **state)
{
	static const msgpack_object one
	    = { .type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = 1 };
	fixture_t *f = *state;
	gw_workers_job_t *wj;

	s_add(f, &f->a, 0, 1);
	gw_jobs_start(f->jobs, &f->a);
	wj = f->w.held[0];
	f->ev.partial(f->ev.ctx, wj, 0, &one);
	wj->next_partial = 1; /* what gw_workers counts */
	f->ev.lost(f->ev.ctx, s_w_unhold(&f->w, 0), GW_WORKERS_CRASHED);
	f->ev.changed(f->ev.ctx);
	assert_int_equal(f->w.n_held, 1);
	wj = f->w.held[0];
	wj->next_partial = 0; /* a fresh send */
	f->ev.partial(f->ev.ctx, wj, 0, &one);
	f->ev.partial(f->ev.ctx, wj, 1, &one);
	assert_int_equal(f->n_partials, 3);
	assert_false(f->partial_restart[0]);
	assert_true(f->partial_restart[1]);
	assert_false(f->partial_restart[2]);
	s_answer(f, 0);
	assert_false(f->restart);
	/* no partial in the new attempt: its result says restart */
	s_add(f, &f->b, 0, 1);
	gw_jobs_start(f->jobs, &f->b);
	f->w.held[0]->next_partial = 2;
	f->ev.lost(f->ev.ctx, s_w_unhold(&f->w, 0), GW_WORKERS_LEFT);
	f->ev.changed(f->ev.ctx);
	s_answer(f, 0);
	assert_true(f->restart);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_jobs_progress_is_throttled_and_never_follows_the_result,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_jobs_a_restarted_job_says_so_once, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_jobs_requests_take_turns_for_credit, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_jobs_a_paused_request_waits_its_turn, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_jobs_a_job_lost_twice_in_a_crash_is_poisoned, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_jobs_a_request_lets_go_of_queued_and_running_jobs,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_jobs_carry_the_trace_and_time_their_attempts, setup,
		    teardown),
	};

	sl_log_setup("test", SL_LOG_DEBUG);
	return cmocka_run_group_tests_name("jobs", tests, NULL, NULL);
}
