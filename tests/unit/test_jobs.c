/*
 * test_jobs: jobs, their queues and the turns of requests
 * (gateway/gw_jobs), against the fake workers of fake_workers.h.
 * Single threaded, like the lws service thread.
 */
#include "sl_test.h" /* std headers, then <cmocka.h>: 1.1.5 needs them first */

#include "fake_workers.h"
#include "gw_jobs.h"
#include "sl_log.h"

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
} fixture_t;

static void
s_result(
    void *ctx, gw_jobs_req_t *jr, uint32_t seq, const gw_workers_result_t *res)
{
	fixture_t *f = ctx;

	(void) res;
	f->result_of[f->n_results] = jr;
	f->results[f->n_results++] = seq;
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
	f->jobs = gw_jobs_new(&(gw_jobs_events_t) {
	    .result = s_result, .poisoned = s_poisoned, .ctx = f });
	if (!f->jobs)
		return -1;
	gw_jobs_use_workers(f->jobs, &s_ops, (gw_workers_t *) (void *) &f->w);
	gw_jobs_workers_events(f->jobs, &f->ev);
	gw_jobs_req_init(&f->a, "a", "sum", &f->paused_a);
	gw_jobs_req_init(&f->b, "b", "sum", &f->paused_b);
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
	gw_workers_result_t res = { true, &one, "", "", 1, 2, false };

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
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
	};

	sl_log_setup("test", SL_LOG_DEBUG);
	return cmocka_run_group_tests_name("jobs", tests, NULL, NULL);
}
