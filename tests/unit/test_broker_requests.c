/*
 * test_broker_requests: how requests end: cancel, timeout_ms, clients
 * leaving, ping, pause and the gateway's drain (gateway/gw_broker,
 * gw_req).
 *
 * Shared fixture: broker_fixture.h (a real broker and gw_workers, a fake
 * transport, gw_zmq wrapped at the link). Single threaded, like the lws
 * service thread.
 */
#include "broker_fixture.h"

static void
test_broker_client_destroy_drops_queued_jobs_and_late_results(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);
	gw_client_t *c2;
	bf_stats_t st;
	size_t frames;

	bf_ready(f, "w1", 2);
	bf_submit(f, c, "r1", "sum", "[1,2,3,4,5]");
	bf_submit(f, c, "r2", "sum", "[6]");
	st = bf_stats(f);
	assert_int_equal(st.running, 2);
	assert_int_equal(st.queued, 4);
	gw_broker_client_destroy(f->b, &c);
	assert_null(c);
	f->gone_user = &f->users[0];
	st = bf_stats(f);
	assert_int_equal(st.queued, 0);
	assert_int_equal(st.requests, 0);
	assert_int_equal(st.clients, 0);
	assert_int_equal(st.running, 2); /* the worker still holds two */
	frames = f->n_frames;
	bf_result(f, "w1", f->jobs[0].job, "1");
	bf_result_err(f, "w1", f->jobs[1].job, "bad_item", "late");
	assert_int_equal(f->n_frames, frames);
	assert_int_equal(f->n_to_gone, 0);
	st = bf_stats(f);
	assert_int_equal(st.running, 0);
	assert_int_equal(st.results, 0);
	/* the credit came back: a new client's jobs go out at once */
	c2 = bf_client(f, 1);
	bf_submit(f, c2, "r1", "sum", "[7,8,9]");
	assert_int_equal(f->n_jobs, 4);
	gw_broker_client_destroy(f->b, &c); /* NULL-safe */
	gw_broker_client_destroy(f->b, NULL);
}

static void
test_broker_destroy_with_everything_live_frees_everything(void **state)
{
	fake_t *f = *state;
	gw_client_t *c1 = bf_client(f, 0);
	gw_client_t *c2 = bf_client(f, 1);

	(void) bf_client(f, 2); /* idle client */
	bf_ready(f, "w1", 2);
	bf_ready(f, "w2", 1);
	bf_submit(f, c1, "r1", "sum", "[1,2,3,4]");
	bf_submit(f, c2, "r1", "sum", "[5,6]");
	bf_submit(f, c2, "r2", "nope", "[7]");
	bf_result(f, "w1", f->jobs[0].job, "1");
	assert_true(bf_stats(f).running > 0);
	assert_true(bf_stats(f).queued > 0);
	/* requests, queued and held jobs, workers, clients: ASan checks.
	 * The workers go first, as in the gateway: the jobs they hold are
	 * the broker's, handed back as they go. */
	gw_workers_destroy(&f->w);
	gw_broker_destroy(&f->b);
	assert_null(f->b);
	gw_broker_destroy(&f->b); /* NULL-safe */
	gw_broker_destroy(NULL);
}

static void
test_broker_ping_reports_workers_and_queue_and_echoes_data(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);

	bf_ready(f, "w1", 1);
	bf_submit(f, c, "r1", "sum", "[1,2,3]");
	bf_send_text(f, c, "{\"type\":\"ping\",\"data\":{\"n\":[1,2]}}");
	bf_assert_frame(f, 1, 0, "pong", NULL);
	assert_int_equal(bf_fint(f, 1, "workers"), 1);
	assert_int_equal(bf_fint(f, 1, "queued"), 2);
	assert_true(bf_fint(f, 1, "server_us") > 0);
	sl_test_assert_json(
	    json_object_get(bf_frame(f, 1), "data"), "{\"n\":[1,2]}");
	bf_send_text(f, c, "{\"type\":\"ping\"}");
	assert_null(json_object_get(bf_frame(f, 2), "data"));
}

static void
test_broker_client_error_is_answered_with_an_error_frame(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);
	gw_cmsg_t m;
	gw_cmsg_err_t err;

	assert_int_equal(
	    gw_cmsg_parse(B("{\"type\":\"x\",\"id\":\"q\"}"), 10, &m, &err),
	    -1);
	gw_broker_client_error(f->b, c, &err);
	assert_int_equal(f->n_frames, 1);
	bf_assert_error(f, 0, 0, "q", "unknown_type");
}

static void
test_broker_cancel_drops_queued_jobs_cancels_running_ones_and_sends_done(
    void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);
	bf_stats_t st;

	bf_ready(f, "w1", 2);
	bf_submit(f, c, "r1", "sum", "[1,2,3,4,5,6]");
	bf_result(f, "w1", f->jobs[0].job, "1");
	bf_result_err(f, "w1", f->jobs[1].job, "bad_item", "no");
	/* items 3 and 4 run on w1, items 5 and 6 wait */
	assert_int_equal(f->n_jobs, 4);
	st = bf_stats(f);
	assert_int_equal(st.running, 2);
	assert_int_equal(st.queued, 2);
	assert_int_equal(st.results, 2);
	bf_cancel_req(f, c, "r1");
	/* accepted, result, error, then done at once */
	assert_int_equal(f->n_frames, 4);
	bf_assert_done(f, 3, 0, "r1", 1, 1);
	assert_int_equal(bf_fint(f, 3, "cancelled"), 4);
	assert_int_equal(f->n_cancels, 2);
	bf_assert_cancel_sent(f, f->jobs[2].job, "w1");
	bf_assert_cancel_sent(f, f->jobs[3].job, "w1");
	st = bf_stats(f);
	assert_int_equal(st.queued, 0);
	assert_int_equal(st.requests, 0);
	assert_int_equal(st.running, 2); /* until w1 answers */
	assert_int_equal(st.cancelled, 4);
	/* w1 has no credit left: a new request waits */
	bf_submit(f, c, "r2", "sum", "[9]");
	bf_assert_frame(f, 4, 0, "accepted", "r2");
	assert_int_equal(f->n_jobs, 4);
	/* the answer to a cancelled job is dropped, and returns the credit */
	bf_result_err(f, "w1", f->jobs[2].job, "cancelled", "job cancelled");
	assert_int_equal(f->n_frames, 5);
	assert_int_equal(bf_stats(f).stale, 1);
	assert_int_equal(f->n_jobs, 5);
	bf_assert_job(f, 4, "w1", "9");
	/* a late ok result of a cancelled job is dropped all the same */
	bf_result(f, "w1", f->jobs[3].job, "4");
	assert_int_equal(f->n_frames, 5);
	st = bf_stats(f);
	assert_int_equal(st.stale, 2);
	assert_int_equal(st.results, 2);
	assert_int_equal(st.running, 1);
	bf_result(f, "w1", f->jobs[4].job, "9");
	bf_assert_result(f, 5, 0, "r2", 0, "9");
	bf_assert_done(f, 6, 0, "r2", 1, 0);
	/* only a cancelled request says "cancelled" */
	assert_null(json_object_get(bf_frame(f, 6), "cancelled"));
	/* r1 is over: cancelling it again is an unknown id */
	bf_cancel_req(f, c, "r1");
	bf_assert_error(f, 7, 0, "r1", "unknown_id");
}

static void
test_broker_cancel_of_a_request_still_waiting_for_workers(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);
	bf_stats_t st;

	bf_submit(f, c, "r1", "sum", "[1,2,3]");
	bf_cancel_req(f, c, "r1");
	assert_int_equal(f->n_frames, 2);
	bf_assert_done(f, 1, 0, "r1", 0, 0);
	assert_int_equal(bf_fint(f, 1, "cancelled"), 3);
	assert_int_equal(f->n_cancels, 0);
	st = bf_stats(f);
	assert_int_equal(st.queued, 0);
	assert_int_equal(st.requests, 0);
	assert_int_equal(st.cancelled, 3);
	/* nothing is left for a worker to take */
	bf_ready(f, "w1", 4);
	assert_int_equal(f->n_jobs, 0);
}

static void
test_broker_cancel_of_an_unknown_id_is_refused_with_unknown_id(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);
	gw_client_t *other = bf_client(f, 1);

	bf_ready(f, "w1", 1);
	bf_submit(f, other, "r1", "sum", "[1,2]");
	bf_cancel_req(f, c, "nope");
	bf_assert_error(f, 1, 0, "nope", "unknown_id");
	assert_null(json_object_get(bf_frame(f, 1), "seq"));
	/* ids are per connection: another client's r1 is not c's */
	bf_cancel_req(f, c, "r1");
	bf_assert_error(f, 2, 0, "r1", "unknown_id");
	assert_int_equal(f->n_frames, 3);
	assert_int_equal(f->n_cancels, 0);
	assert_int_equal(bf_stats(f).requests, 1);
	assert_int_equal(bf_stats(f).queued, 1);
	assert_int_equal(bf_stats(f).cancelled, 0);
	bf_answer_all(f, 0);
	bf_assert_done(f, 5, 1, "r1", 2, 0);
}

static void
test_broker_client_destroy_mid_request_sends_cancel_for_each_running_job(
    void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);
	gw_client_t *c2 = bf_client(f, 1);
	bf_stats_t st;

	bf_ready(f, "w1", 2);
	bf_ready(f, "w2", 1);
	bf_submit(f, c, "r1", "sum", "[1,2,3,4,5]");
	bf_submit(f, c, "r2", "sum", "[6]");
	assert_int_equal(f->n_jobs, 3);
	assert_int_equal(bf_stats(f).queued, 3);
	bf_submit(f, c2, "r1", "sum", "[7]"); /* waits for credit */
	gw_broker_client_destroy(f->b, &c);
	f->gone_user = &f->users[0];
	/* one CANCEL per running job, to the worker that holds it */
	assert_int_equal(f->n_cancels, 3);
	for (size_t i = 0; i < 3; i++)
		bf_assert_cancel_sent(f, f->jobs[i].job, f->jobs[i].rid);
	st = bf_stats(f);
	assert_int_equal(st.cancelled, 6);
	assert_int_equal(st.queued, 1); /* c2's */
	assert_int_equal(st.running, 3);
	/* their answers are dropped; the credit goes to c2 */
	for (size_t i = 0; i < 3; i++)
		bf_result_err(f, f->jobs[i].rid, f->jobs[i].job, "cancelled",
		    "job cancelled");
	assert_int_equal(bf_stats(f).stale, 3);
	assert_int_equal(f->n_to_gone, 0);
	assert_int_equal(f->n_jobs, 4);
	assert_string_equal(f->jobs[3].item, "7");
	bf_answer_all(f, 3);
	bf_assert_done(f, f->n_frames - 1, 1, "r1", 1, 0);
}

static void
test_broker_timeout_ends_every_unfinished_item_as_a_timeout_error(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);
	bf_stats_t st;
	int64_t t_before, t_after;
	int seen[4] = { 0 };

	bf_ready(f, "w1", 2);
	t_before = sl_clock_mono_us();
	bf_submit_timeout(f, c, "r1", "[1,2,3,4]", 50);
	t_after = sl_clock_mono_us();
	bf_submit(f, c, "r2", "sum", "[9]"); /* no timeout */
	bf_result(f, "w1", f->jobs[0].job, "1");
	/* items 2 and 3 run on w1; items 4 and r2's 9 wait */
	assert_int_equal(f->n_jobs, 3);
	assert_int_equal(f->n_frames, 3);
	/* before the deadline: nothing happens */
	bf_tick(f, t_before + 40000);
	assert_int_equal(f->n_frames, 3);
	assert_int_equal(f->n_cancels, 0);
	assert_int_equal(bf_stats(f).timeouts, 0);
	/* past it: each unfinished item, queued or running, ends once */
	bf_tick(f, t_after + 50000);
	assert_int_equal(f->n_frames, 3 + 3 + 1);
	for (size_t i = 3; i < 6; i++) {
		json_int_t seq;

		bf_assert_error(f, i, 0, "r1", "timeout");
		seq = bf_fint(f, i, "seq");
		assert_true(seq >= 1 && seq <= 3);
		seen[seq]++;
	}
	assert_int_equal(seen[1], 1);
	assert_int_equal(seen[2], 1);
	assert_int_equal(seen[3], 1);
	bf_assert_done(f, 6, 0, "r1", 1, 3);
	assert_null(json_object_get(bf_frame(f, 6), "cancelled"));
	/* the running ones are cancelled on w1 */
	assert_int_equal(f->n_cancels, 2);
	bf_assert_cancel_sent(f, f->jobs[1].job, "w1");
	bf_assert_cancel_sent(f, f->jobs[2].job, "w1");
	st = bf_stats(f);
	assert_int_equal(st.timeouts, 3);
	assert_int_equal(st.requests, 1); /* r2 */
	assert_int_equal(st.queued, 1);
	/* late answers are dropped and give the credit to r2 */
	bf_result(f, "w1", f->jobs[1].job, "2");
	assert_int_equal(bf_stats(f).stale, 1);
	assert_int_equal(f->n_frames, 7);
	assert_int_equal(f->n_jobs, 4);
	bf_assert_job(f, 3, "w1", "9");
	/* r2 has no deadline: a tick a day later leaves it alone */
	bf_tick(f, t_after + 86400000000LL);
	assert_int_equal(f->n_frames, 7);
	bf_result(f, "w1", f->jobs[3].job, "9");
	bf_assert_result(f, 7, 0, "r2", 0, "9");
	bf_assert_done(f, 8, 0, "r2", 1, 0);
}

static void
test_broker_timeout_of_a_request_no_worker_took(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);
	int64_t t_after;

	bf_submit_timeout(f, c, "r1", "[1,2]", 1000);
	t_after = sl_clock_mono_us();
	bf_tick(f, t_after + 1000000);
	assert_int_equal(f->n_frames, 4);
	bf_assert_item_error(f, 1, 0, "r1", 0, "timeout");
	bf_assert_item_error(f, 2, 0, "r1", 1, "timeout");
	bf_assert_done(f, 3, 0, "r1", 0, 2);
	assert_int_equal(f->n_cancels, 0);
	assert_int_equal(bf_stats(f).queued, 0);
	assert_int_equal(bf_stats(f).requests, 0);
	assert_int_equal(bf_stats(f).timeouts, 2);
}

static void
test_broker_finished_request_is_not_timed_out_later(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);
	int64_t t_after;

	bf_ready(f, "w1", 1);
	bf_submit_timeout(f, c, "r1", "[1]", 50);
	t_after = sl_clock_mono_us();
	bf_answer_all(f, 0);
	assert_int_equal(f->n_frames, 3);
	bf_tick(f, t_after + 60000);
	assert_int_equal(f->n_frames, 3);
	assert_int_equal(bf_stats(f).timeouts, 0);
}

static void
test_broker_paused_client_jobs_wait_while_others_run(void **state)
{
	fake_t *f = *state;
	gw_client_t *a = bf_client(f, 0);
	gw_client_t *b = bf_client(f, 1);

	gw_broker_client_pause(f->b, a, true);
	bf_submit(f, a, "ra", "sum", "[1,2]");
	bf_assert_frame(f, 0, 0, "accepted", "ra");
	bf_submit(f, b, "rb", "sum", "[3]");
	bf_ready(f, "w1", 4);
	assert_int_equal(f->n_jobs, 1);
	bf_assert_job(f, 0, "w1", "3");
	assert_int_equal(bf_stats(f).queued, 2);
	gw_broker_client_pause(f->b, a, true); /* again: no change */
	bf_answer_all(f, 0);
	bf_assert_done(f, 3, 1, "rb", 1, 0);
	assert_int_equal(f->n_jobs, 1); /* free credit, still nothing of a's */
	gw_broker_client_pause(f->b, a, false);
	assert_int_equal(f->n_jobs, 3);
	bf_assert_job(f, 1, "w1", "1");
	bf_assert_job(f, 2, "w1", "2");
	assert_int_equal(bf_stats(f).queued, 0);
	/* paused again: results of running jobs still arrive */
	gw_broker_client_pause(f->b, a, true);
	bf_answer_all(f, 1);
	bf_assert_result(f, 4, 0, "ra", 0, "1");
	bf_assert_result(f, 5, 0, "ra", 1, "2");
	bf_assert_done(f, 6, 0, "ra", 2, 0);
}

static void
test_broker_drain_refuses_new_submits_and_finishes_running_ones(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);

	bf_ready(f, "w1", 1);
	bf_submit(f, c, "r1", "sum", "[1,2]");
	gw_broker_drain(f->b);
	bf_submit(f, c, "r2", "sum", "[3]");
	bf_assert_error(f, 1, 0, "r2", "shutting_down");
	assert_int_equal(bf_stats(f).requests, 1);
	/* pings are still answered */
	bf_send_text(f, c, "{\"type\":\"ping\"}");
	bf_assert_frame(f, 2, 0, "pong", NULL);
	bf_answer_all(f, 0);
	assert_int_equal(f->n_jobs, 2);
	bf_assert_result(f, 3, 0, "r1", 0, "1");
	bf_assert_result(f, 4, 0, "r1", 1, "2");
	bf_assert_done(f, 5, 0, "r1", 2, 0);
	assert_int_equal(bf_stats(f).requests, 0);
}

static void
test_broker_can_progress_only_while_a_worker_can_end_a_request(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);

	assert_false(gw_broker_can_progress(f->b)); /* nothing to finish */
	bf_submit(f, c, "r1", "sum", "[1,2]");
	assert_false(gw_broker_can_progress(f->b)); /* no worker at all */
	{
		const char *tasks[] = { "echo" };

		bf_ready_tasks(f, "w0", 1, tasks, 1); /* not r1's task */
	}
	assert_false(gw_broker_can_progress(f->b));
	bf_ready(f, "w1", 1);
	assert_int_equal(f->n_jobs, 1);
	assert_true(
	    gw_broker_can_progress(f->b)); /* one running, one queued */
	bf_worker_empty(f, "w1", SL_MSG_DRAIN);
	assert_true(gw_broker_can_progress(f->b)); /* its job may still end */
	bf_answer_all(f, 0);
	/* item 1 waits, and the only worker for it is draining */
	assert_int_equal(bf_stats(f).queued, 1);
	assert_false(gw_broker_can_progress(f->b));
	bf_ready(f, "w2", 1);
	assert_true(gw_broker_can_progress(f->b));
	bf_answer_all(f, 1);
	assert_int_equal(bf_stats(f).requests, 0);
	assert_false(gw_broker_can_progress(f->b));
}

static void
test_broker_ping_reports_running_jobs(void **state)
{
	fake_t *f = *state;
	gw_client_t *c = bf_client(f, 0);

	bf_ready(f, "w1", 2);
	bf_submit(f, c, "r1", "sum", "[1,2,3]");
	bf_send_text(f, c, "{\"type\":\"ping\"}");
	bf_assert_frame(f, 1, 0, "pong", NULL);
	assert_int_equal(bf_fint(f, 1, "workers"), 1);
	assert_int_equal(bf_fint(f, 1, "running"), 2);
	assert_int_equal(bf_fint(f, 1, "queued"), 1);
	bf_result(f, "w1", f->jobs[0].job, "1");
	bf_send_text(f, c, "{\"type\":\"ping\"}");
	bf_assert_frame(f, 3, 0, "pong", NULL);
	assert_int_equal(bf_fint(f, 3, "running"), 2);
	assert_int_equal(bf_fint(f, 3, "queued"), 0);
	bf_answer_all(f, 1);
	bf_send_text(f, c, "{\"type\":\"ping\"}");
	assert_int_equal(bf_fint(f, f->n_frames - 1, "running"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_broker_client_destroy_drops_queued_jobs_and_late_results,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_destroy_with_everything_live_frees_everything,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_ping_reports_workers_and_queue_and_echoes_data,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_client_error_is_answered_with_an_error_frame,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_cancel_drops_queued_jobs_cancels_running_ones_and_sends_done,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_cancel_of_a_request_still_waiting_for_workers,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_cancel_of_an_unknown_id_is_refused_with_unknown_id,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_client_destroy_mid_request_sends_cancel_for_each_running_job,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_timeout_ends_every_unfinished_item_as_a_timeout_error,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_timeout_of_a_request_no_worker_took, bf_setup,
		    bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_finished_request_is_not_timed_out_later,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_paused_client_jobs_wait_while_others_run,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_drain_refuses_new_submits_and_finishes_running_ones,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_can_progress_only_while_a_worker_can_end_a_request,
		    bf_setup, bf_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broker_ping_reports_running_jobs, bf_setup,
		    bf_teardown),
	};

	/* Every log line is formatted (DEBUG), so its arguments are checked
	 * under the sanitizers too; ctest keeps the output. */
	sl_log_setup("test", SL_LOG_DEBUG);
	return cmocka_run_group_tests_name(
	    "broker_requests", tests, NULL, NULL);
}
